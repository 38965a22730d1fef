// The Metal backend (a plugin: libtessel_backend_metal.dylib, built only on macOS). One Metal
// device per process (MTLCreateSystemDefaultDevice), found on first use; tensors live in its
// private buffers (memory space "metal"); kernels are the shader kernels of backends/gpu (the
// same decisions as the Vulkan backend's), running the MSL generated from the Vulkan shaders
// (README.md: the fixed indices), compiled from source by the driver on first use, one
// MTLComputePipelineState per shader and function-constant values. A session's stream collects
// steps and submits them as one command buffer when the session waits on it.
//
// Objective-C++ with ARC. Linux builds and checks the MSL; this file compiles and runs only on a
// Mac (README.md says what only a Mac can verify).
#include "shader_kernels.h"
#include "tessel/runtime/backend.h"

#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tessel {
namespace {

constexpr std::string_view kSpace = "metal";
constexpr NSUInteger kConstantsIndex = 8; // push constants: [[buffer(8)]]
// Texels one texture buffer reaches: Metal's feature tables give 2^28 on the GPUs of macOS 11
// and later; 2^26 keeps to what every Metal 2 device takes.
constexpr int64_t kMaxTexels = int64_t{1} << 26;
using gpu::kBindings;
using gpu::Shader;

// The generated MSL, one source per shader in gpu::Shader's order (msl_sources.inc).
const char* const kMslSources[] = {
#include "msl_sources.inc"
};
static_assert(std::size(kMslSources) == std::size(gpu::kShaderNames), "one MSL source per shader");

std::string describe(NSError* error) {
  return error ? std::string([[error localizedDescription] UTF8String]) : std::string("no reason");
}

struct Context {
  id<MTLDevice> device = nil;
  id<MTLCommandQueue> queue = nil;
  std::mutex mutex; // libraries and pipelines
  id<MTLLibrary> libraries[std::size(gpu::kShaderNames)] = {};
  std::map<std::vector<uint32_t>, id<MTLComputePipelineState>> pipelines; // shader, then spec

  Result<id<MTLComputePipelineState>> pipeline(Shader shader, std::span<const uint32_t> spec);
};

Status createContext(Context& c) {
  @autoreleasepool {
    c.device = MTLCreateSystemDefaultDevice();
    if (!c.device) return unsupported("metal: no Metal device");
    c.queue = [c.device newCommandQueue];
    if (!c.queue) return internalError("metal: the device gave no command queue");
    return Status::ok();
  }
}

Result<Context*> context() {
  return gpu::processContext<Context>(createContext);
}

// `shader` with function constant i = spec[i], each given the type the function declares for it
// (uint, or float for a post-op's alpha and beta: their bits as spec words). The library is
// compiled from source on the shader's first use (fast math off: the kernels must agree with the
// reference backend); pipelines are kept for the process.
Result<id<MTLComputePipelineState>> Context::pipeline(Shader shader,
                                                      std::span<const uint32_t> spec) {
  std::vector<uint32_t> key{static_cast<uint32_t>(shader)};
  key.insert(key.end(), spec.begin(), spec.end());
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = pipelines.find(key); it != pipelines.end()) return it->second;
  @autoreleasepool {
    const auto index = static_cast<size_t>(shader);
    const std::string name = std::string("tessel_") + gpu::kShaderNames[index];
    NSError* error = nil;
    if (!libraries[index]) {
      MTLCompileOptions* options = [MTLCompileOptions new];
      // MSL 2.1, what the shaders are generated for; 2.3 where the OS has it (macOS 11), which
      // the SIMD-group reductions of reduce_subgroup need.
      options.languageVersion = MTLLanguageVersion2_1;
      if (@available(macOS 11.0, iOS 14.0, *)) options.languageVersion = MTLLanguageVersion2_3;
      options.fastMathEnabled = NO;
      libraries[index] = [device newLibraryWithSource:@(kMslSources[index])
                                              options:options
                                                error:&error];
      if (!libraries[index])
        return internalError("metal: compiling " + name + " failed: " + describe(error));
    }
    id<MTLLibrary> library = libraries[index];
    NSString* entry = @(name.c_str());
    // The declared constants' types, by index.
    id<MTLFunction> plain = [library newFunctionWithName:entry];
    if (!plain) return internalError("metal: " + name + " is not in its library");
    std::map<NSUInteger, MTLDataType> types;
    for (MTLFunctionConstant* fc in [plain.functionConstantsDictionary allValues])
      types[fc.index] = fc.type;
    MTLFunctionConstantValues* values = [MTLFunctionConstantValues new];
    for (size_t i = 0; i < spec.size(); ++i) {
      auto t = types.find(i);
      if (t == types.end()) continue; // a constant this variant does not read
      if (t->second != MTLDataTypeUInt && t->second != MTLDataTypeFloat)
        return internalError("metal: " + name + "'s function constant " + std::to_string(i) +
                             " is neither uint nor float");
      const uint32_t word = spec[i]; // a float's bits are the float
      [values setConstantValue:&word type:t->second atIndex:i];
    }
    id<MTLFunction> function = [library newFunctionWithName:entry
                                             constantValues:values
                                                      error:&error];
    if (!function) return internalError("metal: specializing " + name + ": " + describe(error));
    id<MTLComputePipelineState> made = [device newComputePipelineStateWithFunction:function
                                                                             error:&error];
    if (!made) return internalError("metal: the pipeline of " + name + ": " + describe(error));
    pipelines.emplace(std::move(key), made);
    return made;
  }
}

