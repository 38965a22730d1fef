#include "tessel/runtime/backend.h"

#include "tessel/runtime/large_buffer.h"
#include "tessel/runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>

namespace tessel {

std::vector<KernelCandidate> BackendDescriptor::candidates(const Primitive& p,
                                                           const std::vector<TensorDesc>&) const {
  // Named by the primitive's kind: a conv2d and a raster are different kernels, and a kernel's
  // fitted line (ProfileCache::fits) must not carry from one to the other.
  return {KernelCandidate{KernelChoice{},
                          std::string(name()) + "_" + std::string(primitiveName(p.kind()))}};
}

KernelChoice BackendDescriptor::firstChoice(const Primitive& p,
                                            const std::vector<TensorDesc>& tensors) const {
  std::vector<KernelCandidate> all = candidates(p, tensors);
  return all.empty() ? KernelChoice{} : std::move(all.front().choice);
}

double primitiveBytes(const Primitive& p, const std::vector<TensorDesc>& tensors) {
  double bytes = static_cast<double>(tensors[p.outputs[0]].byteSize());
  for (int32_t id : p.inputs)
    bytes += static_cast<double>(tensors[id].byteSize());
  return bytes;
}

double BackendDescriptor::estimateSeconds(const Primitive& p,
                                          const std::vector<TensorDesc>& tensors,
                                          const KernelChoice&, int) const {
  // Bytes at 10 GB/s or arithmetic at a plain scalar loop's 1 GFLOP/s, whichever takes longer:
  // a neutral default that backends override with their own roofline.
  return std::max(primitiveBytes(p, tensors) / 10e9, primitiveFlops(p, tensors) / 1e9);
}

std::optional<KernelCandidate>
BackendDescriptor::chainCandidate(std::span<const Primitive* const>,
                                  const std::vector<TensorDesc>&) const {
  return std::nullopt;
}

double BackendDescriptor::estimateChainSeconds(std::span<const Primitive* const>,
                                               const std::vector<TensorDesc>&, int) const {
  return std::numeric_limits<double>::infinity();
}

std::string BackendDescriptor::deviceSignature() const {
  // The CPU model line of /proc/cpuinfo (Linux), read once.
  static const std::string model = [] {
    std::string found;
    if (FILE* f = std::fopen("/proc/cpuinfo", "r")) {
      char line[512];
      while (found.empty() && std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "model name", 10) == 0)
          if (const char* colon = std::strchr(line, ':')) {
            found = colon + 1;
            while (!found.empty() && (found.back() == '\n' || found.back() == ' '))
              found.pop_back();
            while (!found.empty() && found.front() == ' ')
              found.erase(found.begin());
          }
      std::fclose(f);
    }
    return found;
  }();
  return model;
}

Result<std::unique_ptr<PreparedKernel>> Backend::prepareChain(std::span<const PrepareArgs>,
                                                              Device&) const {
  return std::unique_ptr<PreparedKernel>();
}

void BackendRegistry::add(std::unique_ptr<Backend> backend) {
  backends_.push_back(std::move(backend));
}

Backend* BackendRegistry::find(std::string_view name) const {
  for (const auto& b : backends_)
    if (b->name() == name) return b.get();
  return nullptr;
}

void BackendRegistry::addTarget(std::unique_ptr<BackendDescriptor> descriptor) {
  if (descriptor && !descriptor->target().empty()) targets_.push_back(std::move(descriptor));
}

std::vector<const BackendDescriptor*> BackendRegistry::target(std::string_view name) const {
  std::vector<const BackendDescriptor*> out;
  for (const auto& d : targets_)
    if (d->target() == name) out.push_back(d.get());
  return out;
}

std::vector<std::string> BackendRegistry::targetNames() const {
  std::vector<std::string> out;
  for (const auto& d : targets_)
    if (std::find(out.begin(), out.end(), d->target()) == out.end()) out.emplace_back(d->target());
  return out;
}

void BackendRegistry::addUnavailable(std::string name, std::string why) {
  unavailable_.emplace_back(std::move(name), std::move(why));
}

const std::string* BackendRegistry::unavailable(std::string_view name) const {
  for (const auto& [n, why] : unavailable_)
    if (n == name) return &why;
  return nullptr;
}

Status BackendRegistry::missing(std::string_view name) const {
  if (const std::string* why = unavailable(name))
    return unsupported("backend '" + std::string(name) + "' is not available here: " + *why);
  return invalidArgument("no backend named '" + std::string(name) + "'");
}

