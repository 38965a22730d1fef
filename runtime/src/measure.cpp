#include "tessel/runtime/measure.h"

#include "tessel/runtime/profile_cache.h"
#include "tessel/runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <unistd.h>

namespace tessel {
namespace {

// Host bytes for a non-constant input: floats in [-1, 1) from a fixed sequence, else zeros.
std::vector<uint8_t> filler(const TensorDesc& d) {
  std::vector<uint8_t> bytes(static_cast<size_t>(d.byteSize()), 0);
  if (d.dtype == DType::F32) {
    uint32_t state = 12345;
    for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
      state = state * 1664525u + 1013904223u;
      const float v = static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
      std::memcpy(&bytes[i], &v, 4);
    }
  }
  return bytes;
}

// Evicts the caches of a kernel's constants (weights, and what it packed from them) before a
// timed run: a session's step finds its weights as a whole run left them, mostly out of cache
// (resnet18's last 3x3 convolutions as Winograd: 0.37 ms a layer with its transformed weights
// hot, 0.95 ms in a session). Streams over a buffer several times the constants' bytes.
void evictConstants(int64_t constantBytes) {
  constexpr int64_t kMaxFlush = int64_t{64} << 20;
  static std::vector<uint8_t> flush;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const auto want = static_cast<size_t>(std::min(kMaxFlush, 8 * constantBytes));
  if (flush.size() < want) flush.resize(want);
  for (size_t i = 0; i < want; i += 64)
    flush[i] = static_cast<uint8_t>(flush[i] + 1);
}

// Times a prepared kernel: its inputs (descriptions, and the bytes of the constant ones, null
// for the others) and output in the device's space, at `threads` threads, the best of `runs`.
Result<double> timeKernel(Device& device, const PreparedKernel& kernel,
                          const std::vector<const TensorDesc*>& inputs,
                          std::span<const void* const> constants, const TensorDesc& out,
                          int threads, int runs) {
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, device.createStream());
  // Every buffer this measurement allocates, released on every path out.
  struct Buffers {
    Device& device;
    std::vector<BufferRef> held;
    ~Buffers() {
      for (const BufferRef& b : held)
        device.release(b);
    }
    Result<BufferRef> make(int64_t bytes) {
      TESSEL_ASSIGN_OR_RETURN(BufferRef b, device.allocate(std::max<int64_t>(bytes, 64)));
      held.push_back(b);
      return b;
    }
  } buffers{device, {}};
  // Copies of the inputs that are not constant and of the output, used in turn, so that each
  // run finds them out of the private caches as a session's step mostly does (its inputs made
  // steps ago, its output in arena memory last touched a run ago): at least kColdBytes in all,
  // at most kMaxCopies copies.
  constexpr int64_t kColdBytes = int64_t{4} << 20;
  constexpr int kMaxCopies = 8;
  int64_t varying = out.byteSize(), constantBytes = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    (constants[i] ? constantBytes : varying) += inputs[i]->byteSize();
  const int copies = static_cast<int>(
      std::clamp<int64_t>(kColdBytes / std::max<int64_t>(varying, 1), 1, kMaxCopies));
  std::vector<std::vector<TensorArg>> in(static_cast<size_t>(copies));
  std::vector<BufferRef> y;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorDesc& d = *inputs[i];
    const std::vector<uint8_t> bytes = constants[i] ? std::vector<uint8_t>() : filler(d);
    for (int c = 0; c < copies; ++c) {
      if (constants[i] && c > 0) { // one copy of a constant, as in a session
        in[static_cast<size_t>(c)].push_back(in[0].back());
        continue;
      }
      TESSEL_ASSIGN_OR_RETURN(BufferRef b, buffers.make(d.byteSize()));
      TESSEL_RETURN_IF_ERROR(
          device.upload(*stream, b, constants[i] ? constants[i] : bytes.data(), d.byteSize()));
      in[static_cast<size_t>(c)].push_back({&d, b});
    }
    TESSEL_RETURN_IF_ERROR(stream->wait()); // the filler goes out of scope
  }
  for (int c = 0; c < copies; ++c) {
    TESSEL_ASSIGN_OR_RETURN(BufferRef b, buffers.make(out.byteSize()));
    y.push_back(b);
  }
  ExecContext ctx;
  ctx.device = &device;
  ctx.stream = stream.get();
  ctx.pool = device.threadPool();
  ctx.threads = std::max(threads, 1);
  ctx.workspaceBytes = kernel.workspaceBytes(ctx.threads);
  if (ctx.workspaceBytes > 0) {
    TESSEL_ASSIGN_OR_RETURN(ctx.workspace, buffers.make(ctx.workspaceBytes));
  }
  TESSEL_RETURN_IF_ERROR(stream->wait());
  double best = std::numeric_limits<double>::infinity();
  runs = std::max(runs, 1);
  const bool evict = constantBytes >= (int64_t{1} << 20) && device.memorySpace() == kHostSpace;
  for (int run = 0; run <= runs; ++run) { // run 0 warms
    const auto c = static_cast<size_t>(run % copies);
    if (evict) evictConstants(constantBytes);
    const auto t0 = std::chrono::steady_clock::now();
    TESSEL_RETURN_IF_ERROR(kernel.run(ctx, in[c], {&out, y[c]}));
    TESSEL_RETURN_IF_ERROR(stream->wait());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (run > 0) best = std::min(best, s);
    // A slow kernel gets fewer runs (at least two): what `runs` would take past 50 ms.
    if (run == 0 && s * runs > 0.05) runs = std::clamp(static_cast<int>(0.05 / s), 2, runs);
  }
  return best;
}

} // namespace

