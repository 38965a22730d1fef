#include "tessel/runtime/measure.h"

#include "tessel/runtime/profile_cache.h"
#include "tessel/runtime/thread_pool.h"
#include "timing_input.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <unistd.h>

namespace tessel {

std::vector<uint8_t> detail::timingInput(const TensorDesc& d) {
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

namespace {

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

// One prepared kernel set up for timing: its inputs (descriptions, and the bytes of the constant
// ones, null for the others) and output in the device's space, at `threads` threads. run()
// times one run; the first warms, and sets how many timed runs the kernel gets (`runs`, fewer
// for a slow kernel).
class KernelTimer {
public:
  static Result<std::unique_ptr<KernelTimer>> make(std::shared_ptr<Device> device,
                                                   std::unique_ptr<PreparedKernel> kernel,
                                                   const std::vector<const TensorDesc*>& inputs,
                                                   std::span<const void* const> constants,
                                                   const TensorDesc& out, int threads, int runs) {
    std::unique_ptr<KernelTimer> t(new KernelTimer(std::move(device), std::move(kernel), out));
    TESSEL_RETURN_IF_ERROR(t->setUp(inputs, constants, threads));
    t->runs_ = std::max(runs, 1);
    return t;
  }
  ~KernelTimer() {
    for (const BufferRef& b : held_)
      device_->release(b);
  }
  // One run, waited on: its seconds. The first (the warm one) also bounds the timed runs: what
  // `runs` would take past 50 ms is cut (at least two remain).
  Result<double> run() {
    const auto c = static_cast<size_t>(done_ % static_cast<int>(in_.size()));
    if (evict_) evictConstants(constantBytes_);
    const auto t0 = std::chrono::steady_clock::now();
    TESSEL_RETURN_IF_ERROR(kernel_->run(ctx_, in_[c], {&out_, y_[c]}));
    TESSEL_RETURN_IF_ERROR(stream_->wait());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (done_++ == 0 && s * runs_ > 0.05) runs_ = std::clamp(static_cast<int>(0.05 / s), 2, runs_);
    return s;
  }
  int runs() const { return runs_; }
  int64_t bytes() const { return bytes_; } // what it allocated

private:
  KernelTimer(std::shared_ptr<Device> device, std::unique_ptr<PreparedKernel> kernel,
              const TensorDesc& out)
      : device_(std::move(device)), kernel_(std::move(kernel)), out_(out) {}
  Result<BufferRef> make(int64_t bytes) {
    TESSEL_ASSIGN_OR_RETURN(BufferRef b, device_->allocate(std::max<int64_t>(bytes, 64)));
    held_.push_back(b);
    bytes_ += bytes;
    return b;
  }
  Status setUp(const std::vector<const TensorDesc*>& inputs, std::span<const void* const> constants,
               int threads) {
    TESSEL_ASSIGN_OR_RETURN(stream_, device_->createStream());
    // Copies of the inputs that are not constant and of the output, used in turn, so that each
    // run finds them out of the private caches as a session's step mostly does (its inputs made
    // steps ago, its output in arena memory last touched a run ago): at least kColdBytes in
    // all, at most kMaxCopies copies.
    constexpr int64_t kColdBytes = int64_t{4} << 20;
    constexpr int kMaxCopies = 8;
    int64_t varying = out_.byteSize();
    for (size_t i = 0; i < inputs.size(); ++i)
      (constants[i] ? constantBytes_ : varying) += inputs[i]->byteSize();
    const int copies = static_cast<int>(
        std::clamp<int64_t>(kColdBytes / std::max<int64_t>(varying, 1), 1, kMaxCopies));
    in_.resize(static_cast<size_t>(copies));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const TensorDesc& d = *inputs[i];
      const std::vector<uint8_t> bytes =
          constants[i] ? std::vector<uint8_t>() : detail::timingInput(d);
      for (int c = 0; c < copies; ++c) {
        if (constants[i] && c > 0) { // one copy of a constant, as in a session
          in_[static_cast<size_t>(c)].push_back(in_[0].back());
          continue;
        }
        TESSEL_ASSIGN_OR_RETURN(BufferRef b, make(d.byteSize()));
        TESSEL_RETURN_IF_ERROR(
            device_->upload(*stream_, b, constants[i] ? constants[i] : bytes.data(), d.byteSize()));
        in_[static_cast<size_t>(c)].push_back({&d, b});
      }
      TESSEL_RETURN_IF_ERROR(stream_->wait()); // the filler goes out of scope
    }
    for (int c = 0; c < copies; ++c) {
      TESSEL_ASSIGN_OR_RETURN(BufferRef b, make(out_.byteSize()));
      y_.push_back(b);
    }
    ctx_.device = device_.get();
    ctx_.stream = stream_.get();
    ctx_.pool = device_->threadPool();
    ctx_.threads = std::max(threads, 1);
    ctx_.workspaceBytes = kernel_->workspaceBytes(ctx_.threads);
    if (ctx_.workspaceBytes > 0) {
      TESSEL_ASSIGN_OR_RETURN(ctx_.workspace, make(ctx_.workspaceBytes));
    }
    evict_ = constantBytes_ >= (int64_t{1} << 20) && device_->memorySpace() == kHostSpace;
    return stream_->wait();
  }

  std::shared_ptr<Device> device_;
  std::unique_ptr<PreparedKernel> kernel_;
  TensorDesc out_;
  std::unique_ptr<Stream> stream_;
  std::vector<BufferRef> held_;
  std::vector<std::vector<TensorArg>> in_;
  std::vector<BufferRef> y_;
  ExecContext ctx_;
  int64_t constantBytes_ = 0, bytes_ = 0;
  bool evict_ = false;
  int runs_ = 1, done_ = 0;
};

// Timers warmed, then timed run by run in turn (each round starting one further on), so that a
// machine whose speed drifts meets them alike: per timer, the fastest of its runs after the warm
// one, or why one failed.
std::vector<Result<double>> timeInTurn(std::span<KernelTimer* const> timers) {
  std::vector<Result<double>> out(timers.size(), Result<double>(0.0));
  std::vector<double> best(timers.size(), std::numeric_limits<double>::infinity());
  std::vector<bool> failed(timers.size(), false);
  int rounds = 0;
  for (size_t k = 0; k < timers.size(); ++k) {
    auto warm = timers[k]->run();
    if (!warm.isOk()) {
      out[k] = warm.status();
      failed[k] = true;
    }
    rounds = std::max(rounds, timers[k]->runs());
  }
  for (int round = 0; round < rounds; ++round)
    for (size_t j = 0; j < timers.size(); ++j) {
      const size_t k = (j + static_cast<size_t>(round)) % timers.size();
      if (failed[k] || round >= timers[k]->runs()) continue;
      auto s = timers[k]->run();
      if (!s.isOk()) {
        out[k] = s.status();
        failed[k] = true;
        continue;
      }
      best[k] = std::min(best[k], *s);
    }
  for (size_t k = 0; k < timers.size(); ++k)
    if (!failed[k]) out[k] = best[k];
  return out;
}

// One timer alone: its warm run, then its timed runs (timeInTurn).
Result<double> timeAlone(KernelTimer& timer) {
  KernelTimer* one = &timer;
  return std::move(timeInTurn(std::span<KernelTimer* const>(&one, 1))[0]);
}

// The primitive's kernel prepared on `backend` and set up for timing.
Result<std::unique_ptr<KernelTimer>> primitiveTimer(Backend& backend, const MeasureRequest& r) {
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
  return KernelTimer::make(std::move(device), std::move(kernel), inputs, r.constants,
                           t[static_cast<size_t>(p.outputs[0])], r.threads, r.runs);
}

} // namespace

Result<double> measurePrimitive(Backend& backend, const MeasureRequest& r) {
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<KernelTimer> timer, primitiveTimer(backend, r));
  return timeAlone(*timer);
}

