// The shader kernels (shader_kernels.h): per primitive, the shaders, specializations, constants,
// passes and packed data, as launches for a ShaderExecutor (Vulkan, Metal).
#include "shader_kernels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace tessel::gpu {
namespace {

// The shaders' push constants (backends/vulkan/shaders/*.comp), in their order.
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

Bound bound(const TensorArg& t) {
  return {t.buffer, t.desc->byteSize()};
}

// Adds one launch of `pipeline` over `grid`: its tensors bound in order (the output first) and
// its constants, whose first words the executor fills with the tensors' offsets. With `packed`,
// the packed data and tensors[1] are read as texels too, the latter's first float going to
// constant word `texelWord`.
Status launch(ShaderExecutor& exec, const ExecContext& ctx, Pipeline pipeline,
              std::span<const Bound> tensors, const void* constants, uint32_t constantBytes,
              Grid grid, const Packed* packed = nullptr, uint32_t texelWord = 0) {
  if (grid.count == 0 || grid.layers == 0) return Status::ok();
  if (tensors.empty() || tensors.size() > kBindings || constantBytes > kPushBytes ||
      constantBytes < tensors.size() * 4 || (packed && tensors.size() < 2))
    return internalError("gpu: a launch's tensors or constants do not fit its layout");
  Launch l;
  l.pipeline = pipeline;
  std::copy(tensors.begin(), tensors.end(), l.buffers);
  l.bufferCount = static_cast<uint32_t>(tensors.size());
  l.packed = packed;
  l.texelTensor = packed != nullptr;
  l.texelWord = texelWord;
  l.constantBytes = constantBytes;
  std::memcpy(l.constants, constants, constantBytes);
  l.grid = grid;
  return exec.launch(*ctx.stream, l);
}

Status launch(ShaderExecutor& exec, const ExecContext& ctx, Pipeline pipeline,
              std::initializer_list<Bound> tensors, const void* constants, uint32_t constantBytes,
              int64_t count) {
  return launch(exec, ctx, pipeline, std::span<const Bound>(tensors.begin(), tensors.size()),
                constants, constantBytes, Grid{count});
}

// The same with the output and every input bound in order: binding i + 1 is input i, as the
// kernels with post-ops expect (shaders/operands.glsl).
Status launchAll(ShaderExecutor& exec, const ExecContext& ctx, Pipeline pipeline,
                 std::span<const TensorArg> inputs, const TensorArg& output, const void* constants,
                 uint32_t constantBytes, Grid grid, const Packed* packed = nullptr,
                 uint32_t texelWord = 0) {
  Bound all[kBindings];
  if (inputs.size() + 1 > kBindings) return internalError("gpu: too many inputs");
  all[0] = bound(output);
  for (size_t i = 0; i < inputs.size(); ++i)
    all[i + 1] = bound(inputs[i]);
  return launch(exec, ctx, pipeline, std::span<const Bound>(all, inputs.size() + 1), constants,
                constantBytes, grid, packed, texelWord);
}

// A kernel whose work is one pipeline (made at prepare) and a fixed set of push constants.
template <typename Constants> class OneDispatchKernel : public PreparedKernel {
public:
  OneDispatchKernel(ShaderExecutor& exec, Pipeline pipeline, const Constants& k, Grid grid)
      : exec_(exec), pipeline_(pipeline), k_(k), grid_(grid) {}

protected:
  ShaderExecutor& exec_;
  Pipeline pipeline_;
  Constants k_;
  Grid grid_;
};

// Whether a tensor starts on a 16-byte boundary: then its element offset in what the executor
// binds (a window that starts at the tensor or at a multiple of 16 bytes) is a multiple of 4, as
// vec4 access needs.
bool vec4Aligned(const TensorArg& t) {
  return t.buffer.offset % 16 == 0;
}

// Unary; four elements an invocation (unary4.comp) when the count and both tensors allow.
class UnaryKernel final : public OneDispatchKernel<UnaryConstants> {
public:
  UnaryKernel(ShaderExecutor& exec, Pipeline pipeline, Pipeline vec4, const UnaryConstants& k)
      : OneDispatchKernel(exec, pipeline, k, Grid{0}), vec4_(vec4) {}
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    UnaryConstants k = k_;
    const int64_t n = output.desc->numel();
    k.count = static_cast<uint32_t>(n);
    const bool four = n % 4 == 0 && vec4Aligned(output) && vec4Aligned(inputs[0]);
    return launch(exec_, ctx, four ? vec4_ : pipeline_, {bound(output), bound(inputs[0])}, &k,
                  sizeof k, four ? n / 4 : n);
  }
  std::string describe() const override { return "four elements an invocation where aligned"; }

private:
  Pipeline vec4_;
};