Result<double> measurePrimitive(Backend& backend, const MeasureRequest& r) {
  const Primitive& p = *r.primitive;
  const std::vector<TensorDesc>& t = *r.tensors;
  if (r.constants.size() != p.inputs.size())
    return invalidArgument("measure: one constant entry per input");
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, backend.device());
  PrepareArgs args;
  args.primitive = &p;
  args.tensors = &t;
  args.constants = r.constants;
  args.choice = r.choice;
  args.threads = std::max(r.threads, 1);
  args.precision = r.precision;
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<PreparedKernel> kernel, backend.prepare(args, *device));
  std::vector<const TensorDesc*> inputs;
  for (int32_t id : p.inputs)
    inputs.push_back(&t[static_cast<size_t>(id)]);
  return timeKernel(*device, *kernel, inputs, r.constants, t[static_cast<size_t>(p.outputs[0])],
                    r.threads, r.runs);
}

Result<double> measureChain(Backend& backend, const ChainMeasureRequest& r) {
  const std::vector<TensorDesc>& t = *r.tensors;
  if (r.primitives.size() < 2 || r.constants.size() != r.primitives.size())
    return invalidArgument("measure: a chain of at least two primitives, constants for each");
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, backend.device());
  std::vector<PrepareArgs> args(r.primitives.size());
  std::vector<const TensorDesc*> inputs;
  std::vector<const void*> constants;
  for (size_t j = 0; j < r.primitives.size(); ++j) {
    const Primitive& p = r.primitives[j];
    if (r.constants[j].size() != p.inputs.size())
      return invalidArgument("measure: one constant entry per input");
    args[j].primitive = &p;
    args[j].tensors = &t;
    args[j].constants = r.constants[j];
    args[j].threads = std::max(r.threads, 1);
    args[j].precision = r.precision;
    for (size_t k = j > 0 ? 1 : 0; k < p.inputs.size(); ++k) {
      inputs.push_back(&t[static_cast<size_t>(p.inputs[k])]);
      constants.push_back(r.constants[j][k]);
    }
  }
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<PreparedKernel> kernel,
                          backend.prepareChain(args, *device));
  if (!kernel) return unsupported("measure: the backend has no kernel for this chain");
  return timeKernel(*device, *kernel, inputs, constants,
                    t[static_cast<size_t>(r.primitives.back().outputs[0])], r.threads, r.runs);
}

Result<ProfileCache::Transfer> measureTransfer(Backend& backend) {
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, backend.device());
  if (device->memorySpace() == kHostSpace)
    return invalidArgument("measure: " + std::string(backend.descriptor().name()) +
                           " runs on the host: it makes no copies");
  constexpr int64_t kSmall = 4096, kLarge = int64_t{16} << 20;
  const std::vector<uint8_t> source(static_cast<size_t>(kLarge), 1);
  TESSEL_ASSIGN_OR_RETURN(BufferRef target, device->allocate(kLarge));
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, device->createStream());
  // One upload of `bytes`, waited for: its seconds.
  const auto upload = [&](int64_t bytes) -> Result<double> {
    const auto t0 = std::chrono::steady_clock::now();
    TESSEL_RETURN_IF_ERROR(device->upload(*stream, target, source.data(), bytes));
    TESSEL_RETURN_IF_ERROR(stream->wait());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  ProfileCache::Transfer t{std::numeric_limits<double>::infinity(), 0};
  double large = std::numeric_limits<double>::infinity();
  Status status = Status::ok();
  for (int r = 0; r < 21 && status.isOk(); ++r) { // the first warms (pages, driver)
    Result<double> s = upload(kSmall);
    if (!s.isOk())
      status = s.status();
    else if (r > 0)
      t.latencySeconds = std::min(t.latencySeconds, *s);
  }
  for (int r = 0; r < 4 && status.isOk(); ++r) {
    Result<double> s = upload(kLarge);
    if (!s.isOk())
      status = s.status();
    else if (r > 0)
      large = std::min(large, *s);
  }
  device->release(target);
  TESSEL_RETURN_IF_ERROR(status);
  // The bytes a second past the fixed time (at least the whole copy's rate).
  t.bytesPerSecond = kLarge / std::max(large - t.latencySeconds, large / 2);
  return t;
}

