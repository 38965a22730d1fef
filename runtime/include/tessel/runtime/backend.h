// The backend plugin contract (v2). docs/backend-contract.md is the long form.
//
// A backend has two halves:
//  - its descriptor (BackendDescriptor): name, memory space, what it supports, its kernel
//    candidates per primitive and a cost estimate for each. Small and free of kernels: the
//    compiler's planner and the search use it without creating any device;
//  - its executor (Backend): the per-device object (Device: allocator, thread pool, queues) shared
//    by every session in the process, and prepare(), which builds a PreparedKernel per primitive
//    once per model (packed weights, chosen variant) that every session of that model shares.
// Per-session state (arenas per memory space, workspace, streams) belongs to the runtime's
// Session. Nothing in runtime/ names a specific backend.
#pragma once

#include "tessel/core/primitive.h"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessel {

class ThreadPool;

// Memory spaces are named; "host" is ordinary process memory that any host backend reads.
inline constexpr std::string_view kHostSpace = "host";

// A place in one memory space. Host spaces: `handle` is a base pointer. Device spaces: an opaque
// handle of the device's own (a VkBuffer, a cl_mem), which only that device dereferences.
struct BufferRef {
  void* handle = nullptr;
  int64_t offset = 0; // bytes from the handle's start
  void* hostPointer() const { return static_cast<uint8_t*>(handle) + offset; }
};

// A tensor as a kernel sees it: its description and where its bytes are.
struct TensorArg {
  const TensorDesc* desc = nullptr;
  BufferRef buffer;
  template <typename T> const T* hostData() const {
    return static_cast<const T*>(buffer.hostPointer());
  }
  template <typename T> T* mutableHostData() const { return static_cast<T*>(buffer.hostPointer()); }
};

// Which kernel runs a primitive: a backend-defined id and its tunable parameters (tile sizes,
// Winograd tile, ...). Stored per primitive in the artifact's plan; id 0 is the backend's default.
struct KernelChoice {
  uint32_t id = 0;
  std::vector<int64_t> params;
  bool operator==(const KernelChoice&) const = default;
};

struct KernelCandidate {
  KernelChoice choice;
  std::string name; // e.g. "f32_gemm_6x16__avx2_fma"
  // Bit k set: the kernel needs input k constant (its bytes known when it is prepared: packed or
  // transformed weights). The search offers it only where that input is.
  uint32_t constantInputs = 0;
};

// The bytes of a primitive's inputs and output, for the cost models (primitiveFlops, in core,
// counts its arithmetic).
double primitiveBytes(const Primitive& p, const std::vector<TensorDesc>& tensors);