std::vector<const BackendDescriptor*> BackendRegistry::descriptors() const {
  std::vector<const BackendDescriptor*> out;
  for (const auto& b : backends_)
    out.push_back(&b->descriptor());
  return out;
}

namespace {

class HostStream final : public Stream {
public:
  Status wait() override { return Status::ok(); }
};

class HostDevice final : public Device {
public:
  std::string_view memorySpace() const override { return kHostSpace; }
  ThreadPool* threadPool() override { return &pool_; }
  Result<BufferRef> allocate(int64_t bytes) override {
    // 64-byte aligned (a cache line, an AVX-512 register); never null, even for 0 bytes. Large
    // arenas on huge pages (large_buffer.h): a session's first run faulted its arena in 4 KiB
    // pages. The size rides in the 64 bytes before the buffer.
    const size_t size = (static_cast<size_t>(std::max<int64_t>(bytes, 1)) + 63) / 64 * 64 + 64;
    auto* base = static_cast<uint8_t*>(allocateLarge(size));
    if (!base)
      return invalidArgument("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
    std::memcpy(base, &size, sizeof size);
    return BufferRef{base + 64, 0};
  }
  void release(BufferRef buffer) override {
    if (!buffer.handle) return;
    uint8_t* base = static_cast<uint8_t*>(buffer.handle) - 64;
    size_t size = 0;
    std::memcpy(&size, base, sizeof size);
    freeLarge(base, size);
  }
  Result<std::unique_ptr<Stream>> createStream() override {
    return std::unique_ptr<Stream>(std::make_unique<HostStream>());
  }
  Status upload(Stream&, const BufferRef& dst, const void* src, int64_t bytes) override {
    if (bytes) std::memcpy(dst.hostPointer(), src, static_cast<size_t>(bytes));
    return Status::ok();
  }
  Status download(Stream&, void* dst, const BufferRef& src, int64_t bytes) override {
    if (bytes) std::memcpy(dst, src.hostPointer(), static_cast<size_t>(bytes));
    return Status::ok();
  }

private:
  ThreadPool pool_;
};

} // namespace

std::shared_ptr<Device> hostDevice() {
  static std::shared_ptr<Device> device = std::make_shared<HostDevice>();
  return device;
}

Status runPrimitiveOnHost(Backend& backend, const Primitive& p,
                          const std::vector<TensorDesc>& tensors,
                          std::span<const void* const> inputs, void* output,
                          const HostRunOptions& options) {
  if (backend.descriptor().memorySpace() != kHostSpace)
    return invalidArgument("backend '" + std::string(backend.name()) + "' is not a host backend");
  if (inputs.size() != p.inputs.size()) return invalidArgument("input count mismatch");
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, backend.device());
  PrepareArgs args;
  args.primitive = &p;
  args.tensors = &tensors;
  args.choice = options.choice;
  args.threads = std::max(options.threads, 1);
  std::vector<const void*> constants;
  for (size_t i = 0; i < inputs.size(); ++i)
    constants.push_back(i < 64 && (options.constantMask >> i & 1) ? inputs[i] : nullptr);
  args.constants = constants;
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<PreparedKernel> kernel, backend.prepare(args, *device));
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, device->createStream());
  std::vector<TensorArg> in;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back({&tensors[p.inputs[i]], {const_cast<void*>(inputs[i]), 0}});
  ExecContext ctx;
  ctx.device = device.get();
  ctx.stream = stream.get();
  ctx.pool = device->threadPool();
  ctx.threads = std::max(options.threads, 1);
  ctx.workspaceBytes = kernel->workspaceBytes(ctx.threads);
  BufferRef workspace;
  if (ctx.workspaceBytes > 0) {
    TESSEL_ASSIGN_OR_RETURN(workspace, device->allocate(ctx.workspaceBytes));
    ctx.workspace = workspace;
  }
  Status s = Status::ok();
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < std::max(options.runs, 1) && s.isOk(); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    s = kernel->run(ctx, in, {&tensors[p.outputs[0]], {output, 0}});
    if (s.isOk()) s = stream->wait();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (workspace.handle) device->release(workspace);
  TESSEL_RETURN_IF_ERROR(s);
  if (options.bestSeconds) *options.bestSeconds = best;
  return Status::ok();
}

} // namespace tessel