// Binary; four output elements an invocation (binary4.comp) where the strides allow (decided at
// prepare) and the tensors are aligned (at run).
class BinaryKernel final : public OneDispatchKernel<BinaryConstants> {
public:
  BinaryKernel(ShaderExecutor& exec, Pipeline pipeline, Pipeline vec4, const BinaryConstants& k)
      : OneDispatchKernel(exec, pipeline, k, Grid{0}), vec4_(vec4) {
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
      return launch(exec_, ctx, vec4_, {bound(output), a, b, a, b}, &k, sizeof k, n / 4);
    }
    BinaryConstants k = k_;
    k.count = static_cast<uint32_t>(n);
    return launch(exec_, ctx, pipeline_, {bound(output), bound(inputs[0]), bound(inputs[1])}, &k,
                  sizeof k, n);
  }

private:
  Pipeline vec4_; // null where the strides do not allow it
  Binary4Constants k4_{};
};

class RasterKernel final : public PreparedKernel {
public:
  RasterKernel(ShaderExecutor& exec, Pipeline pipeline, const RasterParams& r)
      : exec_(exec), pipeline_(pipeline), r_(r) {}
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
      TESSEL_RETURN_IF_ERROR(launch(exec_, ctx, pipeline_, {y}, &k, sizeof k, out.numel()));
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
      TESSEL_RETURN_IF_ERROR(launch(exec_, ctx, pipeline_,
                                    {y, bound(inputs[static_cast<size_t>(g.source)])}, &k, sizeof k,
                                    n));
    }
    return Status::ok();
  }

private:
  ShaderExecutor& exec_;
  Pipeline pipeline_;
  RasterParams r_;
};

// Reduce and pool: the output and one input.
template <typename Constants> class UnaryShapeKernel final : public OneDispatchKernel<Constants> {
public:
  using OneDispatchKernel<Constants>::OneDispatchKernel;
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    Constants k = this->k_;
    return launch(this->exec_, ctx, this->pipeline_, {bound(output), bound(inputs[0])}, &k,
                  sizeof k, this->grid_.count);
  }
};

// Matmul, conv2d and elementwise: the output and every input (post-op operands among them).
template <typename Constants> class AllInputsKernel final : public OneDispatchKernel<Constants> {
public:
  AllInputsKernel(ShaderExecutor& exec, Pipeline pipeline, const Constants& k, Grid grid,
                  std::string describe)
      : OneDispatchKernel<Constants>(exec, pipeline, k, grid), describe_(std::move(describe)) {}
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    Constants k = this->k_;
    return launchAll(this->exec_, ctx, this->pipeline_, inputs, output, &k, sizeof k, this->grid_);
  }
  std::string describe() const override { return describe_; }

private:
  std::string describe_;
};