// A buffer of the device (the arenas, packed weights: private; staging: shared), with the
// texture views of it that kernels read as texels, made on first use and kept with it.
struct Block {
  id<MTLBuffer> buffer = nil;
  int64_t bytes = 0;
  std::mutex viewMutex;
  std::map<std::pair<int64_t, MTLPixelFormat>, id<MTLTexture>> views;
};

// Blit copies take whole 4-byte words on macOS: blocks are made in multiples of 256 bytes, and
// tensors start at the arena's 64-byte alignment, so a copy rounded up stays in its block.
int64_t roundCopy(int64_t bytes) {
  return (bytes + 3) / 4 * 4;
}

// Blocks are whole multiples of 256 bytes: every texture-buffer alignment divides that, so a view
// from an aligned start to the block's end is a whole number of aligned rows.
Result<Block*> makeBlock(Context& c, int64_t bytes, MTLResourceOptions options) {
  auto* b = new Block();
  b->bytes = std::max<int64_t>((bytes + 255) / 256 * 256, 256);
  b->buffer = [c.device newBufferWithLength:static_cast<NSUInteger>(b->bytes) options:options];
  if (!b->buffer) {
    delete b;
    return resourceExhausted("metal: allocating " + std::to_string(bytes) + " bytes failed");
  }
  return b;
}

void freeBlock(Block* b) {
  delete b; // ARC releases the buffer and its views
}

// The texture-buffer alignment of `format` on this device (at least 16 bytes).
int64_t textureAlignment(Context& c, MTLPixelFormat format) {
  return static_cast<int64_t>(
      std::max<NSUInteger>([c.device minimumTextureBufferAlignmentForPixelFormat:format], 16));
}

// A texture buffer of `width` texels of `format` over `block` from byte `start` (aligned), its
// row padded to the alignment (inside the block: see makeBlock).
id<MTLTexture> textureView(Context& c, Block* block, int64_t start, int64_t width,
                           MTLPixelFormat format, int64_t texel) {
  @autoreleasepool {
    const int64_t align = textureAlignment(c, format);
    MTLTextureDescriptor* d =
        [MTLTextureDescriptor textureBufferDescriptorWithPixelFormat:format
                                                               width:static_cast<NSUInteger>(width)
                                                     resourceOptions:block->buffer.resourceOptions
                                                               usage:MTLTextureUsageShaderRead];
    return [block->buffer
        newTextureWithDescriptor:d
                          offset:static_cast<NSUInteger>(start)
                     bytesPerRow:static_cast<NSUInteger>((width * texel + align - 1) / align *
                                                         align)];
  }
}

