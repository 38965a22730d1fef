// The Vulkan backend (a plugin: libtessel_backend_vulkan.so). One Vulkan device per process,
// found on first use; tensors live in its buffers (memory space "vulkan"), kernels are compute
// shaders compiled at build time (shaders/, SPIR-V embedded), added to a session's stream as
// steps and submitted when the session waits on it (a sequence of steps recorded once is
// replayed). What it runs: rasters, gathers and selects of 4- and 8-byte elements, f32
// reductions, matmuls, conv2d, pooling, unary, binary and elementwise work with post-op lists
// (backends/gpu/gpu_support.h says exactly which); the planner gives every other primitive to a
// CPU backend and the session copies between the spaces (docs/backend-contract.md).
// TESSEL_VULKAN_VALIDATION=1 turns the Khronos validation layer on; each message it reports is
// printed as "vulkan validation: ..." (the tests fail on any). README.md has the design and the
// measurements behind it.
#include "gpu_support.h"
#include "tessel/runtime/backend.h"

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <span>
#include <vector>
#include <vulkan/vulkan.h>

namespace tessel {
namespace {

constexpr std::string_view kSpace = "vulkan";
constexpr uint32_t kGroupSize = 256; // the shaders' local_size_x
using gpu::kBindings;                // storage buffers per dispatch: the output, then inputs
// Uniform texel buffers after the storage buffers: binding 8 a tensor read as float texels,
// binding 9 a kernel's packed weights as vec4 texels, binding 10 a tensor read as vec4 texels.
constexpr uint32_t kTexelBindings = 3;
constexpr uint32_t kPushBytes = 128; // push constants every device has
// Iterations one invocation loops at most: lavapipe ends a shader's loops after 65535 in all.
constexpr uint32_t kMaxLoop = 32768;

// The shaders, each made into pipelines on first use (one per specialization): their SPIR-V,
// `enum class Shader` and `kShaders`, generated from shaders.cmake's list.
#include "shaders.inc"

std::string vkError(const std::string& what, VkResult r) {
  return std::string("vulkan: ") + what + " failed (VkResult " + std::to_string(r) + ")";
}

VKAPI_ATTR VkBool32 VKAPI_CALL onValidation(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                            VkDebugUtilsMessageTypeFlagsEXT,
                                            const VkDebugUtilsMessengerCallbackDataEXT* data,
                                            void*) {
  std::fprintf(stderr, "vulkan validation: %s\n", data && data->pMessage ? data->pMessage : "?");
  return VK_FALSE;
}

// Push constants of the two shaders (shaders/*.comp), in their order.
struct UnaryConstants {
  uint32_t yOffset, xOffset, count, kind;
  float alpha, beta;
};
struct BinaryConstants {
  uint32_t yOffset, aOffset, bOffset, count, kind, rank;
  uint32_t dims[6], aStrides[6], bStrides[6];
};
struct Binary4Constants { // y, a, b, then a and b again as vec4
  uint32_t off[5], count, kind, rank;
  uint32_t dims[6], aStrides[6], bStrides[6];
};
struct RasterConstants {
  uint32_t yOffset, xOffset, count, words;
  int32_t srcOffset, dstOffset, srcStride[3], dstStride[3];
  uint32_t size1, size2, fill, fillLo, fillHi;
};
struct ReduceConstants { // four bindings: the output, x, the partials' values and indices
  uint32_t off[4], outer, extent, inner, kind, selectLast, chunk, chunks, phase;
};
// The kernels with post-ops bind every input (shaders/operands.glsl): eight offsets first.
struct MatMulConstants {
  uint32_t off[kBindings], batch, m, n, k;
  int32_t aStrides[3], bStrides[3], biasStrides[2];
  uint32_t hasBias;
};
struct Conv2dConstants {
  uint32_t off[kBindings], n, c, h, w, o, oh, ow, groups, cg, og, ocBlocks, pxBlocks;
  int32_t sh, sw, pt, pl, dh, dw;
  uint32_t hasBias, packedBlocks, xTexel;
};
struct PoolConstants {
  uint32_t yOffset, xOffset, planes, h, w, oh, ow;
  int32_t kh, kw, sh, sw, pt, pl, pb, pr;
  uint32_t kind, countIncludePad;
};
struct ElementwiseConstants {
  uint32_t off[kBindings], count, channels, inner;
};
struct GatherConstants {
  uint32_t off[kBindings], outer, extent, inner, count, words, wide, elements;
};
struct SelectConstants { // four bindings: four offsets
  uint32_t off[4], count, rank, words, dims[4], condStrides[4], lhsStrides[4], rhsStrides[4];
  uint32_t condByte;
};
static_assert(sizeof(BinaryConstants) <= kPushBytes && sizeof(ReduceConstants) <= kPushBytes &&
                  sizeof(MatMulConstants) <= kPushBytes && sizeof(RasterConstants) <= kPushBytes &&
                  sizeof(Conv2dConstants) <= kPushBytes && sizeof(PoolConstants) <= kPushBytes &&
                  sizeof(ElementwiseConstants) <= kPushBytes &&
                  sizeof(GatherConstants) <= kPushBytes && sizeof(SelectConstants) <= kPushBytes &&
                  sizeof(Binary4Constants) <= kPushBytes,
              "push constants: 128 bytes are guaranteed");

// The process's Vulkan device and what every kernel shares: pipelines and their layout.
struct Context {
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties properties{};
  VkPhysicalDeviceMemoryProperties memory{};
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t family = 0;
  std::mutex queueMutex; // vkQueueSubmit needs the queue externally synchronized
  VkDescriptorSetLayout setLayout = VK_NULL_HANDLE;
  VkPipelineLayout pipelineLayout = VK_NULL_HANDLE;
  bool texels = false;     // float and vec4 uniform texel buffers can be read
  bool halfTexels = false; // and vec4 of half (R16G16B16A16_SFLOAT)
  std::mutex pipelineMutex;
  std::map<std::vector<uint32_t>, VkPipeline> pipelines; // by shader, then specialization

  // The pipeline of `shader` with specialization constant i = spec[i], made on first use.
  Result<VkPipeline> pipeline(Shader shader, std::span<const uint32_t> spec = {});