// Conv2d; with packed weights, its input read as float texels and the weights as vec4 texels;
// a pointwise one whose input rows are whole vec4 (x4_) reads its input as vec4 texels when the
// input starts on a 16-byte boundary.
class Conv2dKernel final : public PreparedKernel {
public:
  Conv2dKernel(ShaderExecutor& exec, Pipeline pipeline, Pipeline x4, const Conv2dConstants& k,
               Grid grid, std::string describe, std::unique_ptr<Packed> packed)
      : exec_(exec), pipeline_(pipeline), x4_(x4), k_(k), grid_(grid),
        describe_(std::move(describe)), packed_(std::move(packed)) {}
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    const Conv2dConstants k = k_;
    if (!packed_) return launchAll(exec_, ctx, pipeline_, inputs, output, &k, sizeof k, grid_);
    const bool four = x4_ && vec4Aligned(inputs[0]);
    // The weights (input 1) stay on the host: their binding sees the output instead.
    TensorArg bound[kBindings];
    if (inputs.size() > kBindings) return internalError("gpu: too many inputs");
    std::copy(inputs.begin(), inputs.end(), bound);
    bound[1] = output;
    return launchAll(exec_, ctx, four ? x4_ : pipeline_,
                     std::span<const TensorArg>(bound, inputs.size()), output, &k, sizeof k, grid_,
                     packed_.get(), offsetof(Conv2dConstants, xTexel) / 4);
  }
  // Packed weights are the kernel's own: the session leaves the raw ones on the host.
  bool readsConstant(size_t input) const override { return !packed_ || input != 1; }
  std::string describe() const override { return describe_; }

private:
  ShaderExecutor& exec_;
  Pipeline pipeline_;
  Pipeline x4_; // null unless pointwise with whole vec4 rows
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
    TESSEL_ASSIGN_OR_RETURN(BufferRef fault,
                            exec_.faultWord(*ctx.stream, "a gather's index lies outside its axis"));
    const Bound y = bound(output);
    const Bound all[kBindings] = {y, bound(inputs[0]), bound(inputs[1]), y, y, y, y, {fault, 4}};
    return launch(exec_, ctx, pipeline_, std::span<const Bound>(all, kBindings), &k, sizeof k,
                  grid_);
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
    return launch(exec_, ctx, pipeline_,
                  {bound(output), bound(inputs[0]), bound(inputs[1]), bound(inputs[2])}, &k,
                  sizeof k, grid_.count);
  }
};

using Kernel = std::unique_ptr<PreparedKernel>;

Result<Kernel> selectKernel(ShaderExecutor& exec, const SelectParams& s, const TensorDesc& out) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Select, {}));
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
  return Kernel(std::make_unique<SelectKernel>(exec, pipe, k, Grid{out.numel()}));
}

Result<Kernel> gatherKernel(ShaderExecutor& exec, const GatherParams& g, const TensorDesc& indices,
                            const TensorDesc& out) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Gather, {}));
  GatherConstants k{};
  k.outer = static_cast<uint32_t>(g.outer);
  k.extent = static_cast<uint32_t>(g.extent);
  k.inner = static_cast<uint32_t>(g.inner);
  const int64_t rows = g.outer * g.inner;
  k.count = static_cast<uint32_t>(rows > 0 ? out.numel() / rows : 0);
  k.words = static_cast<uint32_t>(dtypeSize(out.dtype) / 4);
  k.wide = indices.dtype == DType::I64 ? 1 : 0;
  k.elements = g.elements ? 1 : 0;
  return Kernel(std::make_unique<GatherKernel>(exec, pipe, k, Grid{rows > 0 ? out.numel() : 0}));
}

Result<Kernel> unaryKernel(ShaderExecutor& exec, const UnaryParams& u) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Unary, {}));
  TESSEL_ASSIGN_OR_RETURN(Pipeline vec4, exec.pipeline(Shader::Unary4, {}));
  UnaryConstants k{0, 0, 0, static_cast<uint32_t>(u.kind), u.alpha, u.beta};
  return Kernel(std::make_unique<UnaryKernel>(exec, pipe, vec4, k));
}

Result<Kernel> binaryKernel(ShaderExecutor& exec, const BinaryParams& b, const Shape& out) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Binary, {}));
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
  Pipeline vec4 = nullptr;
  if (four) {
    TESSEL_ASSIGN_OR_RETURN(vec4, exec.pipeline(Shader::Binary4, {}));
  }
  return Kernel(std::make_unique<BinaryKernel>(exec, pipe, vec4, k));
}