class BackendDescriptor {
public:
  virtual ~BackendDescriptor() = default;
  virtual std::string_view name() const = 0;
  // Where this backend's tensors live; "host" unless it owns device memory.
  virtual std::string_view memorySpace() const { return kHostSpace; }
  // Whether some kernel of this backend computes this primitive exactly (kind, params, dtypes).
  virtual bool supports(const Primitive& p, const std::vector<TensorDesc>& tensors) const = 0;
  // The kernels that could run a supported primitive, best guess first. Default: one, id 0,
  // named "<backend>_<primitive kind>" ("reference_conv2d").
  virtual std::vector<KernelCandidate> candidates(const Primitive& p,
                                                  const std::vector<TensorDesc>& tensors) const;
  // The first candidate's choice, which the planner takes when nothing decides otherwise (once
  // per primitive of every plan, run-time plans included). Default: from candidates(); override
  // where the candidates' names cost more than the choice.
  virtual KernelChoice firstChoice(const Primitive& p,
                                   const std::vector<TensorDesc>& tensors) const;
  // Roofline estimate in seconds for one candidate at `threads` threads; the search weighs
  // backends and kernels with it; infinity for a choice that does not apply to these tensors
  // (their layouts, say). The default counts bytes moved at 10 GB/s.
  virtual double estimateSeconds(const Primitive& p, const std::vector<TensorDesc>& tensors,
                                 const KernelChoice& choice, int threads) const;
  // The bytes a kernel prepared for this candidate keeps for the model's life: its own copies of
  // constant inputs (packed or transformed weights: cpu_x86's Winograd F(4,3) keeps 4x the 3x3
  // weights; a device backend's uploaded weights), in its memory space. The search keeps a plan's
  // weights within PrepareOptions::weightBudget with it. Default 0 (reads its inputs in place).
  virtual int64_t preparedBytes(const Primitive& p, const std::vector<TensorDesc>& tensors,
                                const KernelChoice& choice, int threads) const {
    (void)p, (void)tensors, (void)choice, (void)threads;
    return 0;
  }
  // The bytes a run of this candidate reads from memory however warm the caches are: what it
  // keeps (preparedBytes, or its constant inputs read in place) where that outgrows the caches
  // its threads run from, so that each run streams it again (a session's other steps having
  // evicted it). The search holds the candidate's time to at least these bytes at the device's
  // measured read rate (docs/search.md, Weights from memory), a roof the estimate's nominal rate
  // cannot know. Default 0 (nothing streams past the caches, or the backend does not say).
  virtual int64_t streamedBytes(const Primitive& p, const std::vector<TensorDesc>& tensors,
                                const KernelChoice& choice, int threads) const {
    (void)p, (void)tensors, (void)choice, (void)threads;
    return 0;
  }
  // The scratch bytes a kernel prepared for this candidate needs per run, in its memory space, at
  // `threads` threads (prepared for `threads` too): its PreparedKernel::workspaceBytes, computed
  // without preparing it. Bit k of `constantInputs` is set where input k is constant. The search
  // counts it in a plan's arena (search::planArenaBytes). Default 0.
  virtual int64_t workspaceBytes(const Primitive& p, const std::vector<TensorDesc>& tensors,
                                 const KernelChoice& choice, uint32_t constantInputs,
                                 int threads) const {
    (void)p, (void)tensors, (void)choice, (void)constantInputs, (void)threads;
    return 0;
  }
  // Fused forms: one kernel for a chain of consecutive primitives (Backend::prepareChain says
  // what a chain is), whose intermediate tensors never reach memory. The kernel this backend has
  // for the chain as the tensors are laid out, or none (the default); its constantInputs index the
  // chain's inputs as the fused kernel's run() gets them. The search weighs it against the
  // primitives' own kernels, by estimate or measured (docs/search.md, Fused forms).
  virtual std::optional<KernelCandidate>
  chainCandidate(std::span<const Primitive* const> chain,
                 const std::vector<TensorDesc>& tensors) const;
  // Its estimate in seconds at `threads` threads, on the same scale as estimateSeconds; infinity
  // where chainCandidate has none.
  virtual double estimateChainSeconds(std::span<const Primitive* const> chain,
                                      const std::vector<TensorDesc>& tensors, int threads) const;
  // The scratch its fused kernel needs per run at `threads` threads, as workspaceBytes is a
  // primitive's; 0 where chainCandidate has none (the default).
  virtual int64_t chainWorkspaceBytes(std::span<const Primitive* const> chain,
                                      const std::vector<TensorDesc>& tensors, int threads) const {
    (void)chain, (void)tensors, (void)threads;
    return 0;
  }
  // The fp32 multiply-add peak of one thread in FLOP/s, measured on this device the first time
  // it is asked (a few milliseconds); 0 when the backend does not measure it.
  virtual double measuredPeakFlops() const { return 0; }
  // What identifies the device this backend runs on, for measured times kept between processes
  // (profile_cache.h): the default is the host's CPU model; a GPU backend names its device and
  // driver. Empty when unknown.
  virtual std::string deviceSignature() const;
  // The named target its kernels are for, as `tessel convert --target` names it (cpu_x86:
  // "x86-64-avx2", "x86-64-avx512"); empty for a backend without such variants. An artifact
  // planned for a target that no backend here has is planned again when loaded.
  virtual std::string_view target() const { return {}; }
};

// A device's ordered queue. Host devices run everything synchronously; a GPU device records or
// enqueues and wait() blocks until all of it has finished.
class Stream {
public:
  virtual ~Stream() = default;
  virtual Status wait() = 0;
};

// The per-device object: one per backend per process, shared by every session.
class Device {
public:
  virtual ~Device() = default;
  virtual std::string_view memorySpace() const = 0;
  // Host devices share the process's thread pool; device backends have none.
  virtual ThreadPool* threadPool() { return nullptr; }
  virtual Result<BufferRef> allocate(int64_t bytes) = 0;
  virtual void release(BufferRef buffer) = 0;
  virtual Result<std::unique_ptr<Stream>> createStream() = 0;
  // Copies between host memory and this device's space, ordered on `stream`. A download's bytes
  // may be read only after stream.wait().
  virtual Status upload(Stream& stream, const BufferRef& dst, const void* src, int64_t bytes) = 0;
  virtual Status download(Stream& stream, void* dst, const BufferRef& src, int64_t bytes) = 0;
};