  // A memory type with all of `want` among those `allowed`, or UINT32_MAX.
  uint32_t memoryType(uint32_t allowed, VkMemoryPropertyFlags want) const {
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
      if ((allowed >> i & 1) && (memory.memoryTypes[i].propertyFlags & want) == want) return i;
    return UINT32_MAX;
  }
};

bool validationWanted() {
  const char* v = std::getenv("TESSEL_VULKAN_VALIDATION");
  return v && std::strcmp(v, "1") == 0;
}

bool hasLayer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (const VkLayerProperties& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

Result<VkPipeline> makePipeline(Context& c, const ShaderCode& code,
                                std::span<const uint32_t> spec) {
  VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  mi.codeSize = code.bytes;
  mi.pCode = code.words;
  VkShaderModule module = VK_NULL_HANDLE;
  if (VkResult r = vkCreateShaderModule(c.device, &mi, nullptr, &module); r != VK_SUCCESS)
    return internalError(vkError("vkCreateShaderModule", r));
  VkComputePipelineCreateInfo pi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  pi.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  pi.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  pi.stage.module = module;
  pi.stage.pName = "main";
  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (uint32_t i = 0; i < entries.size(); ++i)
    entries[i] = {i, i * 4, 4};
  const VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(),
                                spec.size_bytes(), spec.data()};
  if (!spec.empty()) pi.stage.pSpecializationInfo = &si;
  pi.layout = c.pipelineLayout;
  VkPipeline pipeline = VK_NULL_HANDLE;
  const VkResult r = vkCreateComputePipelines(c.device, VK_NULL_HANDLE, 1, &pi, nullptr, &pipeline);
  vkDestroyShaderModule(c.device, module, nullptr);
  if (r != VK_SUCCESS) return internalError(vkError("vkCreateComputePipelines", r));
  return pipeline;
}

// Creates the context: an instance (with the validation layer when asked for), the first device
// with a compute queue (a discrete or integrated GPU before a CPU implementation such as
// lavapipe), the pipelines. An error says why there is none.
Status createContext(Context& c) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "tessel";
  app.apiVersion = VK_API_VERSION_1_1;
  std::vector<const char*> layers, extensions;
  const bool validate = validationWanted();
  if (validate) {
    if (!hasLayer("VK_LAYER_KHRONOS_validation"))
      return unsupported("TESSEL_VULKAN_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not "
                         "installed (vulkan-validationlayers)");
    layers.push_back("VK_LAYER_KHRONOS_validation");
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ii.pApplicationInfo = &app;
  ii.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ii.ppEnabledLayerNames = layers.data();
  ii.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ii.ppEnabledExtensionNames = extensions.data();
  if (VkResult r = vkCreateInstance(&ii, nullptr, &c.instance); r != VK_SUCCESS)
    return unsupported(vkError("vkCreateInstance (no Vulkan driver?)", r));
  if (validate) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(c.instance, "vkCreateDebugUtilsMessengerEXT"));
    VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = onValidation;
    if (!create || create(c.instance, &mi, nullptr, &c.messenger) != VK_SUCCESS)
      return unsupported("vulkan: the validation layer's messenger could not be created");
  }
  uint32_t count = 0;
  vkEnumeratePhysicalDevices(c.instance, &count, nullptr);
  std::vector<VkPhysicalDevice> devices(count);
  vkEnumeratePhysicalDevices(c.instance, &count, devices.data());
  int best = -1;
  for (const VkPhysicalDevice d : devices) {
    uint32_t families = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(d, &families, nullptr);
    std::vector<VkQueueFamilyProperties> props(families);
    vkGetPhysicalDeviceQueueFamilyProperties(d, &families, props.data());
    VkPhysicalDeviceProperties p{};
    vkGetPhysicalDeviceProperties(d, &p);
    for (uint32_t f = 0; f < families; ++f) {
      if (!(props[f].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
      const int rank = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 3
                       : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2
                                                                                : 1;
      if (rank > best) {
        best = rank;
        c.physical = d;
        c.family = f;
      }
      break;
    }
  }
  if (!c.physical)
    return unsupported("vulkan: no device with a compute queue (" + std::to_string(count) +
                       " devices)");
  vkGetPhysicalDeviceProperties(c.physical, &c.properties);
  vkGetPhysicalDeviceMemoryProperties(c.physical, &c.memory);
  const float priority = 1.f;
  VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qi.queueFamilyIndex = c.family;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;
  VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &qi;
  if (VkResult r = vkCreateDevice(c.physical, &di, nullptr, &c.device); r != VK_SUCCESS)
    return unsupported(vkError("vkCreateDevice", r));
  vkGetDeviceQueue(c.device, c.family, 0, &c.queue);
  c.texels = true;
  for (const VkFormat f : {VK_FORMAT_R32_SFLOAT, VK_FORMAT_R32G32B32A32_SFLOAT}) {
    VkFormatProperties fp{};
    vkGetPhysicalDeviceFormatProperties(c.physical, f, &fp);
    c.texels = c.texels && (fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT);
  }
  VkFormatProperties half{};
  vkGetPhysicalDeviceFormatProperties(c.physical, VK_FORMAT_R16G16B16A16_SFLOAT, &half);
  c.halfTexels = c.texels && (half.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT);
  VkDescriptorSetLayoutBinding bindings[kBindings + kTexelBindings];
  for (uint32_t b = 0; b < kBindings + kTexelBindings; ++b)
    bindings[b] = {b,
                   b < kBindings ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                 : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                   1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  li.bindingCount = kBindings + kTexelBindings;
  li.pBindings = bindings;
  if (VkResult r = vkCreateDescriptorSetLayout(c.device, &li, nullptr, &c.setLayout);
      r != VK_SUCCESS)
    return internalError(vkError("vkCreateDescriptorSetLayout", r));
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &c.setLayout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &range;
  if (VkResult r = vkCreatePipelineLayout(c.device, &pl, nullptr, &c.pipelineLayout);
      r != VK_SUCCESS)
    return internalError(vkError("vkCreatePipelineLayout", r));
  return Status::ok();
}

Result<VkPipeline> Context::pipeline(Shader shader, std::span<const uint32_t> spec) {
  std::vector<uint32_t> key;
  key.reserve(spec.size() + 1);
  key.push_back(static_cast<uint32_t>(shader));
  key.insert(key.end(), spec.begin(), spec.end());
  std::lock_guard<std::mutex> lock(pipelineMutex);
  if (auto it = pipelines.find(key); it != pipelines.end()) return it->second;
  TESSEL_ASSIGN_OR_RETURN(VkPipeline made,
                          makePipeline(*this, kShaders[static_cast<size_t>(shader)], spec));
  pipelines.emplace(std::move(key), made);
  return made;
}

// The process's context, made on first use; the same error for every later caller when it
// could not be made. Kept for the life of the process (the driver is torn down at exit).
Result<Context*> context() {
  return gpu::processContext(&createContext);
}

// A buffer of the device with its memory; what BufferRef::handle points to in this space.
struct Block {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  int64_t bytes = 0;
  void* mapped = nullptr; // host-visible blocks (staging) only
  // Float texel views of device blocks, by first byte: made on first use, kept with the block.
  std::mutex viewMutex;
  std::map<std::pair<int64_t, VkFormat>, VkBufferView> views;
};

Result<Block*> makeBlock(Context& c, int64_t bytes, VkBufferUsageFlags usage,
                         VkMemoryPropertyFlags want, VkMemoryPropertyFlags fallback) {
  auto* b = new Block();
  b->bytes = std::max<int64_t>(bytes, 4); // a Vulkan buffer is never empty
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = static_cast<VkDeviceSize>(b->bytes);
  bi.usage = usage;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  if (VkResult r = vkCreateBuffer(c.device, &bi, nullptr, &b->buffer); r != VK_SUCCESS) {
    delete b;
    return resourceExhausted(vkError("vkCreateBuffer", r));
  }
  VkMemoryRequirements req{};
  vkGetBufferMemoryRequirements(c.device, b->buffer, &req);
  uint32_t type = c.memoryType(req.memoryTypeBits, want);
  if (type == UINT32_MAX) type = c.memoryType(req.memoryTypeBits, fallback);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = type;
  VkResult r = type == UINT32_MAX ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                                  : vkAllocateMemory(c.device, &ai, nullptr, &b->memory);
  if (r == VK_SUCCESS) r = vkBindBufferMemory(c.device, b->buffer, b->memory, 0);
  if (r == VK_SUCCESS &&
      (c.memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
    r = vkMapMemory(c.device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(c.device, b->buffer, nullptr);
    if (b->memory) vkFreeMemory(c.device, b->memory, nullptr);
    delete b;
    return resourceExhausted(vkError("allocating " + std::to_string(bytes) + " bytes", r));
  }
  return b;
}

void freeBlock(Context& c, Block* b) {
  if (!b) return;
  for (const auto& [start, view] : b->views)
    vkDestroyBufferView(c.device, view, nullptr);
  if (b->mapped) vkUnmapMemory(c.device, b->memory);
  vkDestroyBuffer(c.device, b->buffer, nullptr);
  vkFreeMemory(c.device, b->memory, nullptr);
  delete b;
}

Result<Block*> stagingBlock(Context& c, int64_t bytes) {
  const VkMemoryPropertyFlags host =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  return makeBlock(c, bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                   host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, host);
}

// Every write before it (shaders, copies) visible to every read after it (shaders, copies,
// the host): one global barrier between consecutive steps.
void barrier(VkCommandBuffer cmd) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                     VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT |
                           VK_PIPELINE_STAGE_HOST_BIT,
                       0, 1, &mb, 0, nullptr, 0, nullptr);
}

// One recorded step of a stream: a dispatch (pipeline, bindings, push constants, workgroups) or a
// copy between buffers. Plain bytes (zeroed, then filled) so that two steps compare by memcmp.
struct Op {
  VkPipeline pipeline; // null for a copy
  VkDescriptorBufferInfo buffers[kBindings];
  VkBufferView texels[kTexelBindings];
  uint32_t constantBytes;
  uint8_t constants[kPushBytes];
  uint32_t groups[3];
  VkBuffer src, dst;
  VkBufferCopy region;
};

Op blankOp() {
  Op op;
  std::memset(&op, 0, sizeof op);
  return op;
}

// A session's stream. Kernels and copies add steps; wait() submits them as one command buffer
// and waits for it. A command buffer is recorded once per distinct sequence of steps and kept
// (with its descriptor sets): a plan's runs repeat the same sequences (its uploads, its kernels
// with the download that ends them), so after the first run each wait replays a recorded one
// and neither records nor writes a descriptor. A new input shape (a new plan) records anew; the
// least recently used of kRecordings is recorded over. Downloads land in the caller's memory
// when the wait returns.
class VulkanStream final : public Stream {
public:
  explicit VulkanStream(Context& c) : c_(c) {}
  ~VulkanStream() override {
    (void)wait();
    for (Block* b : slots_)
      freeBlock(c_, b);
    freeBlock(c_, fault_);
    for (auto& r : recordings_)
      for (VkDescriptorPool p : r.pools)
        vkDestroyDescriptorPool(c_.device, p, nullptr);
    if (fence_) vkDestroyFence(c_.device, fence_, nullptr);
    if (pool_) vkDestroyCommandPool(c_.device, pool_, nullptr);
  }

  Status init() {
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = c_.family;
    if (VkResult r = vkCreateCommandPool(c_.device, &pi, nullptr, &pool_); r != VK_SUCCESS)
      return internalError(vkError("vkCreateCommandPool", r));
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (VkResult r = vkCreateFence(c_.device, &fi, nullptr, &fence_); r != VK_SUCCESS)
      return internalError(vkError("vkCreateFence", r));
    return Status::ok();
  }

  void add(const Op& op) { ops_.push_back(op); }

  // The word a kernel raises when its data is bad (a gather's index out of range), bound by such
  // kernels; raise() says this submission has one, so wait() reads the word back.
  Result<Block*> faultWord() {
    if (!fault_) {
      const VkMemoryPropertyFlags host =
          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      TESSEL_ASSIGN_OR_RETURN(fault_,
                              makeBlock(c_, 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, host, host));
      std::memset(fault_->mapped, 0, 4);
    }
    checkFault_ = true;
    return fault_;
  }

  // A host-visible block of at least `bytes` for the submission's next copy: the block that held
  // the same copy last time (the i-th of a submission reuses slot i), grown when too small; so a
  // replayed command buffer copies through the blocks it was recorded with.
  Result<Block*> staging(int64_t bytes) {
    if (next_ == slots_.size()) slots_.push_back(nullptr);
    Block*& slot = slots_[next_++];
    if (!slot || slot->bytes < bytes) {
      freeBlock(c_, slot); // the last submission that used it has completed
      slot = nullptr;
      TESSEL_ASSIGN_OR_RETURN(slot, stagingBlock(c_, bytes));
    }
    return slot;
  }
  void readBack(void* dst, Block* staging, int64_t bytes) {
    reads_.push_back({dst, staging, bytes});
  }

  Status wait() override {
    if (ops_.empty()) return Status::ok();
    Status st = submit();
    if (st.isOk())
      for (const Read& rd : reads_)
        std::memcpy(rd.dst, rd.staging->mapped, static_cast<size_t>(rd.bytes));
    if (st.isOk() && checkFault_ && *static_cast<uint32_t*>(fault_->mapped) != 0)
      st = invalidArgument("vulkan: a gather's index lies outside its axis");
    if (checkFault_) std::memset(fault_->mapped, 0, 4);
    checkFault_ = false;
    ops_.clear();
    reads_.clear();
    next_ = 0;
    return st;
  }

  // Recordings made and replayed (tests and reports).
  int64_t recorded() const { return recordedCount_; }
  int64_t replayed() const { return replayedCount_; }

private:
  static constexpr size_t kRecordings = 8;
  struct Read {
    void* dst;
    Block* staging;
    int64_t bytes;
  };
  struct Recording {
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    std::vector<VkDescriptorPool> pools;
    std::vector<Op> ops;
    uint64_t lastUse = 0;
  };

  static bool same(const std::vector<Op>& a, const std::vector<Op>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Op)) == 0;
  }

  Status submit() {
    Recording* r = nullptr;
    for (Recording& candidate : recordings_)
      if (same(candidate.ops, ops_)) r = &candidate;
    if (r) {
      ++replayedCount_;
    } else {
      TESSEL_ASSIGN_OR_RETURN(r, record());
      ++recordedCount_;
    }
    r->lastUse = ++clock_;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &r->cmd;
    VkResult res;
    {
      std::lock_guard<std::mutex> lock(c_.queueMutex);
      res = vkQueueSubmit(c_.queue, 1, &si, fence_);
    }
    if (res == VK_SUCCESS) res = vkWaitForFences(c_.device, 1, &fence_, VK_TRUE, UINT64_MAX);
    if (res == VK_SUCCESS) res = vkResetFences(c_.device, 1, &fence_);
    if (res != VK_SUCCESS) return internalError(vkError("submitting a run", res));
    return Status::ok();
  }

  // Records ops_ into a new recording, or over the least recently used one.
  Result<Recording*> record() {
    Recording* r = nullptr;
    if (recordings_.size() < kRecordings) {
      recordings_.emplace_back();
      r = &recordings_.back();
      VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
      ai.commandPool = pool_;
      ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      ai.commandBufferCount = 1;
      if (VkResult res = vkAllocateCommandBuffers(c_.device, &ai, &r->cmd); res != VK_SUCCESS)
        return internalError(vkError("vkAllocateCommandBuffers", res));
    } else {
      r = &*std::min_element(
          recordings_.begin(), recordings_.end(),
          [](const Recording& a, const Recording& b) { return a.lastUse < b.lastUse; });
      vkResetCommandBuffer(r->cmd, 0);
      for (VkDescriptorPool p : r->pools)
        vkResetDescriptorPool(c_.device, p, 0);
    }
    r->ops.clear(); // matches nothing until fully recorded
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (VkResult res = vkBeginCommandBuffer(r->cmd, &bi); res != VK_SUCCESS)
      return internalError(vkError("vkBeginCommandBuffer", res));
    size_t pool = 0;
    for (const Op& op : ops_) {
      if (op.pipeline) {
        TESSEL_ASSIGN_OR_RETURN(VkDescriptorSet set, descriptorSet(*r, pool));
        VkWriteDescriptorSet writes[kBindings + kTexelBindings];
        uint32_t n = 0;
        for (uint32_t b = 0; b < kBindings; ++b) {
          writes[n] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
          writes[n].dstSet = set;
          writes[n].dstBinding = b;
          writes[n].descriptorCount = 1;
          writes[n].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
          writes[n].pBufferInfo = &op.buffers[b];
          ++n;
        }
        for (uint32_t t = 0; t < kTexelBindings; ++t) {
          if (!op.texels[t]) continue;
          writes[n] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
          writes[n].dstSet = set;
          writes[n].dstBinding = kBindings + t;
          writes[n].descriptorCount = 1;
          writes[n].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
          writes[n].pTexelBufferView = &op.texels[t];
          ++n;
        }
        vkUpdateDescriptorSets(c_.device, n, writes, 0, nullptr);
        vkCmdBindPipeline(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, op.pipeline);
        vkCmdBindDescriptorSets(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c_.pipelineLayout, 0, 1,
                                &set, 0, nullptr);
        vkCmdPushConstants(r->cmd, c_.pipelineLayout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                           op.constantBytes, op.constants);
        vkCmdDispatch(r->cmd, op.groups[0], op.groups[1], op.groups[2]);
      } else {
        vkCmdCopyBuffer(r->cmd, op.src, op.dst, 1, &op.region);
      }
      barrier(r->cmd);
    }
    if (VkResult res = vkEndCommandBuffer(r->cmd); res != VK_SUCCESS)
      return internalError(vkError("vkEndCommandBuffer", res));
    r->ops = ops_;
    return r;
  }

  // A descriptor set from the recording's pools (pool: the one being filled).
  Result<VkDescriptorSet> descriptorSet(Recording& r, size_t& pool) {
    for (;;) {
      if (pool == r.pools.size()) {
        constexpr uint32_t kSets = 256;
        const VkDescriptorPoolSize sizes[2] = {
            {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kBindings * kSets},
            {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, kTexelBindings * kSets}};
        VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        pi.maxSets = kSets;
        pi.poolSizeCount = 2;
        pi.pPoolSizes = sizes;
        VkDescriptorPool made = VK_NULL_HANDLE;
        if (VkResult res = vkCreateDescriptorPool(c_.device, &pi, nullptr, &made);
            res != VK_SUCCESS)
          return internalError(vkError("vkCreateDescriptorPool", res));
        r.pools.push_back(made);
      }
      VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
      ai.descriptorPool = r.pools[pool];
      ai.descriptorSetCount = 1;
      ai.pSetLayouts = &c_.setLayout;
      VkDescriptorSet set = VK_NULL_HANDLE;
      const VkResult res = vkAllocateDescriptorSets(c_.device, &ai, &set);
      if (res == VK_SUCCESS) return set;
      if (res != VK_ERROR_OUT_OF_POOL_MEMORY && res != VK_ERROR_FRAGMENTED_POOL)
        return internalError(vkError("vkAllocateDescriptorSets", res));
      ++pool; // full: the next one (made above when there is none)
    }
  }

  Context& c_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  std::vector<Op> ops_;              // this submission's steps
  std::deque<Recording> recordings_; // stable addresses
  uint64_t clock_ = 0;
  std::vector<Block*> slots_; // staging blocks by position in a submission
  size_t next_ = 0;
  std::vector<Read> reads_;
  int64_t recordedCount_ = 0, replayedCount_ = 0;
  Block* fault_ = nullptr;
  bool checkFault_ = false;
};

class VulkanDevice final : public Device {
public:
  explicit VulkanDevice(Context& c) : c_(c) {}
  std::string_view memorySpace() const override { return kSpace; }
  Result<BufferRef> allocate(int64_t bytes) override {
    TESSEL_ASSIGN_OR_RETURN(
        Block * b,
        makeBlock(c_, bytes,
                  VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                      VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                  VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0));
    return BufferRef{b, 0};
  }
  void release(BufferRef buffer) override { freeBlock(c_, static_cast<Block*>(buffer.handle)); }
  Result<std::unique_ptr<Stream>> createStream() override {
    auto s = std::make_unique<VulkanStream>(c_);
    TESSEL_RETURN_IF_ERROR(s->init());
    return std::unique_ptr<Stream>(std::move(s));
  }
  Status upload(Stream& stream, const BufferRef& dst, const void* src, int64_t bytes) override {
    if (bytes <= 0) return Status::ok();
    auto& s = static_cast<VulkanStream&>(stream);
    TESSEL_ASSIGN_OR_RETURN(Block * staging, s.staging(bytes));
    std::memcpy(staging->mapped, src, static_cast<size_t>(bytes));
    Op op = blankOp();
    op.src = staging->buffer;
    op.dst = static_cast<Block*>(dst.handle)->buffer;
    op.region = {0, static_cast<VkDeviceSize>(dst.offset), static_cast<VkDeviceSize>(bytes)};
    s.add(op);
    return Status::ok();
  }
  Status download(Stream& stream, void* dst, const BufferRef& src, int64_t bytes) override {
    if (bytes <= 0) return Status::ok();
    auto& s = static_cast<VulkanStream&>(stream);
    TESSEL_ASSIGN_OR_RETURN(Block * staging, s.staging(bytes));
    s.readBack(dst, staging, bytes);
    Op op = blankOp();
    op.src = static_cast<Block*>(src.handle)->buffer;
    op.dst = staging->buffer;
    op.region = {static_cast<VkDeviceSize>(src.offset), 0, static_cast<VkDeviceSize>(bytes)};
    s.add(op);
    return Status::ok();
  }

private:
  Context& c_;
};

// A tensor as a dispatch binds it: where its bytes are and how many.
struct Bound {
  BufferRef ref;
  int64_t bytes;
};
Bound bound(const TensorArg& t) {
  return {t.buffer, t.desc->byteSize()};
}

// Where a dispatch's invocations go: `count` of them over workgroups of `groupSize` (x, then
// rows of those over y past the device's limit), `layers` times over z.
struct Grid {
  int64_t count;
  uint32_t groupSize = kGroupSize;
  uint32_t layers = 1;
};

// Records one dispatch of `pipeline` over `grid`, its tensors bound in order (output
// first) and its push constants, whose first uints are the tensors' element offsets in what is
// bound (filled here). Each tensor is bound through a window of its block that starts at the
// device's offset alignment below it and spans at most maxStorageBufferRange (an arena may be
// larger than one binding can reach; a tensor may not, supports() checks).
// Texel views for bindings 8 and 9 (shaders that read none leave them unwritten).
using Texels = std::array<VkBufferView, kTexelBindings>;

Status dispatch(const ExecContext& ctx, VkPipeline pipeline, std::span<const Bound> tensors,
                void* constants, uint32_t constantBytes, Grid grid, const Texels& texels = {}) {
  if (grid.count == 0 || grid.layers == 0) return Status::ok();
  if (tensors.size() > kBindings || tensors.empty() || constantBytes > kPushBytes)
    return internalError("vulkan: a dispatch's tensors or constants do not fit its layout");
  TESSEL_ASSIGN_OR_RETURN(Context * c, context());
  auto& s = *static_cast<VulkanStream*>(ctx.stream);
  const auto align = static_cast<int64_t>(
      std::max<VkDeviceSize>(c->properties.limits.minStorageBufferOffsetAlignment, 4));
  const auto maxRange = static_cast<int64_t>(c->properties.limits.maxStorageBufferRange);
  auto* offsets = static_cast<uint32_t*>(constants);
  Op op = blankOp();
  op.pipeline = pipeline;
  uint32_t b = 0;
  for (const Bound& t : tensors) {
    const auto* block = static_cast<const Block*>(t.ref.handle);
    const int64_t start = t.ref.offset / align * align;
    const int64_t range = std::min(block->bytes - start, maxRange);
    if (t.ref.offset + t.bytes > start + range)
      return internalError("vulkan: a tensor of " + std::to_string(t.bytes) +
                           " bytes is past what one binding reaches");
    offsets[b] =
        static_cast<uint32_t>((t.ref.offset - start) / static_cast<int64_t>(sizeof(float)));
    op.buffers[b++] = {block->buffer, static_cast<VkDeviceSize>(start),
                       static_cast<VkDeviceSize>(range)};
  }
  for (; b < kBindings; ++b) // unused bindings see the output's window
    op.buffers[b] = op.buffers[0];
  for (uint32_t t = 0; t < kTexelBindings; ++t)
    op.texels[t] = texels[t];
  op.constantBytes = constantBytes;
  std::memcpy(op.constants, constants, constantBytes);
  // Groups over x up to the device's limit, then rows of them over y.
  const int64_t groups = (grid.count + grid.groupSize - 1) / grid.groupSize;
  const int64_t maxX = c->properties.limits.maxComputeWorkGroupCount[0];
  const int64_t x = std::min(groups, maxX);
  op.groups[0] = static_cast<uint32_t>(x);
  op.groups[1] = static_cast<uint32_t>((groups + x - 1) / x);
  op.groups[2] = grid.layers;
  s.add(op);
  return Status::ok();
}

Status dispatch(const ExecContext& ctx, VkPipeline pipeline, std::initializer_list<Bound> tensors,
                void* constants, uint32_t constantBytes, int64_t count) {
  return dispatch(ctx, pipeline, std::span<const Bound>(tensors.begin(), tensors.size()), constants,
                  constantBytes, Grid{count});
}

// The same with the output and every input bound in order: binding i + 1 is input i, as the
// kernels with post-ops expect (shaders/operands.glsl).
Status dispatchAll(const ExecContext& ctx, VkPipeline pipeline, std::span<const TensorArg> inputs,
                   const TensorArg& output, void* constants, uint32_t constantBytes, Grid grid,
                   const Texels& texels = {}) {
  Bound all[kBindings];
  if (inputs.size() + 1 > kBindings) return internalError("vulkan: too many inputs");
  all[0] = bound(output);
  for (size_t i = 0; i < inputs.size(); ++i)
    all[i + 1] = bound(inputs[i]);
  return dispatch(ctx, pipeline, std::span<const Bound>(all, inputs.size() + 1), constants,
                  constantBytes, grid, texels);
}

// A kernel whose work is one pipeline (made at prepare) and a fixed set of push constants.
template <typename Constants> class OneDispatchKernel : public PreparedKernel {
public:
  OneDispatchKernel(VkPipeline pipeline, const Constants& k, Grid grid)
      : pipeline_(pipeline), k_(k), grid_(grid) {}

protected:
  VkPipeline pipeline_;
  Constants k_;
  Grid grid_;
};

// Whether a tensor starts on a 16-byte boundary: then its element offset in any window (which
// starts at a multiple of 4 or of 16 bytes) is a multiple of 4, as vec4 access needs.
bool vec4Aligned(const TensorArg& t) {
  return t.buffer.offset % 16 == 0;
}

// Unary; four elements an invocation (unary4.comp) when the count and both tensors allow.
class UnaryKernel final : public OneDispatchKernel<UnaryConstants> {
public:
  UnaryKernel(VkPipeline pipeline, VkPipeline vec4, const UnaryConstants& k)
      : OneDispatchKernel(pipeline, k, Grid{0}), vec4_(vec4) {}
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    UnaryConstants k = k_;
    const int64_t n = output.desc->numel();
    k.count = static_cast<uint32_t>(n);
    const bool four = n % 4 == 0 && vec4Aligned(output) && vec4Aligned(inputs[0]);
    return dispatch(ctx, four ? vec4_ : pipeline_, {bound(output), bound(inputs[0])}, &k, sizeof k,
                    four ? n / 4 : n);
  }
  std::string describe() const override { return "four elements an invocation where aligned"; }

private:
  VkPipeline vec4_;
};

