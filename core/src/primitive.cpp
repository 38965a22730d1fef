#include "tessel/core/primitive.h"

#include "tessel/core/checked_math.h"

#include <string>

namespace tessel {
namespace {

template <typename E, size_t N>
std::optional<E> lookup(const std::string_view (&names)[N], std::string_view s) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

const std::string_view kPrimitiveNames[] = {
#define TESSEL_PRIMITIVE(name, mnemonic) mnemonic,
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE
};
const std::string_view kUnaryNames[] = {
#define TESSEL_UNARY(name, str) str,
#include "tessel/core/unary.def"
#undef TESSEL_UNARY
};
const std::string_view kBinaryNames[] = {
#define TESSEL_BINARY(name, str) str,
#include "tessel/core/binary.def"
#undef TESSEL_BINARY
};
const std::string_view kReduceNames[] = {"sum", "mean", "max", "min"};
const std::string_view kPoolNames[] = {"max", "avg"};

Status expectCounts(const Primitive& p, size_t minIn, size_t maxIn) {
  if (p.inputs.size() < minIn || p.inputs.size() > maxIn || p.outputs.size() != 1)
    return corrupt(std::string(primitiveName(p.kind())) + " has " +
                   std::to_string(p.inputs.size()) + " inputs and " +
                   std::to_string(p.outputs.size()) + " outputs");
  return Status::ok();
}

// Largest offset reached by strides over shape; false when any is negative.
bool stridedReach(const Shape& shape, const std::vector<int64_t>& strides, int64_t* reach) {
  *reach = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (strides[i] < 0 || strides[i] > (int64_t{1} << 40)) return false;
    if (shape[i] > 0 && !checkedMulAdd(shape[i] - 1, strides[i], reach)) return false;
  }
  return true;
}

Status validateBinary(const BinaryParams& b, const TensorDesc& l, const TensorDesc& r,
                      const TensorDesc& out) {
  if (b.lhsStrides.size() != out.shape.size() || b.rhsStrides.size() != out.shape.size())
    return corrupt("binary strides do not match the output rank");
  if (out.numel() == 0) return Status::ok();
  int64_t reach = 0;
  if (!stridedReach(out.shape, b.lhsStrides, &reach) || reach >= l.numel())
    return corrupt("binary lhs strides reach outside the lhs tensor");
  if (!stridedReach(out.shape, b.rhsStrides, &reach) || reach >= r.numel())
    return corrupt("binary rhs strides reach outside the rhs tensor");
  if (l.dtype != r.dtype || (l.dtype != out.dtype && out.dtype != DType::Bool))
    return corrupt("binary dtypes differ");
  return Status::ok();
}

Status validateMatMul(const MatMulParams& m, const std::vector<const TensorDesc*>& in,
                      const TensorDesc& out) {
  if (m.batch < 0 || m.m < 0 || m.n < 0 || m.k < 0) return corrupt("matmul negative dims");
  int64_t count = 0;
  if (!checkedProduct({m.batch, m.m, m.n}, &count) || out.numel() != count)
    return corrupt("matmul output size mismatch");
  if (m.hasBias != (in.size() == 3)) return corrupt("matmul bias flag does not match inputs");
  if (count == 0) return Status::ok();
  int64_t reach = 0;
  if (m.hasBias && (!stridedReach({m.m, m.n}, {m.biasStrides[0], m.biasStrides[1]}, &reach) ||
                    reach >= in[2]->numel()))
    return corrupt("matmul bias strides reach outside bias");
  if (m.k == 0) return Status::ok();
  if (m.k > in[0]->numel() || m.k > in[1]->numel()) return corrupt("matmul k exceeds its operands");
  if (!stridedReach({m.batch, m.m, m.k}, {m.aStrides.begin(), m.aStrides.end()}, &reach) ||
      reach >= in[0]->numel())
    return corrupt("matmul a strides reach outside a");
  if (!stridedReach({m.batch, m.k, m.n}, {m.bStrides.begin(), m.bStrides.end()}, &reach) ||
      reach >= in[1]->numel())
    return corrupt("matmul b strides reach outside b");
  return Status::ok();
}

Status validateWindow(const std::array<int64_t, 2>& kernel, const std::array<int64_t, 2>& stride,
                      const std::array<int64_t, 4>& pads, const std::array<int64_t, 2>& dilation,
                      const TensorDesc& x, const TensorDesc& y) {
  if (x.rank() != 4 || y.rank() != 4) return corrupt("window op needs NCHW tensors");
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] < 1 || stride[i] < 1 || dilation[i] < 1 || pads[i] < 0 || pads[i + 2] < 0 ||
        kernel[i] > (1 << 20) || stride[i] > (1 << 20) || dilation[i] > (1 << 20) ||
        pads[i] > (1 << 20) || pads[i + 2] > (1 << 20))
      return corrupt("window op has bad kernel, stride, dilation or pads");
    int64_t span = (kernel[i] - 1) * dilation[i] + 1;
    int64_t padded = x.shape[2 + i] + pads[i] + pads[i + 2];
    int64_t expect = padded < span ? 0 : (padded - span) / stride[i] + 1;
    if (y.shape[2 + i] != expect) return corrupt("window op output size does not match its params");
  }
  return Status::ok();
}