// A reduction: one dispatch where an invocation may walk the whole extent (at most kChunk),
// else partials over chunks of kChunk in the workspace, then one dispatch combining them
// (shaders/reduce.comp).
struct ReducePass {
  static constexpr uint32_t kChunk = kMaxLoop;
  ReduceConstants k{};
  explicit ReducePass(const ReduceParams& r) {
    k.outer = static_cast<uint32_t>(r.outer);
    k.extent = static_cast<uint32_t>(r.extent);
    k.inner = static_cast<uint32_t>(r.inner);
    k.kind = static_cast<uint32_t>(r.kind);
    k.selectLast = r.selectLast ? 1 : 0;
    k.chunk = kChunk;
    k.chunks = (k.extent + kChunk - 1) / kChunk;
  }
  bool twoPass() const { return k.extent > kChunk; }
  // The partials: a value and an index per (outer, chunk, inner), the indices at a 256-byte
  // boundary (every device's binding offset alignment).
  int64_t partials() const { return int64_t{k.outer} * k.chunks * k.inner; }
  int64_t indicesAt() const { return (partials() * 4 + 255) / 256 * 256; }
  int64_t workspaceBytes() const { return twoPass() ? indicesAt() + partials() * 4 : 0; }
};

class ReduceKernel final : public PreparedKernel {
public:
  ReduceKernel(ShaderExecutor& exec, Pipeline pipeline, const ReduceParams& r)
      : exec_(exec), pipeline_(pipeline), pass_(r), k_(pass_.k) {}
  bool twoPass() const { return pass_.twoPass(); }
  int64_t partials() const { return pass_.partials(); }
  int64_t indicesAt() const { return pass_.indicesAt(); }
  int64_t workspaceBytes(int) const override { return pass_.workspaceBytes(); }
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    const Bound y = bound(output), x = bound(inputs[0]);
    ReduceConstants k = k_;
    const int64_t outputs = int64_t{k_.outer} * k_.inner;
    if (!twoPass()) return launch(exec_, ctx, pipeline_, {y, x, y, y}, &k, sizeof k, outputs);
    const Bound values{ctx.workspace, partials() * 4};
    const Bound indices{BufferRef{ctx.workspace.handle, ctx.workspace.offset + indicesAt()},
                        partials() * 4};
    k.phase = 1;
    TESSEL_RETURN_IF_ERROR(
        launch(exec_, ctx, pipeline_, {y, x, values, indices}, &k, sizeof k, partials()));
    k = k_;
    k.phase = 2;
    return launch(exec_, ctx, pipeline_, {y, x, values, indices}, &k, sizeof k, outputs);
  }

private:
  ShaderExecutor& exec_;
  Pipeline pipeline_;
  ReducePass pass_;
  const ReduceConstants& k_;
};

Result<Kernel> reduceKernel(ShaderExecutor& exec, const ReduceParams& r) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Reduce, {}));
  return Kernel(std::make_unique<ReduceKernel>(exec, pipe, r));
}

// Sums, means and products by subgroups (shaders/reduce_subgroup.comp): a workgroup per output.
struct ReduceSubgroupConstants {
  uint32_t off[2], outer, extent, inner, kind;
};

Result<Kernel> reduceSubgroupKernel(ShaderExecutor& exec, const ReduceParams& r) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::ReduceSubgroup, {}));
  ReduceSubgroupConstants k{};
  k.outer = static_cast<uint32_t>(r.outer);
  k.extent = static_cast<uint32_t>(r.extent);
  k.inner = static_cast<uint32_t>(r.inner);
  k.kind = static_cast<uint32_t>(r.kind);
  return Kernel(std::make_unique<UnaryShapeKernel<ReduceSubgroupConstants>>(
      exec, pipe, k, Grid{r.outer * r.inner * kGroupSize}));
}

Result<Kernel> poolKernel(ShaderExecutor& exec, const PoolParams& p, const Shape& x,
                          const Shape& y) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Pool, {}));
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
      exec, pipe, k, Grid{int64_t{k.planes} * k.oh * k.ow}));
}

Result<Kernel> matmulKernel(ShaderExecutor& exec, const MatMulParams& p) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Matmul, encodePostOps(p.postOps)));
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
      exec, pipe, k, Grid{p.batch * p.m * p.n}, "direct"));
}