// Binary; four output elements an invocation (binary4.comp) where the strides allow (decided at
// prepare) and the tensors are aligned (at run).
class BinaryKernel final : public OneDispatchKernel<BinaryConstants> {
public:
  BinaryKernel(VkPipeline pipeline, VkPipeline vec4, const BinaryConstants& k)
      : OneDispatchKernel(pipeline, k, Grid{0}), vec4_(vec4) {
    std::memcpy(k4_.dims, k.dims, sizeof k.dims);
    std::memcpy(k4_.aStrides, k.aStrides, sizeof k.aStrides);
    std::memcpy(k4_.bStrides, k.bStrides, sizeof k.bStrides);
    k4_.kind = k.kind;
    k4_.rank = k.rank;
  }
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    const int64_t n = output.desc->numel();
    const uint32_t last = k_.rank ? k_.rank - 1 : 0;
    const bool four = vec4_ && vec4Aligned(output) &&
                      (k_.aStrides[last] == 0 || vec4Aligned(inputs[0])) &&
                      (k_.bStrides[last] == 0 || vec4Aligned(inputs[1]));
    if (four) {
      Binary4Constants k = k4_;
      k.count = static_cast<uint32_t>(n);
      const Bound a = bound(inputs[0]), b = bound(inputs[1]);
      return dispatch(ctx, vec4_, {bound(output), a, b, a, b}, &k, sizeof k, n / 4);
    }
    BinaryConstants k = k_;
    k.count = static_cast<uint32_t>(n);
    return dispatch(ctx, pipeline_, {bound(output), bound(inputs[0]), bound(inputs[1])}, &k,
                    sizeof k, n);
  }