std::vector<Result<double>> measurePrimitives(std::span<Backend* const> backends,
                                              std::span<const MeasureRequest> requests) {
  constexpr int64_t kBatchBytes = int64_t{256} << 20;
  std::vector<Result<double>> out(requests.size(), internalError("measure: not measured"));
  for (size_t next = 0; next < requests.size();) {
    // A batch: kernels set up until their buffers pass kBatchBytes (one at the least).
    std::vector<std::pair<size_t, std::unique_ptr<KernelTimer>>> batch;
    int64_t bytes = 0;
    for (; next < requests.size() && (batch.empty() || bytes < kBatchBytes); ++next) {
      if (!backends[next]) {
        out[next] = internalError("measure: no backend");
        continue;
      }
      auto timer = primitiveTimer(*backends[next], requests[next]);
      if (!timer.isOk()) {
        out[next] = timer.status();
        continue;
      }
      bytes += (*timer)->bytes();
      batch.emplace_back(next, std::move(timer).value());
    }
    std::vector<KernelTimer*> timers;
    for (const auto& [request, timer] : batch)
      timers.push_back(timer.get());
    std::vector<Result<double>> times = timeInTurn(timers);
    for (size_t k = 0; k < batch.size(); ++k)
      out[batch[k].first] = std::move(times[k]);
  }
  return out;
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
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<KernelTimer> timer,
                          KernelTimer::make(std::move(device), std::move(kernel), inputs, constants,
                                            t[static_cast<size_t>(r.primitives.back().outputs[0])],
                                            r.threads, r.runs));
  return timeAlone(*timer);
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