// A conv2d's geometry as both conv shaders take it (tiles left to each).
Conv2dConstants convConstants(const Conv2dParams& p, const Shape& x, const Shape& w,
                              const Shape& y) {
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
  return k;
}

// Direct convolution: workgroups of 64 tiles of PX_TILE pixels of a row, one layer of them per
// tile of OC_TILE channels and image (shaders/conv2d.comp). Where the weights are constant, a
// group has at least 4 output channels and the device reads texel buffers (the input within one
// view), the kernel packs the weights as vec4 texels and reads its input as float texels
// (conv2d_texels), in tiles of 8 (or 4) channels by 4 pixels: on lavapipe resnet18 ran in 205 ms
// so against 520 ms through storage buffers; 8 x 2 was the fastest tile while the inner loop
// branched on padding, 8 x 4 (10-20% faster) once it did not. Otherwise it reads the weights as
// they are, in tiles of up to 4 channels (1 for a depthwise conv) by up to 4 pixels.
Result<Kernel> conv2dKernel(ShaderExecutor& exec, Device& device, const Conv2dParams& p,
                            const Shape& x, const Shape& w, const Shape& y, const void* weights,
                            Precision precision) {
  // The input must fit one float texel view (less the offset alignment its start may lie above).
  const ExecutorInfo& info = exec.info();
  const int64_t xBytes = TensorDesc{DType::F32, x}.byteSize() + info.texelAlignment;
  Conv2dConstants k = convConstants(p, x, w, y);
  const auto taps = static_cast<uint32_t>(w[2] * w[3]);
  const bool texels = info.texels && weights && k.og >= 4 && xBytes <= info.maxTexels * 4;
  const uint32_t ocTile = texels ? (k.og >= 8 ? 8 : 4) : std::clamp<uint32_t>(k.og, 1, 4);
  const uint32_t pxTile = std::clamp<uint32_t>(k.ow, 1, 4);
  k.ocBlocks = (k.og + ocTile - 1) / ocTile;
  k.pxBlocks = (k.ow + pxTile - 1) / pxTile;
  std::unique_ptr<Packed> packed;
  // With fp16 storage allowed, the packed weights are half where the device reads half texels.
  const bool half = texels && precision == Precision::F16Storage && info.halfTexels;
  if (texels) {
    k.packedBlocks = k.ocBlocks * (ocTile / 4);
    const uint64_t texelCount = uint64_t{k.groups} * k.packedBlocks * k.cg * taps;
    if (texelCount > static_cast<uint64_t>(info.maxTexels))
      return conv2dKernel(exec, device, p, x, w, y, nullptr, precision); // too many for one view
    std::vector<float> data(texelCount * 4, 0.f);
    const auto* src = static_cast<const float*>(weights);
    const size_t perChannel = size_t{k.cg} * taps;
    for (uint32_t g = 0; g < k.groups; ++g)
      for (uint32_t oc = 0; oc < k.og; ++oc)
        for (size_t i = 0; i < perChannel; ++i)
          data[(((size_t{g} * k.packedBlocks + oc / 4) * perChannel + i) * 4) + oc % 4] =
              src[(size_t{g} * k.og + oc) * perChannel + i];
    if (half) {
      std::vector<uint16_t> halves(data.size());
      for (size_t i = 0; i < data.size(); ++i)
        halves[i] = floatToHalf(data[i]);
      TESSEL_ASSIGN_OR_RETURN(
          packed, exec.pack(device, halves.data(), static_cast<int64_t>(halves.size() * 2), true));
    } else {
      TESSEL_ASSIGN_OR_RETURN(
          packed, exec.pack(device, data.data(), static_cast<int64_t>(data.size() * 4), false));
    }
  }
  std::vector<uint32_t> spec = encodePostOps(p.postOps);
  spec.insert(spec.end(),
              {ocTile, pxTile, static_cast<uint32_t>(w[2]), static_cast<uint32_t>(w[3]), 0u});
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe,
                          exec.pipeline(texels ? Shader::Conv2dTexels : Shader::Conv2d, spec));
  // Pointwise, unstrided, unpadded, over whole vec4 rows (and planes): four pixels a fetch.
  Pipeline x4 = nullptr;
  const bool pointwise = w[2] == 1 && w[3] == 1 && k.sh == 1 && k.sw == 1 && k.pt == 0 &&
                         k.pl == 0 && k.ow == k.w && k.oh == k.h && k.w % 4 == 0 && pxTile == 4;
  if (texels && pointwise) {
    spec.back() = 1u;
    TESSEL_ASSIGN_OR_RETURN(x4, exec.pipeline(Shader::Conv2dTexels, spec));
  }
  const Grid grid{int64_t{k.oh} * k.pxBlocks, 64, k.n * k.groups * k.ocBlocks};
  return Kernel(std::make_unique<Conv2dKernel>(exec, pipe, x4, k, grid,
                                               std::string(half     ? "direct, packed f16 weights, "
                                                           : texels ? "direct, packed weights, "
                                                                    : "direct, ") +
                                                   std::to_string(ocTile) + " channels x " +
                                                   std::to_string(pxTile) + " pixels",
                                               std::move(packed)));
}