// The process's host device: aligned host memory and the shared thread pool. Host backends
// return it from Backend::device().
std::shared_ptr<Device> hostDevice();

// What a kernel gets at run time from the session that runs it.
struct ExecContext {
  Device* device = nullptr;
  Stream* stream = nullptr;
  ThreadPool* pool = nullptr; // host devices: the pool to run parallel loops on
  int threads = 1;            // the session's thread count (>= 1)
  BufferRef workspace;        // workspaceBytes(threads) bytes in the device's space
  int64_t workspaceBytes = 0;
};

// A primitive bound to a kernel, built once per model at load and shared by every session of
// that model: run() must not modify it (sessions may run concurrently).
class PreparedKernel {
public:
  virtual ~PreparedKernel() = default;
  // Scratch bytes one run needs in the device's space at `threads` threads.
  virtual int64_t workspaceBytes(int threads) const {
    (void)threads;
    return 0;
  }
  // Whether run() reads constant input i (PrepareArgs::constants) from where it lies; false when
  // the kernel keeps its own packed or transformed copy, so the source pages may be released. A
  // device kernel that says false gets that input as its host bytes, never uploaded to its
  // space: it must neither bind nor read it.
  virtual bool readsConstant(size_t input) const {
    (void)input;
    return true;
  }
  // An input whose storage the output may take when that input dies at this step (the kernel
  // reads each element before writing the element at the same index); -1 for none.
  virtual int inPlaceInput() const { return -1; }
  // The kernel that runs, in a few words for reports (`tessel bench --per-op`): the variant the
  // backend picked and what it packs; empty when there is nothing to tell.
  virtual std::string describe() const { return {}; }
  // Inputs and output are in the backend's memory space, output preallocated.
  virtual Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
                     const TensorArg& output) const = 0;
};

// What prepare() may look at: the primitive, every tensor's description, and the host bytes of
// each input that is a constant (weights to pack or upload; null for the others). All of them
// stay valid while the model lives (a kernel may point at them); a kernel that keeps a packed
// copy need not.
// How exactly a backend must keep values. F32: as the program's dtypes say (the default).
// F16Storage: a backend may also store f32 weights and tensors as IEEE half where its device reads
// them (half the bytes moved), computing in f32 (MNN's low precision; about 1e-3 relative error
// per value, results to about rtol 1e-2). A backend without fp16 storage ignores it.
enum class Precision : uint8_t { F32, F16Storage };

struct PrepareArgs {
  const Primitive* primitive = nullptr;
  const std::vector<TensorDesc>* tensors = nullptr;
  std::span<const void* const> constants; // per input; the list itself lives for the call only
  KernelChoice choice;
  // The thread count the model's sessions are expected to run with (0: not known, taken as 1).
  // A kernel runs correctly at any count; it may pick its variant for this one (cpu_x86: a
  // Winograd tile whose blocks give every thread its own rows).
  int threads = 0;
  Precision precision = Precision::F32;
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual const BackendDescriptor& descriptor() const = 0;
  std::string_view name() const { return descriptor().name(); }
  // The per-device object, created on first call and then shared (a built-in backend's missing
  // driver is an error here, never at registration; a plugin declines to register instead).
  virtual Result<std::shared_ptr<Device>> device() = 0;
  // Binds a supported primitive to the chosen kernel.
  virtual Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& args,
                                                          Device& device) const = 0;
  // One kernel for a chain of primitives (consecutive in the program, on this backend, each
  // after the first reading the previous one's output as its input 0, an output nothing else
  // reads and that is not a constant): the intermediate results stay inside the kernel and never
  // reach the arena. The runtime offers the chains its plan fuses (search::pickChains: where the
  // descriptor's chainCandidate is estimated or measured faster than the primitives' own
  // kernels). Its run() gets the chain's inputs in order (every primitive's inputs less the
  // chained input 0 of the later ones) and the last primitive's output; readsConstant() and
  // inPlaceInput() index that list. Null (the default) when this backend has no kernel for the
  // chain: the primitives are then prepared one by one.
  virtual Result<std::unique_ptr<PreparedKernel>> prepareChain(std::span<const PrepareArgs> chain,
                                                               Device& device) const;
};