// A texture view (R32Float, or with `vec4` RGBA32Float) of the block under `t` that reaches all
// of it, and the tensor's first float in it. Both views start at the same byte (the larger of the
// two formats' alignments below the tensor), so the first float is the same in both.
Result<std::pair<id<MTLTexture>, uint32_t>> floatView(Context& c, const gpu::Bound& t, bool vec4) {
  const MTLPixelFormat format = vec4 ? MTLPixelFormatRGBA32Float : MTLPixelFormatR32Float;
  const int64_t texel = vec4 ? 16 : 4;
  auto* block = static_cast<Block*>(t.ref.handle);
  const int64_t align = std::max(textureAlignment(c, MTLPixelFormatR32Float),
                                 textureAlignment(c, MTLPixelFormatRGBA32Float));
  const int64_t start = t.ref.offset / align * align;
  const int64_t width = std::min((block->bytes - start) / texel, kMaxTexels);
  if (t.ref.offset + t.bytes > start + width * texel)
    return internalError("metal: a tensor of " + std::to_string(t.bytes) +
                         " bytes is past what one texture buffer reaches");
  const auto first = static_cast<uint32_t>((t.ref.offset - start) / 4);
  std::lock_guard<std::mutex> lock(block->viewMutex);
  if (auto it = block->views.find({start, format}); it != block->views.end())
    return std::make_pair(it->second, first);
  id<MTLTexture> view = textureView(c, block, start, width, format, texel);
  if (!view) return resourceExhausted("metal: a texture view of a buffer could not be made");
  block->views.emplace(std::make_pair(start, format), view);
  return std::make_pair(view, first);
}

// One step of a stream: a dispatch or a copy.
struct Op {
  id<MTLComputePipelineState> pipeline = nil; // nil for a copy
  id<MTLBuffer> buffers[kBindings] = {};
  id<MTLTexture> textures[gpu::kTexelBindings] = {};
  uint32_t constantBytes = 0;
  uint8_t constants[gpu::kPushBytes] = {};
  MTLSize groups{0, 0, 0};
  NSUInteger groupSize = 0;
  id<MTLBuffer> src = nil, dst = nil;
  NSUInteger srcOffset = 0, dstOffset = 0, bytes = 0;
};

// A session's stream. Kernels and copies add steps; wait() encodes them into one command buffer
// (compute and blit encoders in order: Metal orders the hazards between them on these tracked
// buffers), commits it and waits for it. Downloads land in the caller's memory when the wait
// returns.
class MetalStream final : public Stream {
public:
  explicit MetalStream(Context& c) : c_(c) {}
  ~MetalStream() override {
    (void)wait();
    for (Block* b : slots_)
      freeBlock(b);
    freeBlock(fault_);
  }

  void add(Op op) { ops_.push_back(std::move(op)); }

  Result<Block*> faultWord(const char* why) {
    if (!fault_) {
      TESSEL_ASSIGN_OR_RETURN(fault_, makeBlock(c_, 4, MTLResourceStorageModeShared));
      std::memset([fault_->buffer contents], 0, 4);
    }
    checkFault_ = true;
    faultWhy_ = why;
    return fault_;
  }