// Conv2d as an implicit GEMM (shaders/conv2d_gemm.comp): per image and group, tiles of 64
// output channels by 64 output pixels, 16 steps of k at a time staged in shared memory by the
// workgroup's 256 invocations, each accumulating 4 x 4 outputs.
Result<Kernel> conv2dGemmKernel(ShaderExecutor& exec, const Conv2dParams& p, const Shape& x,
                                const Shape& w, const Shape& y) {
  constexpr uint32_t kTile = 64;
  Conv2dConstants k = convConstants(p, x, w, y);
  k.ocBlocks = (k.og + kTile - 1) / kTile;
  k.pxBlocks = (k.oh * k.ow + kTile - 1) / kTile;
  std::vector<uint32_t> spec = encodePostOps(p.postOps);
  spec.insert(spec.end(), {0u, 0u, static_cast<uint32_t>(w[2]), static_cast<uint32_t>(w[3])});
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Conv2dGemm, spec));
  const Grid grid{int64_t{k.pxBlocks} * kGroupSize, kGroupSize, k.n * k.groups * k.ocBlocks};
  return Kernel(std::make_unique<AllInputsKernel<Conv2dConstants>>(
      exec, pipe, k, grid, "implicit GEMM, 64 channels x 64 pixels, shared memory"));
}

Result<Kernel> elementwiseKernel(ShaderExecutor& exec, const ElementwiseParams& p, int64_t count) {
  TESSEL_ASSIGN_OR_RETURN(Pipeline pipe,
                          exec.pipeline(Shader::Elementwise, encodePostOps(p.postOps)));
  ElementwiseConstants k{};
  k.count = static_cast<uint32_t>(count);
  k.channels = static_cast<uint32_t>(std::max<int64_t>(p.channels, 1));
  k.inner = static_cast<uint32_t>(std::max<int64_t>(p.inner, 1));
  return Kernel(
      std::make_unique<AllInputsKernel<ElementwiseConstants>>(exec, pipe, k, Grid{count}, ""));
}

// What this device allows a kernel (backends/gpu/gpu_support.h): a tensor one binding reaches
// (maxStorageBufferRange, less the offset alignment a window may start below it), loops of at
// most 32768 iterations (lavapipe ends a shader's loops after 65535 in all), and conv2d layers
// up to the workgroup count's z limit. Nothing without a device.

} // namespace

// Whether the subgroup reduction takes `r`: its kinds, and an invocation's walk within the loop
// cap.
bool subgroupReduces(const ReduceParams& r, const ExecutorInfo& info) {
  return info.subgroupArithmetic &&
         (r.kind == ReduceKind::Sum || r.kind == ReduceKind::Mean || r.kind == ReduceKind::Prod) &&
         (r.extent + kGroupSize - 1) / kGroupSize <= kMaxLoop;
}