Result<double> measureReadRate(Backend& backend, int threads) {
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, backend.device());
  if (device->memorySpace() != kHostSpace || !device->threadPool())
    return invalidArgument("measure: " + std::string(backend.descriptor().name()) +
                           " runs on a device: the host cannot time its memory's reads");
  threads = std::max(threads, 1);
  // As many bytes as the measurements' eviction streams (evictConstants): what a kernel's
  // weights past the caches are read from when it is timed.
  constexpr int64_t kWords = (int64_t{64} << 20) / 8;
  constexpr int64_t kChunks = 256;
  std::vector<uint64_t> buffer(static_cast<size_t>(kWords), 1);
  std::vector<uint64_t> sums(static_cast<size_t>(kChunks), 0);
  const auto read = [&](int64_t chunk, int) {
    const uint64_t* p = buffer.data() + chunk * (kWords / kChunks);
    uint64_t a = 0, b = 0, c = 0, d = 0; // four chains: the loads, not the adds, bound it
    for (int64_t i = 0; i < kWords / kChunks; i += 4)
      a += p[i], b += p[i + 1], c += p[i + 2], d += p[i + 3];
    sums[static_cast<size_t>(chunk)] = a + b + c + d;
  };
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < 4; ++r) { // the first warms (the workers, the TLB)
    const auto t0 = std::chrono::steady_clock::now();
    device->threadPool()->parallelFor(kChunks, threads, read);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
  }
  uint64_t total = 0; // every word is 1: a check that each chunk was read whole
  for (uint64_t v : sums)
    total += v;
  if (total != static_cast<uint64_t>(kWords) || !(best > 0))
    return internalError("measure: the read of " + std::to_string(kWords * 8) +
                         " bytes went wrong");
  return static_cast<double>(kWords * 8) / best;
}

Result<DeviceProfile> profileDevice(Backend& backend) {
  const BackendDescriptor& d = backend.descriptor();
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, backend.device());
  DeviceProfile p;
  p.backend = std::string(d.name());
  p.device = d.deviceSignature();
  p.key = deviceKey(d);
  p.target = std::string(d.target());
  p.space = std::string(device->memorySpace());
  p.peakFlops = d.measuredPeakFlops();
  const bool host = device->memorySpace() == kHostSpace;
  if (host) {
    p.threads = defaultThreadCount();
    p.l1dBytes = std::max<long>(sysconf(_SC_LEVEL1_DCACHE_SIZE), 0);
    p.l2Bytes = std::max<long>(sysconf(_SC_LEVEL2_CACHE_SIZE), 0);
    p.l3Bytes = std::max<long>(sysconf(_SC_LEVEL3_CACHE_SIZE), 0);
  }
  constexpr int64_t kBytes = int64_t{64} << 20;
  std::vector<uint8_t> source(static_cast<size_t>(kBytes), 1);
  TESSEL_ASSIGN_OR_RETURN(BufferRef target, device->allocate(kBytes));
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, device->createStream());
  Status status = Status::ok();
  for (int r = 0; r < 4 && status.isOk(); ++r) { // the first warms (pages, driver)
    const auto t0 = std::chrono::steady_clock::now();
    if (host) {
      std::memcpy(target.hostPointer(), source.data(), source.size());
    } else {
      status = device->upload(*stream, target, source.data(), kBytes);
      if (status.isOk()) status = stream->wait();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0 && s > 0) p.bytesPerSecond = std::max(p.bytesPerSecond, kBytes / s);
  }
  device->release(target);
  TESSEL_RETURN_IF_ERROR(status);
  if (host) {
    TESSEL_ASSIGN_OR_RETURN(p.readBytesPerSecond, measureReadRate(backend, p.threads));
  }
  return p;
}

} // namespace tessel
