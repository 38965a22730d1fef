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
#include "shader_kernels.h"
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
// Storage buffers per dispatch (the output, then inputs), then uniform texel buffers: binding 8
// a tensor read as float texels, binding 9 a kernel's packed weights as vec4 texels, binding 10
// a tensor read as vec4 texels (backends/gpu/shader_kernels.h).
using gpu::kBindings;
using gpu::kMaxLoop;
using gpu::kPushBytes;
using gpu::kTexelBindings;
using gpu::Shader;

// The shaders' SPIR-V and `kShaders` (in gpu::Shader's order), generated from shaders.cmake's
// list; each is made into pipelines on first use (one per specialization).
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
  bool texels = false;             // float and vec4 uniform texel buffers can be read
  bool halfTexels = false;         // and vec4 of half (R16G16B16A16_SFLOAT)
  bool subgroupArithmetic = false; // compute shaders have subgroup arithmetic
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
  VkPhysicalDeviceSubgroupProperties subgroup{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 properties2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  properties2.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(c.physical, &properties2);
  const VkSubgroupFeatureFlags wanted =
      VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
  c.subgroupArithmetic = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                         (subgroup.supportedOperations & wanted) == wanted;
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
  Result<Block*> faultWord(const char* why) {
    if (!fault_) {
      const VkMemoryPropertyFlags host =
          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      TESSEL_ASSIGN_OR_RETURN(fault_,
                              makeBlock(c_, 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, host, host));
      std::memset(fault_->mapped, 0, 4);
    }
    checkFault_ = true;
    faultWhy_ = why;
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
      st = invalidArgument(std::string("vulkan: ") + faultWhy_);
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
  const char* faultWhy_ = ""; // a literal: the last kernel's reason
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

// A kernel's packed weights: a block of the device with a view that reads it as vec4 texels.
class VulkanPacked final : public gpu::Packed {
public:
  VulkanPacked(Context& c, Block* block, VkBufferView view) : c_(c), block_(block), view_(view) {}
  ~VulkanPacked() override {
    vkDestroyBufferView(c_.device, view_, nullptr);
    freeBlock(c_, block_);
  }
  VkBufferView view() const { return view_; }

private:
  Context& c_;
  Block* block_;
  VkBufferView view_;
};

// A texel view (float, or with `vec4` RGBA float) of the block under tensor `t` that reaches all
// of it (made on first use, kept with the block), and the tensor's first float in it. Views start
// at the texel offset alignment below the tensor.
Result<std::pair<VkBufferView, uint32_t>> floatView(Context& c, const gpu::Bound& t, bool vec4) {
  const VkFormat format = vec4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT;
  const int64_t texel = vec4 ? 16 : 4;
  auto* block = static_cast<Block*>(t.ref.handle);
  const auto align = static_cast<int64_t>(
      std::max<VkDeviceSize>(c.properties.limits.minTexelBufferOffsetAlignment, 4));
  const int64_t start = t.ref.offset / align * align;
  const int64_t range =
      std::min(block->bytes - start,
               static_cast<int64_t>(c.properties.limits.maxTexelBufferElements) * texel) /
      texel * texel;
  if (t.ref.offset + t.bytes > start + range)
    return internalError("vulkan: a tensor of " + std::to_string(t.bytes) +
                         " bytes is past what one texel view reaches");
  const auto first = static_cast<uint32_t>((t.ref.offset - start) / 4);
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

// The shader kernels' executor (backends/gpu/shader_kernels.h) on this device.
class VulkanExecutor final : public gpu::ShaderExecutor {
public:
  explicit VulkanExecutor(Context& c) : c_(c) {
    const VkPhysicalDeviceLimits& l = c.properties.limits;
    info_.texels = c.texels;
    info_.halfTexels = c.halfTexels;
    info_.subgroupArithmetic = c.subgroupArithmetic;
    const VkPhysicalDeviceType type = c.properties.deviceType;
    info_.flopsPerSecond = gpu::nominalFlops(
        type == VK_PHYSICAL_DEVICE_TYPE_CPU            ? gpu::DeviceKind::Cpu
        : type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? gpu::DeviceKind::Discrete
                                                       : gpu::DeviceKind::Integrated);
    info_.maxTexels = l.maxTexelBufferElements;
    info_.texelAlignment =
        static_cast<int64_t>(std::max<VkDeviceSize>(l.minTexelBufferOffsetAlignment, 4));
  }
  const gpu::ExecutorInfo& info() const override { return info_; }

  Result<gpu::Pipeline> pipeline(Shader shader, std::span<const uint32_t> spec) override {
    TESSEL_ASSIGN_OR_RETURN(VkPipeline p, c_.pipeline(shader, spec));
    return static_cast<gpu::Pipeline>(p);
  }

  // The data in a device block of its own, filled before this returns, with a view that reads it
  // as vec4 texels (half ones give floats too).
  Result<std::unique_ptr<gpu::Packed>> pack(Device& device, const void* data, int64_t bytes,
                                            bool half) override {
    TESSEL_ASSIGN_OR_RETURN(Block * block, makeBlock(c_, bytes,
                                                     VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                                                         VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                                     VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0));
    VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
    vi.buffer = block->buffer;
    vi.format = half ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
    vi.range = static_cast<VkDeviceSize>(bytes);
    VkBufferView view = VK_NULL_HANDLE;
    if (VkResult r = vkCreateBufferView(c_.device, &vi, nullptr, &view); r != VK_SUCCESS) {
      freeBlock(c_, block);
      return resourceExhausted(vkError("vkCreateBufferView", r));
    }
    auto packed = std::make_unique<VulkanPacked>(c_, block, view);
    TESSEL_ASSIGN_OR_RETURN(auto stream, device.createStream());
    TESSEL_RETURN_IF_ERROR(device.upload(*stream, BufferRef{block, 0}, data, bytes));
    TESSEL_RETURN_IF_ERROR(stream->wait());
    return std::unique_ptr<gpu::Packed>(std::move(packed));
  }

  Result<BufferRef> faultWord(Stream& stream, const char* why) override {
    TESSEL_ASSIGN_OR_RETURN(Block * fault, static_cast<VulkanStream&>(stream).faultWord(why));
    return BufferRef{fault, 0};
  }

  // One dispatch step. Each tensor is bound through a window of its block that starts at the
  // device's offset alignment below it and spans at most maxStorageBufferRange (an arena may be
  // larger than one binding reaches; a tensor may not, supports() checks); its element offset in
  // the window goes to its constant word. Unused bindings see the output's window.
  Status launch(Stream& stream, gpu::Launch& l) override {
    const auto align = static_cast<int64_t>(
        std::max<VkDeviceSize>(c_.properties.limits.minStorageBufferOffsetAlignment, 4));
    const auto maxRange = static_cast<int64_t>(c_.properties.limits.maxStorageBufferRange);
    Op op = blankOp();
    op.pipeline = static_cast<VkPipeline>(const_cast<void*>(l.pipeline));
    uint32_t offsets[kBindings];
    for (uint32_t b = 0; b < l.bufferCount; ++b) {
      const gpu::Bound& t = l.buffers[b];
      const auto* block = static_cast<const Block*>(t.ref.handle);
      const int64_t start = t.ref.offset / align * align;
      const int64_t range = std::min(block->bytes - start, maxRange);
      if (t.ref.offset + t.bytes > start + range)
        return internalError("vulkan: a tensor of " + std::to_string(t.bytes) +
                             " bytes is past what one binding reaches");
      offsets[b] = static_cast<uint32_t>((t.ref.offset - start) / 4);
      op.buffers[b] = {block->buffer, static_cast<VkDeviceSize>(start),
                       static_cast<VkDeviceSize>(range)};
    }
    std::memcpy(l.constants, offsets, l.bufferCount * sizeof(uint32_t));
    for (uint32_t b = l.bufferCount; b < kBindings; ++b)
      op.buffers[b] = op.buffers[0];
    if (l.texelTensor) {
      // Both views bound whichever the pipeline reads (the validation layer counts a binding any
      // branch names); they start at the same byte, so the first float is the same.
      TESSEL_ASSIGN_OR_RETURN(auto x, floatView(c_, l.buffers[1], false));
      TESSEL_ASSIGN_OR_RETURN(auto x4, floatView(c_, l.buffers[1], true));
      std::memcpy(l.constants + l.texelWord * 4, &x.second, 4);
      op.texels[0] = x.first;
      op.texels[2] = x4.first;
    }
    if (l.packed) op.texels[1] = static_cast<const VulkanPacked*>(l.packed)->view();
    op.constantBytes = l.constantBytes;
    std::memcpy(op.constants, l.constants, l.constantBytes);
    // Groups over x up to the device's limit, then rows of them over y.
    const int64_t groups = (l.grid.count + l.grid.groupSize - 1) / l.grid.groupSize;
    const int64_t maxX = c_.properties.limits.maxComputeWorkGroupCount[0];
    const int64_t x = std::min(groups, maxX);
    op.groups[0] = static_cast<uint32_t>(x);
    op.groups[1] = static_cast<uint32_t>((groups + x - 1) / x);
    op.groups[2] = l.grid.layers;
    static_cast<VulkanStream&>(stream).add(op);
    return Status::ok();
  }

private:
  Context& c_;
  gpu::ExecutorInfo info_;
};

Result<VulkanExecutor*> executor() {
  TESSEL_ASSIGN_OR_RETURN(Context * c, context());
  static VulkanExecutor exec(*c);
  return &exec;
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
  g.maxReduceExtent = g.maxLoop * g.maxLoop; // in two passes (shader_kernels.cpp)
  g.reduceChunk = kMaxLoop;
  g.maxConvLayers = l.maxComputeWorkGroupCount[2];
  return g;
}

Result<gpu::ShaderExecutor*> shaderExecutor() {
  TESSEL_ASSIGN_OR_RETURN(VulkanExecutor * exec, executor());
  return static_cast<gpu::ShaderExecutor*>(exec);
}

std::string deviceSignature() {
  auto c = context();
  if (!c.isOk()) return "";
  const VkPhysicalDeviceProperties& p = (*c)->properties;
  return std::string(p.deviceName) + " (driver " + std::to_string(p.driverVersion) + ", vendor " +
         std::to_string(p.vendorID) + ", device " + std::to_string(p.deviceID) + ")";
}

Result<std::shared_ptr<Device>> device() {
  TESSEL_ASSIGN_OR_RETURN(Context * c, context());
  static std::shared_ptr<Device> made = std::make_shared<VulkanDevice>(*c);
  return made;
}

// Registering costs nothing but loading this library and the Vulkan loader: the instance and
// device (which load the driver, lavapipe's LLVM included) are made the first time the planner
// asks this backend about a primitive or a session asks for its device; without a device it
// supports nothing, and a session that asks for it by name gets the reason.
Status registerPlugin(BackendRegistry& registry) {
  registry.add(
      gpu::makeShaderBackend({"vulkan", kSpace, limits, shaderExecutor, device, deviceSignature}));
  return Status::ok();
}

} // namespace
} // namespace tessel

TESSEL_BACKEND_PLUGIN(tessel::registerPlugin)