  // A shared block of at least `bytes` for the submission's next copy (the i-th copy of a
  // submission reuses slot i, grown when too small).
  Result<Block*> staging(int64_t bytes) {
    if (next_ == slots_.size()) slots_.push_back(nullptr);
    Block*& slot = slots_[next_++];
    if (!slot || slot->bytes < roundCopy(bytes)) {
      freeBlock(slot); // the last submission that used it has completed
      slot = nullptr;
      TESSEL_ASSIGN_OR_RETURN(slot, makeBlock(c_, bytes, MTLResourceStorageModeShared));
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
        std::memcpy(rd.dst, [rd.staging->buffer contents], static_cast<size_t>(rd.bytes));
    if (st.isOk() && checkFault_ && *static_cast<uint32_t*>([fault_->buffer contents]) != 0)
      st = invalidArgument(std::string("metal: ") + faultWhy_);
    if (checkFault_) std::memset([fault_->buffer contents], 0, 4);
    checkFault_ = false;
    ops_.clear();
    reads_.clear();
    next_ = 0;
    return st;
  }

private:
  struct Read {
    void* dst;
    Block* staging;
    int64_t bytes;
  };

  Status submit() {
    @autoreleasepool {
      id<MTLCommandBuffer> cmd = [c_.queue commandBuffer];
      if (!cmd) return internalError("metal: the queue gave no command buffer");
      id<MTLComputeCommandEncoder> compute = nil;
      id<MTLBlitCommandEncoder> blit = nil;
      for (const Op& op : ops_) {
        if (op.pipeline) {
          if (blit) {
            [blit endEncoding];
            blit = nil;
          }
          if (!compute) compute = [cmd computeCommandEncoder];
          [compute setComputePipelineState:op.pipeline];
          for (NSUInteger b = 0; b < kBindings; ++b)
            [compute setBuffer:op.buffers[b] offset:0 atIndex:b];
          for (NSUInteger t = 0; t < gpu::kTexelBindings; ++t)
            if (op.textures[t]) [compute setTexture:op.textures[t] atIndex:t];
          [compute setBytes:op.constants length:op.constantBytes atIndex:kConstantsIndex];
          [compute dispatchThreadgroups:op.groups
                  threadsPerThreadgroup:MTLSizeMake(op.groupSize, 1, 1)];
        } else {
          if (compute) {
            [compute endEncoding];
            compute = nil;
          }
          if (!blit) blit = [cmd blitCommandEncoder];
          [blit copyFromBuffer:op.src
                   sourceOffset:op.srcOffset
                       toBuffer:op.dst
              destinationOffset:op.dstOffset
                           size:op.bytes];
        }
      }
      if (compute) [compute endEncoding];
      if (blit) [blit endEncoding];
      [cmd commit];
      [cmd waitUntilCompleted];
      if (cmd.status == MTLCommandBufferStatusError)
        return internalError("metal: a run failed: " + describe(cmd.error));
      return Status::ok();
    }
  }

  Context& c_;
  std::vector<Op> ops_;
  std::vector<Block*> slots_;
  size_t next_ = 0;
  std::vector<Read> reads_;
  Block* fault_ = nullptr;
  bool checkFault_ = false;
  const char* faultWhy_ = ""; // a literal: the last kernel's reason
};

class MetalDevice final : public Device {
public:
  explicit MetalDevice(Context& c) : c_(c) {}
  std::string_view memorySpace() const override { return kSpace; }
  Result<BufferRef> allocate(int64_t bytes) override {
    TESSEL_ASSIGN_OR_RETURN(Block * b, makeBlock(c_, bytes, MTLResourceStorageModePrivate));
    return BufferRef{b, 0};
  }
  void release(BufferRef buffer) override { freeBlock(static_cast<Block*>(buffer.handle)); }
  Result<std::unique_ptr<Stream>> createStream() override {
    return std::unique_ptr<Stream>(std::make_unique<MetalStream>(c_));
  }
  Status upload(Stream& stream, const BufferRef& dst, const void* src, int64_t bytes) override {
    if (bytes <= 0) return Status::ok();
    auto& s = static_cast<MetalStream&>(stream);
    TESSEL_ASSIGN_OR_RETURN(Block * staging, s.staging(bytes));
    std::memcpy([staging->buffer contents], src, static_cast<size_t>(bytes));
    Op op;
    op.src = staging->buffer;
    op.dst = static_cast<Block*>(dst.handle)->buffer;
    op.dstOffset = static_cast<NSUInteger>(dst.offset);
    op.bytes = static_cast<NSUInteger>(roundCopy(bytes));
    s.add(std::move(op));
    return Status::ok();
  }
  Status download(Stream& stream, void* dst, const BufferRef& src, int64_t bytes) override {
    if (bytes <= 0) return Status::ok();
    auto& s = static_cast<MetalStream&>(stream);
    TESSEL_ASSIGN_OR_RETURN(Block * staging, s.staging(bytes));
    s.readBack(dst, staging, bytes);
    Op op;
    op.src = static_cast<Block*>(src.handle)->buffer;
    op.srcOffset = static_cast<NSUInteger>(src.offset);
    op.dst = staging->buffer;
    op.bytes = static_cast<NSUInteger>(roundCopy(bytes));
    s.add(std::move(op));
    return Status::ok();
  }

private:
  Context& c_;
};

class MetalPacked final : public gpu::Packed {
public:
  MetalPacked(Block* block, id<MTLTexture> view) : block_(block), view_(view) {}
  ~MetalPacked() override {
    view_ = nil;
    freeBlock(block_);
  }
  id<MTLTexture> view() const { return view_; }

private:
  Block* block_;
  id<MTLTexture> view_;
};

// The shader kernels' executor (backends/gpu/shader_kernels.h) on this device. Every tensor is
// bound as its whole buffer (offset 0), its element offset in the constants.
class MetalExecutor final : public gpu::ShaderExecutor {
public:
  explicit MetalExecutor(Context& c) : c_(c) {
    info_.texels = true;
    info_.halfTexels = true;
    info_.flopsPerSecond = gpu::nominalFlops(c.device.hasUnifiedMemory ? gpu::DeviceKind::Integrated
                                                                       : gpu::DeviceKind::Discrete);
    // SIMD-group reductions (simd_sum, simd_product): Apple7 and Mac2 GPUs, with MSL 2.3.
    info_.subgroupArithmetic = false;
    if (@available(macOS 11.0, iOS 14.0, *))
      info_.subgroupArithmetic = [c.device supportsFamily:MTLGPUFamilyApple7] ||
                                 [c.device supportsFamily:MTLGPUFamilyMac2];
    info_.maxTexels = kMaxTexels;
    info_.texelAlignment = std::max(textureAlignment(c, MTLPixelFormatR32Float),
                                    textureAlignment(c, MTLPixelFormatRGBA32Float));
  }
  const gpu::ExecutorInfo& info() const override { return info_; }