private:
  VkPipeline vec4_; // null where the strides do not allow it
  Binary4Constants k4_{};
};

class RasterKernel final : public PreparedKernel {
public:
  RasterKernel(VkPipeline pipeline, const RasterParams& r) : pipeline_(pipeline), r_(r) {}
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    const TensorDesc& out = *output.desc;
    const auto words = static_cast<uint32_t>(dtypeSize(out.dtype) / 4);
    const Bound y = bound(output);
    if (r_.fill) {
      uint32_t value[2] = {0, 0};
      storeDouble(out.dtype, *r_.fill, value);
      RasterConstants k{};
      k.count = static_cast<uint32_t>(out.numel());
      k.words = words;
      k.fill = 1;
      k.fillLo = value[0];
      k.fillHi = value[1];
      TESSEL_RETURN_IF_ERROR(dispatch(ctx, pipeline_, {y}, &k, sizeof k, out.numel()));
    }
    for (const Region& g : r_.regions) {
      const int64_t n = g.size[0] * g.size[1] * g.size[2];
      if (n == 0) continue;
      RasterConstants k{};
      k.count = static_cast<uint32_t>(n);
      k.words = words;
      k.srcOffset = static_cast<int32_t>(g.src.offset);
      k.dstOffset = static_cast<int32_t>(g.dst.offset);
      for (int a = 0; a < 3; ++a) {
        k.srcStride[a] = static_cast<int32_t>(g.src.stride[a]);
        k.dstStride[a] = static_cast<int32_t>(g.dst.stride[a]);
      }
      k.size1 = static_cast<uint32_t>(g.size[1]);
      k.size2 = static_cast<uint32_t>(g.size[2]);
      TESSEL_RETURN_IF_ERROR(dispatch(
          ctx, pipeline_, {y, bound(inputs[static_cast<size_t>(g.source)])}, &k, sizeof k, n));
    }
    return Status::ok();
  }