Status validateParams(const Primitive& p, const std::vector<const TensorDesc*>& in,
                      const TensorDesc& out) {
  switch (p.kind()) {
  case PrimitiveKind::Raster: {
    const auto& r = p.as<RasterParams>();
    for (const Region& reg : r.regions) {
      if (reg.source < 0 || static_cast<size_t>(reg.source) >= in.size())
        return corrupt("raster region names source " + std::to_string(reg.source));
      TESSEL_RETURN_IF_ERROR(checkRegionBounds(reg, in[reg.source]->numel(), out.numel()));
      if (in[reg.source]->dtype != out.dtype) return corrupt("raster source dtype differs");
    }
    return Status::ok();
  }
  case PrimitiveKind::View:
    if (in[0]->byteSize() != out.byteSize()) return corrupt("view changes the byte size");
    return Status::ok();
  case PrimitiveKind::Unary:
    if (in[0]->numel() != out.numel()) return corrupt("unary changes the element count");
    if (p.as<UnaryParams>().kind != UnaryKind::Cast && in[0]->dtype != out.dtype)
      return corrupt("unary changes the dtype");
    return Status::ok();
  case PrimitiveKind::Binary: return validateBinary(p.as<BinaryParams>(), *in[0], *in[1], out);
  case PrimitiveKind::Reduce: {
    const auto& r = p.as<ReduceParams>();
    int64_t all = 0, kept = 0;
    if (r.outer < 0 || r.extent < 0 || r.inner < 0 ||
        !checkedProduct({r.outer, r.extent, r.inner}, &all) ||
        !checkedProduct({r.outer, r.inner}, &kept) || all != in[0]->numel() || kept != out.numel())
      return corrupt("reduce dims do not match its tensors");
    return Status::ok();
  }
  case PrimitiveKind::MatMul: return validateMatMul(p.as<MatMulParams>(), in, out);
  case PrimitiveKind::Conv2d: {
    const auto& c = p.as<Conv2dParams>();
    const TensorDesc& x = *in[0];
    const TensorDesc& w = *in[1];
    if (w.rank() != 4 || x.rank() != 4 || out.rank() != 4)
      return corrupt("conv2d needs 4-D tensors");
    if (c.group < 1 || x.shape[1] % c.group != 0 || w.shape[0] % c.group != 0 ||
        w.shape[1] * c.group != x.shape[1] || w.shape[0] != out.shape[1] ||
        x.shape[0] != out.shape[0])
      return corrupt("conv2d channels do not match weight " + shapeToString(w.shape));
    if (c.hasBias != (in.size() == 3) || (c.hasBias && in[2]->numel() != w.shape[0]))
      return corrupt("conv2d bias does not match");
    return validateWindow({w.shape[2], w.shape[3]}, c.stride, c.pads, c.dilation, x, out);
  }
  case PrimitiveKind::Pool: {
    const auto& pp = p.as<PoolParams>();
    if (in[0]->shape.size() == 4 && out.shape.size() == 4 &&
        (in[0]->shape[0] != out.shape[0] || in[0]->shape[1] != out.shape[1]))
      return corrupt("pool changes batch or channels");
    return validateWindow(pp.kernel, pp.stride, pp.pads, {1, 1}, *in[0], out);
  }
  }
  return corrupt("unknown primitive kind");
}

} // namespace

std::string_view primitiveName(PrimitiveKind k) {
  return kPrimitiveNames[static_cast<int>(k)];
}
std::string_view unaryName(UnaryKind k) {
  return kUnaryNames[static_cast<int>(k)];
}
std::string_view binaryName(BinaryKind k) {
  return kBinaryNames[static_cast<int>(k)];
}
std::string_view reduceName(ReduceKind k) {
  return kReduceNames[static_cast<int>(k)];
}
std::string_view poolName(PoolKind k) {
  return kPoolNames[static_cast<int>(k)];
}
std::optional<PrimitiveKind> primitiveFromName(std::string_view s) {
  return lookup<PrimitiveKind>(kPrimitiveNames, s);
}
std::optional<UnaryKind> unaryFromName(std::string_view s) {
  return lookup<UnaryKind>(kUnaryNames, s);
}
std::optional<BinaryKind> binaryFromName(std::string_view s) {
  return lookup<BinaryKind>(kBinaryNames, s);
}
std::optional<ReduceKind> reduceFromName(std::string_view s) {
  return lookup<ReduceKind>(kReduceNames, s);
}
std::optional<PoolKind> poolFromName(std::string_view s) {
  return lookup<PoolKind>(kPoolNames, s);
}

Status validatePrimitive(const Primitive& p, const std::vector<TensorDesc>& tensors) {
  if (std::holds_alternative<std::monostate>(p.params)) return corrupt("primitive without params");
  size_t maxIn = 1, minIn = 1;
  switch (p.kind()) {
  case PrimitiveKind::Raster:
    minIn = 1;
    maxIn = 1 << 16;
    break;
  case PrimitiveKind::Binary: minIn = maxIn = 2; break;
  case PrimitiveKind::MatMul:
  case PrimitiveKind::Conv2d:
    minIn = 2;
    maxIn = 3;
    break;
  default: break;
  }
  TESSEL_RETURN_IF_ERROR(expectCounts(p, minIn, maxIn));
  std::vector<const TensorDesc*> in;
  for (int32_t id : p.inputs) {
    if (id < 0 || static_cast<size_t>(id) >= tensors.size())
      return corrupt("primitive input id " + std::to_string(id) + " out of range");
    in.push_back(&tensors[id]);
  }
  int32_t outId = p.outputs[0];
  if (outId < 0 || static_cast<size_t>(outId) >= tensors.size())
    return corrupt("primitive output id " + std::to_string(outId) + " out of range");
  Status s = validateParams(p, in, tensors[outId]);
  return s.withContext(std::string(primitiveName(p.kind())) +
                       (p.origin.empty() ? "" : " '" + p.origin + "'"));
}

} // namespace tessel