  Result<gpu::Pipeline> pipeline(Shader shader, std::span<const uint32_t> spec) override {
    TESSEL_ASSIGN_OR_RETURN(id<MTLComputePipelineState> p, c_.pipeline(shader, spec));
    if (p.maxTotalThreadsPerThreadgroup < gpu::kGroupSize)
      return unsupported("metal: " + std::string(gpu::kShaderNames[static_cast<size_t>(shader)]) +
                         " takes threadgroups of " + std::to_string(gpu::kGroupSize) +
                         " threads; the device allows " +
                         std::to_string(p.maxTotalThreadsPerThreadgroup));
    return (__bridge gpu::Pipeline)p; // kept alive by the context's cache
  }

  Result<std::unique_ptr<gpu::Packed>> pack(Device& device, const void* data, int64_t bytes,
                                            bool half) override {
    TESSEL_ASSIGN_OR_RETURN(Block * block, makeBlock(c_, bytes, MTLResourceStorageModePrivate));
    const MTLPixelFormat format = half ? MTLPixelFormatRGBA16Float : MTLPixelFormatRGBA32Float;
    const int64_t texel = half ? 8 : 16;
    id<MTLTexture> view = textureView(c_, block, 0, bytes / texel, format, texel);
    if (!view) {
      freeBlock(block);
      return resourceExhausted("metal: a texture view of packed weights could not be made");
    }
    auto packed = std::make_unique<MetalPacked>(block, view);
    TESSEL_ASSIGN_OR_RETURN(auto stream, device.createStream());
    TESSEL_RETURN_IF_ERROR(device.upload(*stream, BufferRef{block, 0}, data, bytes));
    TESSEL_RETURN_IF_ERROR(stream->wait());
    return std::unique_ptr<gpu::Packed>(std::move(packed));
  }

  Result<BufferRef> faultWord(Stream& stream, const char* why) override {
    TESSEL_ASSIGN_OR_RETURN(Block * fault, static_cast<MetalStream&>(stream).faultWord(why));
    return BufferRef{fault, 0};
  }