private:
  VkPipeline pipeline_;
  RasterParams r_;
};

// Reduce and pool: the output and one input.
template <typename Constants> class UnaryShapeKernel final : public OneDispatchKernel<Constants> {
public:
  using OneDispatchKernel<Constants>::OneDispatchKernel;
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    Constants k = this->k_;
    return dispatch(ctx, this->pipeline_, {bound(output), bound(inputs[0])}, &k, sizeof k,
                    this->grid_.count);
  }
};

// A kernel's own copy of constant data in the device (packed weights), read as vec4 texels.
class Packed {
public:
  Packed(Context& c, Block* block, VkBufferView view) : c_(c), block_(block), view_(view) {}
  ~Packed() {
    vkDestroyBufferView(c_.device, view_, nullptr);
    freeBlock(c_, block_);
  }
  VkBufferView view() const { return view_; }

private:
  Context& c_;
  Block* block_;
  VkBufferView view_;
};

// `data` (a whole number of vec4) in a block of the device, filled before this returns, with a
// view that reads it as vec4 texels: of float, or with `half` of IEEE half (half the bytes; a
// texel fetch gives floats either way).
Result<std::unique_ptr<Packed>> makePacked(Context& c, Device& device,
                                           const std::vector<float>& floats, bool half) {
  std::vector<uint16_t> halves;
  if (half) {
    halves.resize(floats.size());
    for (size_t i = 0; i < floats.size(); ++i)
      halves[i] = floatToHalf(floats[i]);
  }
  const void* data = half ? static_cast<const void*>(halves.data()) : floats.data();
  const auto bytes = static_cast<int64_t>(floats.size() * (half ? 2 : 4));
  TESSEL_ASSIGN_OR_RETURN(Block * block, makeBlock(c, bytes,
                                                   VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                                   VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0));
  VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  vi.buffer = block->buffer;
  vi.format = half ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
  vi.range = static_cast<VkDeviceSize>(bytes);
  VkBufferView view = VK_NULL_HANDLE;
  if (VkResult r = vkCreateBufferView(c.device, &vi, nullptr, &view); r != VK_SUCCESS) {
    freeBlock(c, block);
    return resourceExhausted(vkError("vkCreateBufferView", r));
  }
  auto packed = std::make_unique<Packed>(c, block, view);
  auto stream = device.createStream();
  if (!stream.isOk()) return stream.status();
  TESSEL_RETURN_IF_ERROR(device.upload(**stream, BufferRef{block, 0}, data, bytes));
  TESSEL_RETURN_IF_ERROR((*stream)->wait());
  return packed;
}

// Matmul, conv2d and elementwise: the output and every input (post-op operands among them).
template <typename Constants> class AllInputsKernel final : public OneDispatchKernel<Constants> {
public:
  AllInputsKernel(VkPipeline pipeline, const Constants& k, Grid grid, std::string describe)
      : OneDispatchKernel<Constants>(pipeline, k, grid), describe_(std::move(describe)) {}
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    Constants k = this->k_;
    return dispatchAll(ctx, this->pipeline_, inputs, output, &k, sizeof k, this->grid_);
  }
  std::string describe() const override { return describe_; }