std::vector<KernelCandidate> shaderCandidates(const Primitive& p, const std::vector<TensorDesc>&,
                                              const ExecutorInfo& info) {
  if (p.kind() == PrimitiveKind::Conv2d)
    return {{{kConvDirect, {}}, "conv2d_direct"}, {{kConvGemm, {}}, "conv2d_gemm_64x64"}};
  if (p.kind() == PrimitiveKind::Reduce && subgroupReduces(p.as<ReduceParams>(), info))
    return {{{kReduceDirect, {}}, "reduce_direct"}, {{kReduceSubgroup, {}}, "reduce_subgroup"}};
  return {{{0, {}}, "default"}};
}

double shaderSeconds(const Primitive& p, const std::vector<TensorDesc>& t,
                     const KernelChoice& choice, const ExecutorInfo& info) {
  // The device as lanes doing an operation a nanosecond each, as many as its nominal rate
  // implies (an FMA, two FLOPs, a lane and nanosecond).
  const double lanes = std::max(1.0, info.flopsPerSecond / 2e9);
  if (p.kind() == PrimitiveKind::Reduce) {
    // One invocation walks each output's extent (direct), or a workgroup splits it and adds up
    // its partial results through the subgroups (log2 of the group's size steps).
    const auto& r = p.as<ReduceParams>();
    const auto outputs = static_cast<double>(r.outer * r.inner);
    const auto extent = static_cast<double>(r.extent);
    const double g = kGroupSize;
    const double walk = choice.id == kReduceSubgroup ? std::ceil(outputs * g / lanes) *
                                                           (std::ceil(extent / g) + std::log2(g))
                                                     : std::ceil(outputs / lanes) * extent;
    return launchSeconds(p, t, walk * 1e-9);
  }
  if (p.kind() == PrimitiveKind::Conv2d && choice.id == kConvGemm) {
    // The same arithmetic as the direct form, on whole 64 x 64 tiles of channels and pixels.
    const TensorDesc& y = t[p.outputs[0]];
    const double o = static_cast<double>(y.shape[1]);
    const double pixels = static_cast<double>(y.numel()) / std::max(o, 1.0);
    const double padded = std::ceil(o / 64) * 64 * std::ceil(pixels / 64) * 64;
    const double waste = padded / std::max(o * pixels, 1.0);
    return launchSeconds(p, t, primitiveFlops(p, t) * waste / info.flopsPerSecond);
  }
  return roughSeconds(p, t, info.flopsPerSecond);
}

int64_t shaderWorkspaceBytes(const Primitive& p, const KernelChoice& choice) {
  if (p.kind() != PrimitiveKind::Reduce || choice.id == kReduceSubgroup) return 0;
  return ReducePass(p.as<ReduceParams>()).workspaceBytes();
}

KernelChoice shaderFirstChoice(const Primitive& p, const std::vector<TensorDesc>& t,
                               const ExecutorInfo& info) {
  KernelChoice best;
  double bestSeconds = std::numeric_limits<double>::infinity();
  for (KernelCandidate& k : shaderCandidates(p, t, info)) {
    const double seconds = shaderSeconds(p, t, k.choice, info);
    if (seconds < bestSeconds) {
      bestSeconds = seconds;
      best = std::move(k.choice);
    }
  }
  return best;
}

