// The kernels of the backends that run the compute shaders of backends/vulkan/shaders (Vulkan
// through SPIR-V, Metal through the MSL generated from it), written once over an API-neutral
// launch: which shader and specialization, which tensors at which bindings, the push constants
// and the grid. Each backend implements ShaderExecutor (pipelines, packed constant data, the
// fault word, recording a launch on its stream); everything a kernel decides (tiles, fast paths,
// constants, passes, packing) is here, so the two APIs cannot drift apart.
#pragma once

#include "gpu_support.h"
#include "tessel/runtime/backend.h"

#include <cstdint>
#include <memory>
#include <span>

namespace tessel::gpu {

// `enum class Shader` (one per entry of backends/vulkan/shaders.cmake, in its order) and
// kShaderNames (the entry's name: SPIR-V `main`, MSL `tessel_<name>`).
#include "shader_ids.inc"

// Texel bindings after the kBindings storage buffers (Vulkan bindings 8-10, Metal textures 0-2):
// the tensor read as float texels, the kernel's packed data as vec4 texels, the tensor read as
// vec4 texels.
constexpr uint32_t kTexelBindings = 3;
constexpr uint32_t kPushBytes = 128; // push constants every Vulkan device has (Metal: buffer 8)
// Iterations one invocation loops at most (lavapipe ends a shader's loops after 65535 in all),
// and a long reduction's chunk.
constexpr uint32_t kMaxLoop = 32768;
constexpr uint32_t kGroupSize = 256; // the shaders' local_size_x (conv2d's is 64)

// A tensor as a launch binds it: where its bytes are and how many.
struct Bound {
  BufferRef ref;
  int64_t bytes = 0;
};

// Where a launch's invocations go: `count` of them over workgroups of `groupSize` (x, then rows
// of those over y past the device's limit: the shaders flatten (x, y) with the count of groups
// over x), `layers` times over z.
struct Grid {
  int64_t count = 0;
  uint32_t groupSize = kGroupSize;
  uint32_t layers = 1;
};

// An executor's pipeline: a shader with its specialization constants, compiled.
using Pipeline = const void*;

// A kernel's own copy of constant data on the device (packed weights), read as vec4 texels.
class Packed {
public:
  virtual ~Packed() = default;
};

// One launch. The first `bufferCount` words of `constants` are the bound tensors' element
// offsets (4-byte words) in what the executor binds, which the executor fills: it may bind a
// window of a buffer (Vulkan: the offset alignment and maxStorageBufferRange) or all of it
// (Metal). The same for a tensor read through texels: its first float in the view goes to word
// `texelWord`.
struct Launch {
  Pipeline pipeline = nullptr;
  Bound buffers[kBindings];
  uint32_t bufferCount = 0; // bindings past it see buffer 0 (every binding is valid)
  bool texelTensor = false; // buffers[1] is also read through texels (float and vec4 views)
  uint32_t texelWord = 0;
  const Packed* packed = nullptr; // the packed-data texel binding
  uint32_t constantBytes = 0;
  uint8_t constants[kPushBytes] = {};
  Grid grid;
};

// What a kernel may ask of the device under it.
struct ExecutorInfo {
  bool texels = false;     // float and vec4-of-float texel views can be read
  bool halfTexels = false; // and vec4 of half
  // Subgroup arithmetic in compute shaders (Vulkan: basic and arithmetic subgroup operations;
  // Metal: SIMD-group reductions).
  bool subgroupArithmetic = false;
  double flopsPerSecond = nominalFlops(DeviceKind::Discrete); // for the estimates
  int64_t maxTexels = 0;                                      // texels one view reaches
  int64_t texelAlignment = 16; // bytes a view of a tensor may start at (below the tensor)
};

class ShaderExecutor {
public:
  virtual ~ShaderExecutor() = default;
  virtual const ExecutorInfo& info() const = 0;
  // `shader` with specialization constant i = spec[i] (floats as their bits), made on first use
  // and kept for the process.
  virtual Result<Pipeline> pipeline(Shader shader, std::span<const uint32_t> spec) = 0;
  // `bytes` (whole vec4 texels: of float, or with `half` of IEEE half) in the device, filled
  // before this returns.
  virtual Result<std::unique_ptr<Packed>> pack(Device& device, const void* bytes, int64_t size,
                                               bool half) = 0;
  // The stream's fault word (4 bytes, zero): a kernel raises it when its data is bad (a gather's
  // index out of range) and the stream's wait fails with `why`.
  virtual Result<BufferRef> faultWord(Stream& stream, const char* why) = 0;
  // Adds the launch to the stream (after every step added before it, which it sees).
  virtual Status launch(Stream& stream, Launch& launch) = 0;
};

// The kernels a shader backend offers for a supported primitive (its descriptor's
// candidates()): for conv2d, direct (id 0) and implicit GEMM with shared-memory tiles (id 1); for
// sums, means and products, one invocation per output (id 0) and, where the device has subgroup
// arithmetic, a workgroup per output (id 1); one kernel for the rest.
constexpr uint32_t kConvDirect = 0, kConvGemm = 1;
constexpr uint32_t kReduceDirect = 0, kReduceSubgroup = 1;
std::vector<KernelCandidate> shaderCandidates(const Primitive& p,
                                              const std::vector<TensorDesc>& tensors,
                                              const ExecutorInfo& info);
// A candidate's estimated time on the device (info.flopsPerSecond as lanes each doing an
// operation a nanosecond): a reduction walked by one invocation per output or split over a
// workgroup's subgroups; a GEMM-style conv2d charged its tiles' padding; otherwise roughSeconds.
// Measurement refines it (docs/search.md).
double shaderSeconds(const Primitive& p, const std::vector<TensorDesc>& tensors,
                     const KernelChoice& choice, const ExecutorInfo& info);
// The scratch a kernel prepared for `choice` needs per run (its PreparedKernel::workspaceBytes):
// a two-pass reduction's partials; 0 for the rest.
int64_t shaderWorkspaceBytes(const Primitive& p, const KernelChoice& choice);
// The planner's first choice among the candidates: the one shaderSeconds estimates fastest.
KernelChoice shaderFirstChoice(const Primitive& p, const std::vector<TensorDesc>& tensors,
                               const ExecutorInfo& info);

// What a shader backend's plugin provides: its name and memory space, and (made on first use,
// an error without a device) its device's limits, its executor and its Device.
struct ShaderPlatform {
  std::string_view name, space;
  Result<Limits> (*limits)();
  Result<ShaderExecutor*> (*executor)();
  Result<std::shared_ptr<Device>> (*device)();
  std::string (*deviceSignature)(); // the device and driver ("" without one)
};

// The backend of a shader plugin over `platform`: its descriptor supports what gpu::supports()
// takes within the limits, offers shaderCandidates() with shaderFirstChoice() first, estimates
// with shaderSeconds(); prepare() binds a supported primitive to the chosen kernel.
std::unique_ptr<Backend> makeShaderBackend(const ShaderPlatform& platform);

} // namespace tessel::gpu