private:
  std::string describe_;
};

// A texel view (float, or with `vec4` RGBA float) of the block under f32 tensor `t` that reaches
// all of it (made on first use, kept with the block), and the tensor's first float in it.
Result<std::pair<VkBufferView, uint32_t>> floatView(Context& c, const TensorArg& t,
                                                    bool vec4 = false) {
  const VkFormat format = vec4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT;
  const int64_t texel = vec4 ? 16 : 4;
  auto* block = static_cast<Block*>(t.buffer.handle);
  const auto align = static_cast<int64_t>(
      std::max<VkDeviceSize>(c.properties.limits.minTexelBufferOffsetAlignment, 4));
  const int64_t start = t.buffer.offset / align * align;
  const int64_t range =
      std::min(block->bytes - start,
               static_cast<int64_t>(c.properties.limits.maxTexelBufferElements) * texel) /
      texel * texel;
  if (t.buffer.offset + t.desc->byteSize() > start + range)
    return internalError("vulkan: a tensor of " + std::to_string(t.desc->byteSize()) +
                         " bytes is past what one texel view reaches");
  const auto first = static_cast<uint32_t>((t.buffer.offset - start) / 4);
  std::lock_guard<std::mutex> lock(block->viewMutex);
  if (auto it = block->views.find({start, format}); it != block->views.end())
    return std::make_pair(it->second, first);
  VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  vi.buffer = block->buffer;
  vi.format = format;
  vi.offset = static_cast<VkDeviceSize>(start);
  vi.range = static_cast<VkDeviceSize>(range);
  VkBufferView view = VK_NULL_HANDLE;
  if (VkResult r = vkCreateBufferView(c.device, &vi, nullptr, &view); r != VK_SUCCESS)
    return resourceExhausted(vkError("vkCreateBufferView", r));
  block->views.emplace(std::make_pair(start, format), view);
  return std::make_pair(view, first);
}

// Conv2d; with packed weights, its input read as float texels and the weights as vec4 texels;
// a pointwise one whose input rows are whole vec4 (x4_) reads its input as vec4 texels when the
// input starts on a 16-byte boundary.
class Conv2dKernel final : public PreparedKernel {
public:
  Conv2dKernel(Context& c, VkPipeline pipeline, VkPipeline x4, const Conv2dConstants& k, Grid grid,
               std::string describe, std::unique_ptr<Packed> packed)
      : c_(c), pipeline_(pipeline), x4_(x4), k_(k), grid_(grid), describe_(std::move(describe)),
        packed_(std::move(packed)) {}
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    Conv2dConstants k = k_;
    if (!packed_) return dispatchAll(ctx, pipeline_, inputs, output, &k, sizeof k, grid_);
    const bool four = x4_ && inputs[0].buffer.offset % 16 == 0;
    // Both views bound whichever the pipeline reads (each pipeline's code names both).
    TESSEL_ASSIGN_OR_RETURN(auto x, floatView(c_, inputs[0], false));
    TESSEL_ASSIGN_OR_RETURN(auto x4, floatView(c_, inputs[0], true));
    k.xTexel = four ? x4.second : x.second;
    // The weights (input 1) stay on the host: their binding sees the output instead.
    TensorArg bound[kBindings];
    if (inputs.size() > kBindings) return internalError("vulkan: too many inputs");
    std::copy(inputs.begin(), inputs.end(), bound);
    bound[1] = output;
    const Texels texels{x.first, packed_->view(), x4.first};
    return dispatchAll(ctx, four ? x4_ : pipeline_,
                       std::span<const TensorArg>(bound, inputs.size()), output, &k, sizeof k,
                       grid_, texels);
  }
  // Packed weights are the kernel's own: the session leaves the raw ones on the host.
  bool readsConstant(size_t input) const override { return !packed_ || input != 1; }
  std::string describe() const override { return describe_; }

private:
  Context& c_;
  VkPipeline pipeline_;
  VkPipeline x4_; // null unless pointwise with whole vec4 rows
  Conv2dConstants k_;
  Grid grid_;
  std::string describe_;
  std::unique_ptr<Packed> packed_;
};

// Gather: the output, the data, the indices, and the stream's fault word at binding 7.
class GatherKernel final : public OneDispatchKernel<GatherConstants> {
public:
  using OneDispatchKernel::OneDispatchKernel;
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    GatherConstants k = k_;
    auto& s = *static_cast<VulkanStream*>(ctx.stream);
    TESSEL_ASSIGN_OR_RETURN(Block * fault, s.faultWord());
    const Bound y = bound(output);
    const Bound all[kBindings] = {
        y, bound(inputs[0]), bound(inputs[1]), y, y, y, y, Bound{BufferRef{fault, 0}, 4}};
    return dispatch(ctx, pipeline_, std::span<const Bound>(all, kBindings), &k, sizeof k, grid_);
  }
};

// Select: the output, the condition, lhs, rhs.
class SelectKernel final : public OneDispatchKernel<SelectConstants> {
public:
  using OneDispatchKernel::OneDispatchKernel;
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    SelectConstants k = k_;
    k.condByte = static_cast<uint32_t>(inputs[0].buffer.offset % 4);
    return dispatch(ctx, pipeline_,
                    {bound(output), bound(inputs[0]), bound(inputs[1]), bound(inputs[2])}, &k,
                    sizeof k, grid_.count);
  }
};

using Kernel = std::unique_ptr<PreparedKernel>;

Result<Kernel> selectKernel(Context& c, const SelectParams& s, const TensorDesc& out) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe, c.pipeline(Shader::Select));
  SelectConstants k{};
  k.count = static_cast<uint32_t>(out.numel());
  k.rank = static_cast<uint32_t>(out.shape.size());
  k.words = static_cast<uint32_t>(dtypeSize(out.dtype) / 4);
  for (size_t d = 0; d < out.shape.size(); ++d) {
    k.dims[d] = static_cast<uint32_t>(out.shape[d]);
    k.condStrides[d] = static_cast<uint32_t>(s.condStrides[d]);
    k.lhsStrides[d] = static_cast<uint32_t>(s.lhsStrides[d]);
    k.rhsStrides[d] = static_cast<uint32_t>(s.rhsStrides[d]);
  }
  return Kernel(std::make_unique<SelectKernel>(pipe, k, Grid{out.numel()}));
}

Result<Kernel> gatherKernel(Context& c, const GatherParams& g, const TensorDesc& indices,
                            const TensorDesc& out) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe, c.pipeline(Shader::Gather));
  GatherConstants k{};
  k.outer = static_cast<uint32_t>(g.outer);
  k.extent = static_cast<uint32_t>(g.extent);
  k.inner = static_cast<uint32_t>(g.inner);
  const int64_t rows = g.outer * g.inner;
  k.count = static_cast<uint32_t>(rows > 0 ? out.numel() / rows : 0);
  k.words = static_cast<uint32_t>(dtypeSize(out.dtype) / 4);
  k.wide = indices.dtype == DType::I64 ? 1 : 0;
  k.elements = g.elements ? 1 : 0;
  return Kernel(std::make_unique<GatherKernel>(pipe, k, Grid{rows > 0 ? out.numel() : 0}));
}

Result<Kernel> unaryKernel(Context& c, const UnaryParams& u) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe, c.pipeline(Shader::Unary));
  TESSEL_ASSIGN_OR_RETURN(VkPipeline vec4, c.pipeline(Shader::Unary4));
  UnaryConstants k{0, 0, 0, static_cast<uint32_t>(u.kind), u.alpha, u.beta};
  return Kernel(std::make_unique<UnaryKernel>(pipe, vec4, k));
}