// A kernel for a primitive that supports() took on this executor's device, by the choice's id.
static Result<std::unique_ptr<PreparedKernel>>
prepareKernel(ShaderExecutor& exec, const PrepareArgs& args, Device& device) {
  const Primitive& p = *args.primitive;
  const std::vector<TensorDesc>& t = *args.tensors;
  switch (p.kind()) {
  case PrimitiveKind::Unary: return unaryKernel(exec, p.as<UnaryParams>());
  case PrimitiveKind::Binary:
    return binaryKernel(exec, p.as<BinaryParams>(), t[p.outputs[0]].shape);
  case PrimitiveKind::Raster: {
    TESSEL_ASSIGN_OR_RETURN(Pipeline pipe, exec.pipeline(Shader::Raster, {}));
    return Kernel(std::make_unique<RasterKernel>(exec, pipe, p.as<RasterParams>()));
  }
  case PrimitiveKind::Reduce:
    if (args.choice.id == kReduceSubgroup) {
      if (!subgroupReduces(p.as<ReduceParams>(), exec.info()))
        return unsupported("gpu: the subgroup reduction does not take this one on this device");
      return reduceSubgroupKernel(exec, p.as<ReduceParams>());
    }
    return reduceKernel(exec, p.as<ReduceParams>());
  case PrimitiveKind::MatMul: return matmulKernel(exec, p.as<MatMulParams>());
  case PrimitiveKind::Pool:
    return poolKernel(exec, p.as<PoolParams>(), t[p.inputs[0]].shape, t[p.outputs[0]].shape);
  case PrimitiveKind::Conv2d:
    if (args.choice.id == kConvGemm)
      return conv2dGemmKernel(exec, p.as<Conv2dParams>(), t[p.inputs[0]].shape,
                              t[p.inputs[1]].shape, t[p.outputs[0]].shape);
    return conv2dKernel(exec, device, p.as<Conv2dParams>(), t[p.inputs[0]].shape,
                        t[p.inputs[1]].shape, t[p.outputs[0]].shape,
                        args.constants.size() > 1 ? args.constants[1] : nullptr, args.precision);
  case PrimitiveKind::Elementwise:
    return elementwiseKernel(exec, p.as<ElementwiseParams>(), t[p.outputs[0]].numel());
  case PrimitiveKind::Gather:
    return gatherKernel(exec, p.as<GatherParams>(), t[p.inputs[1]], t[p.outputs[0]]);
  case PrimitiveKind::Select: return selectKernel(exec, p.as<SelectParams>(), t[p.outputs[0]]);
  default: return unsupported("gpu: no shader kernel for this primitive");
  }
}

namespace {

class ShaderDescriptor final : public BackendDescriptor {
public:
  explicit ShaderDescriptor(const ShaderPlatform& platform) : platform_(platform) {}
  std::string_view name() const override { return platform_.name; }
  std::string_view memorySpace() const override { return platform_.space; }
  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    auto l = platform_.limits();
    return l.isOk() && gpu::supports(p, t, *l);
  }
  std::string deviceSignature() const override { return platform_.deviceSignature(); }
  std::vector<KernelCandidate> candidates(const Primitive& p,
                                          const std::vector<TensorDesc>& t) const override {
    auto exec = platform_.executor();
    return exec.isOk() ? shaderCandidates(p, t, (*exec)->info()) : std::vector<KernelCandidate>{};
  }
  KernelChoice firstChoice(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    auto exec = platform_.executor();
    return exec.isOk() ? shaderFirstChoice(p, t, (*exec)->info()) : KernelChoice{};
  }
  double estimateSeconds(const Primitive& p, const std::vector<TensorDesc>& t,
                         const KernelChoice& choice, int) const override {
    auto exec = platform_.executor();
    return shaderSeconds(p, t, choice, exec.isOk() ? (*exec)->info() : ExecutorInfo{});
  }
  int64_t workspaceBytes(const Primitive& p, const std::vector<TensorDesc>&,
                         const KernelChoice& choice, uint32_t, int) const override {
    return shaderWorkspaceBytes(p, choice);
  }

private:
  ShaderPlatform platform_;
};

class ShaderBackend final : public Backend {
public:
  explicit ShaderBackend(const ShaderPlatform& platform)
      : platform_(platform), descriptor_(platform) {}
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override { return platform_.device(); }
  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& args,
                                                  Device& device) const override {
    if (!descriptor_.supports(*args.primitive, *args.tensors))
      return unsupported(std::string(platform_.name) + ": primitive not supported");
    TESSEL_ASSIGN_OR_RETURN(ShaderExecutor * exec, platform_.executor());
    return prepareKernel(*exec, args, device);
  }

private:
  ShaderPlatform platform_;
  ShaderDescriptor descriptor_;
};

} // namespace

std::unique_ptr<Backend> makeShaderBackend(const ShaderPlatform& platform) {
  return std::make_unique<ShaderBackend>(platform);
}

} // namespace tessel::gpu