class BackendRegistry {
public:
  void add(std::unique_ptr<Backend> backend);
  Backend* find(std::string_view name) const;
  const std::vector<std::unique_ptr<Backend>>& all() const { return backends_; }
  std::vector<const BackendDescriptor*> descriptors() const;
  // A backend this build has but this process cannot use (its library or driver missing, no
  // device), and why: asking for it by name gives that reason instead of "no backend named".
  void addUnavailable(std::string name, std::string why);
  const std::string* unavailable(std::string_view name) const;
  // Every backend recorded as unavailable, with its reason, in the order recorded.
  const std::vector<std::pair<std::string, std::string>>& unavailableBackends() const {
    return unavailable_;
  }
  // The error for a backend asked for by name that is not registered.
  Status missing(std::string_view name) const;
  // Descriptors of named targets (BackendDescriptor::target) whatever this machine runs, for
  // planning offline (`tessel convert --target`): a backend adds one per target it has kernels
  // for, from its register function. They run nothing.
  void addTarget(std::unique_ptr<BackendDescriptor> descriptor);
  // The target's descriptors, in the order added; empty when no backend has it.
  std::vector<const BackendDescriptor*> target(std::string_view name) const;
  std::vector<std::string> targetNames() const;

private:
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<std::pair<std::string, std::string>> unavailable_;
  std::vector<std::unique_ptr<BackendDescriptor>> targets_;
};

// Registers every backend of this build in priority order (the planner's first choice comes
// first): the ones compiled into the runtime (CMake's TESSEL_BACKENDS), then the plugin backends
// (TESSEL_PLUGIN_BACKENDS), each a shared library `libtessel_backend_<name>.so` loaded from the
// runtime's directory (or TESSEL_BACKEND_DIR) the first time, so that the runtime neither links
// nor needs a GPU API. A plugin that cannot load, or finds no driver or device, is recorded as
// unavailable with its reason; the others run.
void registerBuiltinBackends(BackendRegistry& registry);

// A plugin backend's entry point, `tessel_backend_plugin_v2` (the contract's version): adds its
// backends to the registry, or returns why it cannot (no driver, no device). Define it with
// TESSEL_BACKEND_PLUGIN(function) in the plugin's library.
using BackendPluginEntry = Status (*)(BackendRegistry& registry);
// The entry is C-named for dlsym but returns a C++ type (both sides are C++): clang's warning
// about that is off around it.
#if defined(__clang__)
#define TESSEL_PLUGIN_ENTRY_BEGIN                                                                  \
  _Pragma("clang diagnostic push") _Pragma("clang diagnostic ignored \"-Wreturn-type-c-linkage\"")
#define TESSEL_PLUGIN_ENTRY_END _Pragma("clang diagnostic pop")
#else
#define TESSEL_PLUGIN_ENTRY_BEGIN
#define TESSEL_PLUGIN_ENTRY_END
#endif
#define TESSEL_BACKEND_PLUGIN(fn)                                                                  \
  TESSEL_PLUGIN_ENTRY_BEGIN                                                                        \
  extern "C" __attribute__((visibility("default"))) ::tessel::Status tessel_backend_plugin_v2(     \
      ::tessel::BackendRegistry& registry) {                                                       \
    return fn(registry);                                                                           \
  }                                                                                                \
  TESSEL_PLUGIN_ENTRY_END
// Loads the named plugin backends (see registerBuiltinBackends) into the registry.
void loadPluginBackends(BackendRegistry& registry, std::span<const std::string_view> names);

// Runs one validated primitive on host memory with a fresh prepared kernel: for tests and tools
// that compare kernels, not for serving (it prepares on every call). `inputs` and `output` are
// host pointers; input i is handed to prepare() as a constant when bit i of constantMask is set.
struct HostRunOptions {
  int threads = 1;
  uint64_t constantMask = 0;
  KernelChoice choice;
  // Runs the prepared kernel this many times (warm after the first) and, when bestSeconds is
  // set, stores the fastest run's wall time there: a candidate timed in isolation.
  int runs = 1;
  double* bestSeconds = nullptr;
};
Status runPrimitiveOnHost(Backend& backend, const Primitive& p,
                          const std::vector<TensorDesc>& tensors,
                          std::span<const void* const> inputs, void* output,
                          const HostRunOptions& options = {});

} // namespace tessel