Result<Kernel> binaryKernel(Context& c, const BinaryParams& b, const Shape& out) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe, c.pipeline(Shader::Binary));
  BinaryConstants k{};
  k.kind = static_cast<uint32_t>(b.kind);
  k.rank = static_cast<uint32_t>(out.size());
  for (size_t d = 0; d < out.size(); ++d) {
    k.dims[d] = static_cast<uint32_t>(out[d]);
    k.aStrides[d] = static_cast<uint32_t>(b.lhsStrides[d]);
    k.bStrides[d] = static_cast<uint32_t>(b.rhsStrides[d]);
  }
  // Four at a time: the last dim a multiple of 4; each operand broadcast along it (stride 0) or
  // running along it (stride 1, its other strides multiples of 4, so a vec4 index).
  bool four = !out.empty() && out.back() % 4 == 0;
  for (const I64List* s : {&b.lhsStrides, &b.rhsStrides}) {
    const int64_t lastStride = four ? (*s)[out.size() - 1] : 0;
    four = four && (lastStride == 0 || lastStride == 1);
    for (size_t d = 0; four && lastStride == 1 && d + 1 < out.size(); ++d)
      four = (*s)[d] % 4 == 0;
  }
  VkPipeline vec4 = VK_NULL_HANDLE;
  if (four) {
    TESSEL_ASSIGN_OR_RETURN(vec4, c.pipeline(Shader::Binary4));
  }
  return Kernel(std::make_unique<BinaryKernel>(pipe, vec4, k));
}

// A reduction: one dispatch where an invocation may walk the whole extent (at most kChunk),
// else partials over chunks of kChunk in the workspace, then one dispatch combining them
// (shaders/reduce.comp).
class ReduceKernel final : public PreparedKernel {
public:
  static constexpr uint32_t kChunk = kMaxLoop;
  ReduceKernel(VkPipeline pipeline, const ReduceParams& r) : pipeline_(pipeline) {
    k_.outer = static_cast<uint32_t>(r.outer);
    k_.extent = static_cast<uint32_t>(r.extent);
    k_.inner = static_cast<uint32_t>(r.inner);
    k_.kind = static_cast<uint32_t>(r.kind);
    k_.selectLast = r.selectLast ? 1 : 0;
    k_.chunk = kChunk;
    k_.chunks = (k_.extent + kChunk - 1) / kChunk;
  }
  bool twoPass() const { return k_.extent > kChunk; }
  // The partials: a value and an index per (outer, chunk, inner), the indices at a 256-byte
  // boundary (every device's binding offset alignment).
  int64_t partials() const { return int64_t{k_.outer} * k_.chunks * k_.inner; }
  int64_t indicesAt() const { return (partials() * 4 + 255) / 256 * 256; }
  int64_t workspaceBytes(int) const override {
    return twoPass() ? indicesAt() + partials() * 4 : 0;
  }
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    const Bound y = bound(output), x = bound(inputs[0]);
    ReduceConstants k = k_;
    const int64_t outputs = int64_t{k_.outer} * k_.inner;
    if (!twoPass()) return dispatch(ctx, pipeline_, {y, x, y, y}, &k, sizeof k, outputs);
    const Bound values{ctx.workspace, partials() * 4};
    const Bound indices{BufferRef{ctx.workspace.handle, ctx.workspace.offset + indicesAt()},
                        partials() * 4};
    k.phase = 1;
    TESSEL_RETURN_IF_ERROR(
        dispatch(ctx, pipeline_, {y, x, values, indices}, &k, sizeof k, partials()));
    k = k_;
    k.phase = 2;
    return dispatch(ctx, pipeline_, {y, x, values, indices}, &k, sizeof k, outputs);
  }

private:
  VkPipeline pipeline_;
  ReduceConstants k_{};
};

Result<Kernel> reduceKernel(Context& c, const ReduceParams& r) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe, c.pipeline(Shader::Reduce));
  return Kernel(std::make_unique<ReduceKernel>(pipe, r));
}

Result<Kernel> poolKernel(Context& c, const PoolParams& p, const Shape& x, const Shape& y) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe, c.pipeline(Shader::Pool));
  PoolConstants k{};
  k.planes = static_cast<uint32_t>(x[0] * x[1]);
  k.h = static_cast<uint32_t>(x[2]);
  k.w = static_cast<uint32_t>(x[3]);
  k.oh = static_cast<uint32_t>(y[2]);
  k.ow = static_cast<uint32_t>(y[3]);
  k.kh = static_cast<int32_t>(p.kernel[0]);
  k.kw = static_cast<int32_t>(p.kernel[1]);
  k.sh = static_cast<int32_t>(p.stride[0]);
  k.sw = static_cast<int32_t>(p.stride[1]);
  k.pt = static_cast<int32_t>(p.pads[0]);
  k.pl = static_cast<int32_t>(p.pads[1]);
  k.pb = static_cast<int32_t>(p.pads[2]);
  k.pr = static_cast<int32_t>(p.pads[3]);
  k.kind = static_cast<uint32_t>(p.kind);
  k.countIncludePad = p.countIncludePad ? 1 : 0;
  return Kernel(std::make_unique<UnaryShapeKernel<PoolConstants>>(
      pipe, k, Grid{int64_t{k.planes} * k.oh * k.ow}));
}

Result<Kernel> matmulKernel(Context& c, const MatMulParams& p) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe,
                          c.pipeline(Shader::Matmul, gpu::encodePostOps(p.postOps)));
  MatMulConstants k{};
  k.batch = static_cast<uint32_t>(p.batch);
  k.m = static_cast<uint32_t>(p.m);
  k.n = static_cast<uint32_t>(p.n);
  k.k = static_cast<uint32_t>(p.k);
  for (int d = 0; d < 3; ++d) {
    k.aStrides[d] = static_cast<int32_t>(p.aStrides[d]);
    k.bStrides[d] = static_cast<int32_t>(p.bStrides[d]);
  }
  k.hasBias = p.hasBias ? 1 : 0;
  for (int d = 0; d < 2 && p.hasBias; ++d)
    k.biasStrides[d] = static_cast<int32_t>(p.biasStrides[d]);
  return Kernel(std::make_unique<AllInputsKernel<MatMulConstants>>(
      pipe, k, Grid{p.batch * p.m * p.n}, "direct"));
}