  Status launch(Stream& stream, gpu::Launch& l) override {
    Op op;
    op.pipeline = (__bridge id<MTLComputePipelineState>)l.pipeline;
    uint32_t offsets[kBindings];
    for (uint32_t b = 0; b < l.bufferCount; ++b) {
      const gpu::Bound& t = l.buffers[b];
      const auto* block = static_cast<const Block*>(t.ref.handle);
      if ((t.ref.offset + t.bytes) / 4 > int64_t{UINT32_MAX})
        return internalError("metal: a tensor lies past what 32-bit offsets reach");
      offsets[b] = static_cast<uint32_t>(t.ref.offset / 4);
      op.buffers[b] = block->buffer;
    }
    std::memcpy(l.constants, offsets, l.bufferCount * sizeof(uint32_t));
    for (uint32_t b = l.bufferCount; b < kBindings; ++b)
      op.buffers[b] = op.buffers[0]; // every argument bound
    if (l.texelTensor) {
      TESSEL_ASSIGN_OR_RETURN(auto x, floatView(c_, l.buffers[1], false));
      TESSEL_ASSIGN_OR_RETURN(auto x4, floatView(c_, l.buffers[1], true));
      if (x.second != x4.second)
        return internalError("metal: the float and vec4 views of a tensor start apart");
      std::memcpy(l.constants + l.texelWord * 4, &x.second, 4);
      op.textures[0] = x.first;
      op.textures[2] = x4.first;
    }
    if (l.packed) op.textures[1] = static_cast<const MetalPacked*>(l.packed)->view();
    op.constantBytes = l.constantBytes;
    std::memcpy(op.constants, l.constants, l.constantBytes);
    // Groups over x up to 65535, then rows of them over y (the shaders flatten the two).
    const int64_t groups = (l.grid.count + l.grid.groupSize - 1) / l.grid.groupSize;
    const int64_t x = std::min<int64_t>(groups, 65535);
    op.groups = MTLSizeMake(static_cast<NSUInteger>(x),
                            static_cast<NSUInteger>((groups + x - 1) / x), l.grid.layers);
    op.groupSize = l.grid.groupSize;
    static_cast<MetalStream&>(stream).add(std::move(op));
    return Status::ok();
  }

private:
  Context& c_;
  gpu::ExecutorInfo info_;
};

Result<MetalExecutor*> executor() {
  TESSEL_ASSIGN_OR_RETURN(Context * c, context());
  static MetalExecutor exec(*c);
  return &exec;
}

// What this device allows a kernel (backends/gpu/gpu_support.h): a tensor one buffer holds with
// 32-bit element offsets; loops of any length (Metal has no cap like lavapipe's); reductions in
// two passes past the shared chunk; conv2d layers within 65535 threadgroups over z.
Result<gpu::Limits> limits() {
  TESSEL_ASSIGN_OR_RETURN(Context * c, context());
  gpu::Limits g;
  g.maxTensorBytes =
      std::min<int64_t>(static_cast<int64_t>(c->device.maxBufferLength), int64_t{UINT32_MAX} * 4);
  g.maxLoop = std::numeric_limits<int32_t>::max();
  g.maxReduceExtent = int64_t{gpu::kMaxLoop} * gpu::kMaxLoop;
  g.reduceChunk = gpu::kMaxLoop;
  g.maxConvLayers = 65535;
  return g;
}

Result<gpu::ShaderExecutor*> shaderExecutor() {
  TESSEL_ASSIGN_OR_RETURN(MetalExecutor * exec, executor());
  return static_cast<gpu::ShaderExecutor*>(exec);
}

std::string deviceSignature() {
  auto c = context();
  if (!c.isOk()) return "";
  @autoreleasepool {
    return std::string([[(*c)->device name] UTF8String]);
  }
}

Result<std::shared_ptr<Device>> device() {
  TESSEL_ASSIGN_OR_RETURN(Context * c, context());
  static std::shared_ptr<Device> made = std::make_shared<MetalDevice>(*c);
  return made;
}

// Registering costs nothing but loading this library and Metal: the device is found the first
// time the planner asks about a primitive or a session asks for its device.
Status registerPlugin(BackendRegistry& registry) {
  registry.add(
      gpu::makeShaderBackend({"metal", kSpace, limits, shaderExecutor, device, deviceSignature}));
  return Status::ok();
}

} // namespace
} // namespace tessel

TESSEL_BACKEND_PLUGIN(tessel::registerPlugin)