// Direct convolution: workgroups of 64 tiles of PX_TILE pixels of a row, one layer of them per
// tile of OC_TILE channels and image (shaders/conv2d.comp). Where the weights are constant, a
// group has at least 4 output channels and the device reads texel buffers (the input within one
// view), the kernel packs the weights as vec4 texels and reads its input as float texels
// (conv2d_texels), in tiles of 8 (or 4) channels by 4 pixels: on lavapipe resnet18 ran in 205 ms
// so against 520 ms through storage buffers; 8 x 2 was the fastest tile while the inner loop
// branched on padding, 8 x 4 (10-20% faster) once it did not. Otherwise it reads the weights as
// they are, in tiles of up to 4 channels (1 for a depthwise conv) by up to 4 pixels.
Result<Kernel> conv2dKernel(Context& c, Device& device, const Conv2dParams& p, const Shape& x,
                            const Shape& w, const Shape& y, const void* weights,
                            Precision precision) {
  // The input must fit one float texel view (less the offset alignment its start may lie above).
  const int64_t xBytes = TensorDesc{DType::F32, x}.byteSize() +
                         static_cast<int64_t>(c.properties.limits.minTexelBufferOffsetAlignment);
  Conv2dConstants k{};
  k.n = static_cast<uint32_t>(x[0]);
  k.c = static_cast<uint32_t>(x[1]);
  k.h = static_cast<uint32_t>(x[2]);
  k.w = static_cast<uint32_t>(x[3]);
  k.o = static_cast<uint32_t>(y[1]);
  k.oh = static_cast<uint32_t>(y[2]);
  k.ow = static_cast<uint32_t>(y[3]);
  k.groups = static_cast<uint32_t>(p.group);
  k.cg = static_cast<uint32_t>(w[1]);
  k.og = k.o / k.groups;
  k.sh = static_cast<int32_t>(p.stride[0]);
  k.sw = static_cast<int32_t>(p.stride[1]);
  k.pt = static_cast<int32_t>(p.pads[0]);
  k.pl = static_cast<int32_t>(p.pads[1]);
  k.dh = static_cast<int32_t>(p.dilation[0]);
  k.dw = static_cast<int32_t>(p.dilation[1]);
  k.hasBias = p.hasBias ? 1 : 0;
  const auto taps = static_cast<uint32_t>(w[2] * w[3]);
  const bool texels =
      c.texels && weights && k.og >= 4 &&
      xBytes <= static_cast<int64_t>(c.properties.limits.maxTexelBufferElements) * 4;
  const uint32_t ocTile = texels ? (k.og >= 8 ? 8 : 4) : std::clamp<uint32_t>(k.og, 1, 4);
  const uint32_t pxTile = std::clamp<uint32_t>(k.ow, 1, 4);
  k.ocBlocks = (k.og + ocTile - 1) / ocTile;
  k.pxBlocks = (k.ow + pxTile - 1) / pxTile;
  std::unique_ptr<Packed> packed;
  // With fp16 storage allowed, the packed weights are half where the device reads half texels.
  const bool half = texels && precision == Precision::F16Storage && c.halfTexels;
  if (texels) {
    k.packedBlocks = k.ocBlocks * (ocTile / 4);
    const uint64_t texelCount = uint64_t{k.groups} * k.packedBlocks * k.cg * taps;
    if (texelCount > c.properties.limits.maxTexelBufferElements)
      return conv2dKernel(c, device, p, x, w, y, nullptr, precision); // too many for one view
    std::vector<float> data(texelCount * 4, 0.f);
    const auto* src = static_cast<const float*>(weights);
    const size_t perChannel = size_t{k.cg} * taps;
    for (uint32_t g = 0; g < k.groups; ++g)
      for (uint32_t oc = 0; oc < k.og; ++oc)
        for (size_t i = 0; i < perChannel; ++i)
          data[(((size_t{g} * k.packedBlocks + oc / 4) * perChannel + i) * 4) + oc % 4] =
              src[(size_t{g} * k.og + oc) * perChannel + i];
    TESSEL_ASSIGN_OR_RETURN(packed, makePacked(c, device, data, half));
  }
  std::vector<uint32_t> spec = gpu::encodePostOps(p.postOps);
  spec.insert(spec.end(),
              {ocTile, pxTile, static_cast<uint32_t>(w[2]), static_cast<uint32_t>(w[3]), 0u});
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe,
                          c.pipeline(texels ? Shader::Conv2dTexels : Shader::Conv2d, spec));
  // Pointwise, unstrided, unpadded, over whole vec4 rows (and planes): four pixels a fetch.
  VkPipeline x4 = VK_NULL_HANDLE;
  const bool pointwise = w[2] == 1 && w[3] == 1 && k.sh == 1 && k.sw == 1 && k.pt == 0 &&
                         k.pl == 0 && k.ow == k.w && k.oh == k.h && k.w % 4 == 0 && pxTile == 4;
  if (texels && pointwise) {
    spec.back() = 1u;
    TESSEL_ASSIGN_OR_RETURN(x4, c.pipeline(Shader::Conv2dTexels, spec));
  }
  const Grid grid{int64_t{k.oh} * k.pxBlocks, 64, k.n * k.groups * k.ocBlocks};
  return Kernel(std::make_unique<Conv2dKernel>(c, pipe, x4, k, grid,
                                               std::string(half     ? "direct, packed f16 weights, "
                                                           : texels ? "direct, packed weights, "
                                                                    : "direct, ") +
                                                   std::to_string(ocTile) + " channels x " +
                                                   std::to_string(pxTile) + " pixels",
                                               std::move(packed)));
}

Result<Kernel> elementwiseKernel(Context& c, const ElementwiseParams& p, int64_t count) {
  TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe,
                          c.pipeline(Shader::Elementwise, gpu::encodePostOps(p.postOps)));
  ElementwiseConstants k{};
  k.count = static_cast<uint32_t>(count);
  k.channels = static_cast<uint32_t>(std::max<int64_t>(p.channels, 1));
  k.inner = static_cast<uint32_t>(std::max<int64_t>(p.inner, 1));
  return Kernel(std::make_unique<AllInputsKernel<ElementwiseConstants>>(pipe, k, Grid{count}, ""));
}

// What this device allows a kernel (backends/gpu/gpu_support.h): a tensor one binding reaches
// (maxStorageBufferRange, less the offset alignment a window may start below it), loops of at
// most 32768 iterations (lavapipe ends a shader's loops after 65535 in all), and conv2d layers
// up to the workgroup count's z limit. Nothing without a device.
Result<gpu::Limits> limits() {
  TESSEL_ASSIGN_OR_RETURN(Context * c, context());
  const VkPhysicalDeviceLimits& l = c->properties.limits;
  gpu::Limits g;
  g.maxTensorBytes = static_cast<int64_t>(l.maxStorageBufferRange) -
                     static_cast<int64_t>(l.minStorageBufferOffsetAlignment);
  g.maxLoop = kMaxLoop;
  g.maxReduceExtent = g.maxLoop * g.maxLoop; // in two passes (ReduceKernel)
  g.maxConvLayers = l.maxComputeWorkGroupCount[2];
  return g;
}

class VulkanDescriptor final : public BackendDescriptor {
public:
  std::string_view name() const override { return "vulkan"; }
  std::string_view memorySpace() const override { return kSpace; }
  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    auto l = limits();
    return l.isOk() && gpu::supports(p, t, *l);
  }
  double estimateSeconds(const Primitive& p, const std::vector<TensorDesc>& t, const KernelChoice&,
                         int) const override {
    return gpu::roughSeconds(p, t);
  }
};

class VulkanBackend final : public Backend {
public:
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override {
    TESSEL_ASSIGN_OR_RETURN(Context * c, context());
    static std::shared_ptr<Device> device = std::make_shared<VulkanDevice>(*c);
    return device;
  }
  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& args,
                                                  Device& device) const override {
    const Primitive& p = *args.primitive;
    const std::vector<TensorDesc>& t = *args.tensors;
    if (!descriptor_.supports(p, t)) return unsupported("vulkan: primitive not supported");
    TESSEL_ASSIGN_OR_RETURN(Context * c, context());
    switch (p.kind()) {
    case PrimitiveKind::Unary: return unaryKernel(*c, p.as<UnaryParams>());
    case PrimitiveKind::Binary:
      return binaryKernel(*c, p.as<BinaryParams>(), t[p.outputs[0]].shape);
    case PrimitiveKind::Raster: {
      TESSEL_ASSIGN_OR_RETURN(VkPipeline pipe, c->pipeline(Shader::Raster));
      return Kernel(std::make_unique<RasterKernel>(pipe, p.as<RasterParams>()));
    }
    case PrimitiveKind::Reduce: return reduceKernel(*c, p.as<ReduceParams>());
    case PrimitiveKind::MatMul: return matmulKernel(*c, p.as<MatMulParams>());
    case PrimitiveKind::Pool:
      return poolKernel(*c, p.as<PoolParams>(), t[p.inputs[0]].shape, t[p.outputs[0]].shape);
    case PrimitiveKind::Conv2d:
      return conv2dKernel(*c, device, p.as<Conv2dParams>(), t[p.inputs[0]].shape,
                          t[p.inputs[1]].shape, t[p.outputs[0]].shape,
                          args.constants.size() > 1 ? args.constants[1] : nullptr, args.precision);
    case PrimitiveKind::Elementwise:
      return elementwiseKernel(*c, p.as<ElementwiseParams>(), t[p.outputs[0]].numel());
    case PrimitiveKind::Gather:
      return gatherKernel(*c, p.as<GatherParams>(), t[p.inputs[1]], t[p.outputs[0]]);
    case PrimitiveKind::Select: return selectKernel(*c, p.as<SelectParams>(), t[p.outputs[0]]);
    default: return unsupported("vulkan: primitive not supported");
    }
  }

private:
  VulkanDescriptor descriptor_;
};

// Registering costs nothing but loading this library and the Vulkan loader: the instance and
// device (which load the driver, lavapipe's LLVM included) are made the first time the planner
// asks this backend about a primitive or a session asks for its device; without a device it
// supports nothing, and a session that asks for it by name gets the reason.
Status registerPlugin(BackendRegistry& registry) {
  registry.add(std::make_unique<VulkanBackend>());
  return Status::ok();
}

} // namespace
} // namespace tessel

TESSEL_BACKEND_PLUGIN(tessel::registerPlugin)
