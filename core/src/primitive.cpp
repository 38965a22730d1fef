#include "tessel/core/primitive.h"

#include "tessel/core/checked_math.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tessel {
namespace {

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
const std::string_view kReduceNames[] = {
#define TESSEL_REDUCE(name, str) str,
#include "tessel/core/reduce.def"
#undef TESSEL_REDUCE
};
const std::string_view kPoolNames[] = {
#define TESSEL_POOL(name, str) str,
#include "tessel/core/pool.def"
#undef TESSEL_POOL
};
const std::string_view kBroadcastNames[] = {
#define TESSEL_BROADCAST(name, str) str,
#include "tessel/core/broadcast.def"
#undef TESSEL_BROADCAST
};

Status expectCounts(const Primitive& p, size_t minIn, size_t maxIn) {
  if (p.inputs.size() < minIn || p.inputs.size() > maxIn || p.outputs.size() != 1)
    return corrupt(std::string(primitiveName(p.kind())) + " has " +
                   std::to_string(p.inputs.size()) + " inputs and " +
                   std::to_string(p.outputs.size()) + " outputs");
  return Status::ok();
}

// Largest offset reached by strides over shape; false when any is negative.
bool stridedReach(const Shape& shape, const I64List& strides, int64_t* reach) {
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
  if (l.dtype != r.dtype) return corrupt("binary operand dtypes differ");
  if (binaryIsLogic(b.kind) && (l.dtype != DType::Bool || out.dtype != DType::Bool))
    return corrupt("binary " + std::string(binaryName(b.kind)) + " needs bool tensors");
  if (binaryIsShift(b.kind) && !dtypeIsUnsigned(l.dtype))
    return corrupt("binary " + std::string(binaryName(b.kind)) + " needs unsigned integers");
  if (binaryIsComparison(b.kind) && out.dtype != DType::Bool)
    return corrupt("binary " + std::string(binaryName(b.kind)) + " gives a bool output");
  if (!binaryIsLogic(b.kind) && !binaryIsComparison(b.kind) &&
      (l.dtype != out.dtype || out.dtype == DType::Bool))
    return corrupt("binary " + std::string(binaryName(b.kind)) + " needs one numeric dtype");
  return Status::ok();
}

Status validateMatMul(const MatMulParams& m, std::span<const TensorDesc* const> in,
                      const TensorDesc& out) {
  if (m.batch < 0 || m.m < 0 || m.n < 0 || m.k < 0) return corrupt("matmul negative dims");
  int64_t count = 0;
  if (!checkedProduct({m.batch, m.m, m.n}, &count) || out.numel() != count)
    return corrupt("matmul output size mismatch");
  if (in.size() < (m.hasBias ? 3u : 2u)) return corrupt("matmul bias flag does not match inputs");
  if (count == 0) return Status::ok();
  int64_t reach = 0;
  if (m.hasBias && (!stridedReach({m.m, m.n}, {m.biasStrides[0], m.biasStrides[1]}, &reach) ||
                    reach >= in[2]->numel()))
    return corrupt("matmul bias strides reach outside bias");
  if (m.k == 0) return Status::ok();
  if (m.k > in[0]->numel() || m.k > in[1]->numel()) return corrupt("matmul k exceeds its operands");
  // Each product sums k distinct elements of a row of a and of a column of b: a zero stride
  // along k would let a tiny file ask for any amount of work.
  if (m.k > 1 && (m.aStrides[2] == 0 || m.bStrides[1] == 0))
    return corrupt("matmul k = " + std::to_string(m.k) +
                   " walks no elements of its operands (zero stride along k)");
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

// The channel count post-ops broadcast over (see PostOp).
int64_t postOpChannels(const Primitive& p, const TensorDesc& out) {
  switch (p.kind()) {
  case PrimitiveKind::Conv2d: return out.rank() == 4 ? out.shape[1] : 0;
  case PrimitiveKind::MatMul: return p.as<MatMulParams>().n;
  case PrimitiveKind::Elementwise: return p.as<ElementwiseParams>().channels;
  default: return 0;
  }
}

Status validatePostOps(const Primitive& p, std::span<const TensorDesc* const> in,
                       const TensorDesc& out) {
  const PostOps* ops = postOpsOf(p);
  const size_t base = baseInputCount(p);
  if (!ops) return Status::ok();
  if (in.size() < base) return corrupt("has fewer inputs than its params need");
  if (!ops->empty() && out.dtype != DType::F32) return corrupt("post-ops need an f32 result");
  std::vector<bool> used(in.size(), false);
  for (const PostOp& op : *ops) {
    // Named for an error only: planning validates every primitive of every new shape's plan.
    const auto what = [&op] { return "post-op '" + formatPostOp(op) + "'"; };
    if (!op.isBinary) {
      if (static_cast<int>(op.unary) >= enumCount<UnaryKind>() || op.unary == UnaryKind::Cast)
        return corrupt(what() + " is not an elementwise function");
      continue;
    }
    if (static_cast<int>(op.binary) >= enumCount<BinaryKind>() ||
        static_cast<int>(op.broadcast) >= enumCount<Broadcast>())
      return corrupt(what() + " has an unknown kind");
    if (!binaryInPostOps(op.binary))
      return corrupt(what() + " is not an arithmetic step a post-op may carry");
    if (op.operand < static_cast<int32_t>(base) || static_cast<size_t>(op.operand) >= in.size())
      return corrupt(what() + " names input " + std::to_string(op.operand) + " of " +
                     std::to_string(in.size()) + " (post-op operands follow the first " +
                     std::to_string(base) + ")");
    const TensorDesc& x = *in[op.operand];
    const int64_t want = op.broadcast == Broadcast::Scalar    ? 1
                         : op.broadcast == Broadcast::Channel ? postOpChannels(p, out)
                                                              : out.numel();
    if (x.numel() != want || x.dtype != out.dtype)
      return corrupt(what() + " operand " + x.toString() + " does not hold " +
                     std::to_string(want) + " " + std::string(dtypeName(out.dtype)) + " elements");
    used[op.operand] = true;
  }
  for (size_t i = base; i < in.size(); ++i)
    if (!used[i]) return corrupt("input " + std::to_string(i) + " is no post-op's operand");
  return Status::ok();
}

Status validateParams(const Primitive& p, std::span<const TensorDesc* const> in,
                      const TensorDesc& out) {
  switch (p.kind()) {
  case PrimitiveKind::Raster: {
    const auto& r = p.as<RasterParams>();
    for (const Region& reg : r.regions) {
      if (reg.source < 0 || static_cast<size_t>(reg.source) >= in.size())
        return corrupt("raster region names source " + std::to_string(reg.source));
      // Regions index elements as stored (a layout conversion is a raster).
      TESSEL_RETURN_IF_ERROR(
          checkRegionBounds(reg, in[reg.source]->storageNumel(), out.storageNumel()));
      if (in[reg.source]->dtype != out.dtype) return corrupt("raster source dtype differs");
    }
    if (!r.fill) return checkRegionsCover(r.regions, out.storageNumel());
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
    const bool arg = reduceGivesIndex(r.kind);
    if (arg ? out.dtype != DType::I64 || (r.extent == 0 && kept != 0) : out.dtype != in[0]->dtype)
      return corrupt(arg ? "argmax/argmin give i64 indices over a non-empty extent"
                         : "reduce changes the dtype");
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
    if (in.size() < (c.hasBias ? 3u : 2u) || (c.hasBias && in[2]->numel() != w.shape[0]))
      return corrupt("conv2d bias does not match");
    return validateWindow({w.shape[2], w.shape[3]}, c.stride, c.pads, c.dilation, x, out);
  }
  case PrimitiveKind::Elementwise: {
    const auto& e = p.as<ElementwiseParams>();
    if (in[0]->numel() != out.numel() || in[0]->dtype != out.dtype)
      return corrupt("elementwise changes the element count or dtype");
    int64_t block = 0;
    if (e.channels < 1 || e.inner < 1 || !checkedProduct({e.channels, e.inner}, &block) ||
        out.numel() % block != 0)
      return corrupt("elementwise channels " + std::to_string(e.channels) + " x inner " +
                     std::to_string(e.inner) + " do not divide its " + std::to_string(out.numel()) +
                     " elements");
    return Status::ok();
  }
  case PrimitiveKind::Gather: {
    const auto& g = p.as<GatherParams>();
    const TensorDesc& idx = *in[1];
    if (idx.dtype != DType::I64 && idx.dtype != DType::I32)
      return corrupt("gather indices are " + std::string(dtypeName(idx.dtype)) +
                     " (i32 or i64 expected)");
    if (in[0]->dtype != out.dtype) return corrupt("gather changes the dtype");
    if (in[0]->layout != Layout::Plain || idx.layout != Layout::Plain ||
        out.layout != Layout::Plain)
      return corrupt("gather tensors must be plain");
    int64_t all = 0, picked = 0, rows = 0;
    if (g.outer < 0 || g.extent < 0 || g.inner < 0 ||
        !checkedProduct({g.outer, g.extent, g.inner}, &all) || all != in[0]->numel())
      return corrupt("gather dims do not match its tensors");
    if (g.elements) { // one index per output element, the index tensor laid out as the output
      if (!checkedProduct({g.outer, g.inner}, &rows) || idx.numel() != out.numel() ||
          (rows == 0 ? idx.numel() != 0 : idx.numel() % rows != 0))
        return corrupt("gather elements: the indices must be laid out as the output, [outer, "
                       "count, inner]");
      picked = out.numel();
    } else if (!checkedProduct({g.outer, idx.numel(), g.inner}, &picked) || picked != out.numel()) {
      return corrupt("gather dims do not match its tensors");
    }
    if (g.extent == 0 && picked != 0) return corrupt("gather picks from an empty axis");
    return Status::ok();
  }
  case PrimitiveKind::Scatter: {
    const auto& sc = p.as<ScatterParams>();
    const TensorDesc &idx = *in[1], &upd = *in[2];
    if (idx.dtype != DType::I64 && idx.dtype != DType::I32)
      return corrupt("scatter indices are " + std::string(dtypeName(idx.dtype)) +
                     " (i32 or i64 expected)");
    if (in[0]->dtype != out.dtype || upd.dtype != out.dtype)
      return corrupt("scatter data, updates and output differ in dtype");
    if (in[0]->layout != Layout::Plain || idx.layout != Layout::Plain ||
        upd.layout != Layout::Plain || out.layout != Layout::Plain)
      return corrupt("scatter tensors must be plain");
    int64_t all = 0, written = 0;
    if (sc.outer < 0 || sc.extent < 0 || sc.inner < 0 ||
        !checkedProduct({sc.outer, sc.extent, sc.inner}, &all) || all != in[0]->numel() ||
        all != out.numel() || !checkedProduct({sc.outer, idx.numel(), sc.inner}, &written) ||
        written != upd.numel())
      return corrupt("scatter dims do not match its tensors");
    if (sc.extent == 0 && written != 0) return corrupt("scatter writes into an empty axis");
    if (sc.reduce && ((sc.kind != BinaryKind::Add && sc.kind != BinaryKind::Mul &&
                       sc.kind != BinaryKind::Max && sc.kind != BinaryKind::Min) ||
                      out.dtype == DType::Bool || dtypeIsHalf(out.dtype)))
      return corrupt("scatter combines by add, mul, max or min, on numbers computed as they are");
    return Status::ok();
  }
  case PrimitiveKind::TopK: {
    const auto& t = p.as<TopKParams>();
    int64_t all = 0, picked = 0;
    if (t.outer < 0 || t.extent < 0 || t.inner < 0 || t.k < 0 || t.k > t.extent ||
        !checkedProduct({t.outer, t.extent, t.inner}, &all) ||
        !checkedProduct({t.outer, t.k, t.inner}, &picked) || all != in[0]->numel() ||
        picked != out.numel())
      return corrupt("topk dims do not match its tensors (k at most the extent)");
    const DType d = in[0]->dtype;
    if (d != DType::F32 && d != DType::F64 && d != DType::I32 && d != DType::I64)
      return corrupt("topk input is " + std::string(dtypeName(d)));
    if (out.dtype != DType::I64) return corrupt("topk gives i64 positions");
    if (in[0]->layout != Layout::Plain || out.layout != Layout::Plain)
      return corrupt("topk tensors must be plain");
    return Status::ok();
  }
  case PrimitiveKind::Select: {
    const auto& sel = p.as<SelectParams>();
    const size_t rank = out.shape.size();
    if (sel.condStrides.size() != rank || sel.lhsStrides.size() != rank ||
        sel.rhsStrides.size() != rank)
      return corrupt("select strides do not match the output rank");
    if (in[0]->dtype != DType::Bool) return corrupt("select's condition must be bool");
    if (in[1]->dtype != out.dtype || in[2]->dtype != out.dtype)
      return corrupt("select's operands and output differ in dtype");
    for (const TensorDesc* d : {in[0], in[1], in[2], &out})
      if (d->layout != Layout::Plain) return corrupt("select tensors must be plain");
    if (out.numel() == 0) return Status::ok();
    const I64List* strides[] = {&sel.condStrides, &sel.lhsStrides, &sel.rhsStrides};
    for (size_t i = 0; i < 3; ++i) {
      int64_t reach = 0;
      if (!stridedReach(out.shape, *strides[i], &reach) || reach >= in[i]->numel())
        return corrupt("select operand " + std::to_string(i) + "'s strides reach outside it");
    }
    return Status::ok();
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

template <> std::span<const std::string_view> enumNames<PrimitiveKind>() {
  return kPrimitiveNames;
}
template <> std::span<const std::string_view> enumNames<UnaryKind>() {
  return kUnaryNames;
}
template <> std::span<const std::string_view> enumNames<BinaryKind>() {
  return kBinaryNames;
}
template <> std::span<const std::string_view> enumNames<ReduceKind>() {
  return kReduceNames;
}
template <> std::span<const std::string_view> enumNames<PoolKind>() {
  return kPoolNames;
}
template <> std::span<const std::string_view> enumNames<Broadcast>() {
  return kBroadcastNames;
}

std::string formatPostOp(const PostOp& op) {
  char buf[96];
  if (op.isBinary) {
    std::snprintf(buf, sizeof buf, "%s %s %d%s", std::string(enumName(op.binary)).c_str(),
                  std::string(enumName(op.broadcast)).c_str(), op.operand,
                  op.operandFirst ? " first" : "");
    return buf;
  }
  if (op.alpha == 0.f && op.beta == 0.f) return std::string(enumName(op.unary));
  // %.9g round-trips every float.
  std::snprintf(buf, sizeof buf, "%s %.9g %.9g", std::string(enumName(op.unary)).c_str(),
                static_cast<double>(op.alpha), static_cast<double>(op.beta));
  return buf;
}

Result<PostOp> parsePostOp(std::string_view text) {
  std::vector<std::string> words;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && text[i] == ' ')
      ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ')
      ++j;
    if (j > i) words.emplace_back(text.substr(i, j - i));
    i = j;
  }
  const std::string bad = "post-op '" + std::string(text) + "'";
  if (words.empty()) return corrupt("empty post-op");
  if (auto u = enumFromName<UnaryKind>(words[0])) {
    if (words.size() != 1 && words.size() != 3)
      return corrupt(bad + ": expected NAME [ALPHA BETA]");
    PostOp op = PostOp::makeUnary(*u);
    if (words.size() == 3) {
      char* end1 = nullptr;
      char* end2 = nullptr;
      op.alpha = std::strtof(words[1].c_str(), &end1);
      op.beta = std::strtof(words[2].c_str(), &end2);
      if (*end1 || *end2) return corrupt(bad + ": bad number");
    }
    return op;
  }
  auto b = enumFromName<BinaryKind>(words[0]);
  if (!b) return corrupt(bad + ": unknown kind '" + words[0] + "'");
  if (words.size() != 3 && !(words.size() == 4 && words[3] == "first"))
    return corrupt(bad + ": expected OP BROADCAST OPERAND [first]");
  auto how = enumFromName<Broadcast>(words[1]);
  if (!how) return corrupt(bad + ": unknown broadcast '" + words[1] + "'");
  char* end = nullptr;
  const long operand = std::strtol(words[2].c_str(), &end, 10);
  if (*end || operand < 0 || operand > (1 << 16)) return corrupt(bad + ": bad operand index");
  return PostOp::makeBinary(*b, *how, static_cast<int32_t>(operand), words.size() == 4);
}

const PostOps* postOpsOf(const Primitive& p) {
  switch (p.kind()) {
  case PrimitiveKind::Conv2d: return &p.as<Conv2dParams>().postOps;
  case PrimitiveKind::MatMul: return &p.as<MatMulParams>().postOps;
  case PrimitiveKind::Elementwise: return &p.as<ElementwiseParams>().postOps;
  default: return nullptr;
  }
}

PostOps* postOpsOf(Primitive& p) {
  return const_cast<PostOps*>(postOpsOf(static_cast<const Primitive&>(p)));
}

double primitiveFlops(const Primitive& p, const std::vector<TensorDesc>& t) {
  const double out = static_cast<double>(t[p.outputs[0]].numel());
  const PostOps* ops = postOpsOf(p);
  const double post = ops ? out * static_cast<double>(ops->size()) : 0.0;
  switch (p.kind()) {
  case PrimitiveKind::Conv2d: {
    const Shape& w = t[p.inputs[1]].shape;
    return 2.0 * out * static_cast<double>(w[1] * w[2] * w[3]) + post;
  }
  case PrimitiveKind::MatMul: {
    const auto& m = p.as<MatMulParams>();
    return 2.0 * static_cast<double>(m.batch * m.m * m.n) * static_cast<double>(m.k) + post;
  }
  case PrimitiveKind::Raster:
  case PrimitiveKind::View:
  case PrimitiveKind::Gather:
  case PrimitiveKind::Scatter:
  case PrimitiveKind::Select: return 0.0;
  case PrimitiveKind::TopK: return static_cast<double>(t[p.inputs[0]].numel());
  case PrimitiveKind::Reduce:
  case PrimitiveKind::Pool: return static_cast<double>(t[p.inputs[0]].numel());
  default: return out + post;
  }
}

bool reducesPlanes(const ReduceParams& r, const TensorDesc& x) {
  return x.rank() == 4 && r.inner == 1 && r.outer == x.shape[0] * x.shape[1] &&
         r.extent == x.shape[2] * x.shape[3];
}

size_t baseInputCount(const Primitive& p) {
  switch (p.kind()) {
  case PrimitiveKind::Conv2d: return p.as<Conv2dParams>().hasBias ? 3 : 2;
  case PrimitiveKind::MatMul: return p.as<MatMulParams>().hasBias ? 3 : 2;
  case PrimitiveKind::Elementwise: return 1;
  default: return p.inputs.size();
  }
}

Result<int64_t> gatherRow(int64_t index, int64_t extent) {
  const int64_t row = index < 0 ? index + extent : index;
  if (row < 0 || row >= extent)
    return invalidArgument("gather index " + std::to_string(index) + " out of range [" +
                           std::to_string(-extent) + ", " + std::to_string(extent) + ")");
  return row;
}

Status validatePrimitive(const Primitive& p, std::span<const TensorDesc* const> tensors) {
  if (std::holds_alternative<std::monostate>(p.params)) return corrupt("primitive without params");
  size_t maxIn = 1, minIn = 1;
  switch (p.kind()) {
  case PrimitiveKind::Raster:
    minIn = 1;
    maxIn = 1 << 16;
    break;
  case PrimitiveKind::Binary:
  case PrimitiveKind::Gather: minIn = maxIn = 2; break;
  case PrimitiveKind::Select:
  case PrimitiveKind::Scatter: minIn = maxIn = 3; break;
  case PrimitiveKind::MatMul:
  case PrimitiveKind::Conv2d:
  case PrimitiveKind::Elementwise:
    // Base inputs, then post-op operands (validatePostOps checks each is used).
    minIn = p.kind() == PrimitiveKind::Elementwise ? 1 : 2;
    maxIn = 1 << 10;
    break;
  default: break;
  }
  TESSEL_RETURN_IF_ERROR(expectCounts(p, minIn, maxIn));
  // The inputs' descriptions: on the stack for the usual few, else on the heap.
  std::array<const TensorDesc*, 8> few{};
  std::vector<const TensorDesc*> many;
  if (p.inputs.size() > few.size()) many.resize(p.inputs.size());
  const std::span<const TensorDesc*> in =
      many.empty() ? std::span<const TensorDesc*>(few.data(), p.inputs.size())
                   : std::span<const TensorDesc*>(many);
  for (size_t k = 0; k < p.inputs.size(); ++k) {
    const int32_t id = p.inputs[k];
    if (id < 0 || static_cast<size_t>(id) >= tensors.size())
      return corrupt("primitive input id " + std::to_string(id) + " out of range");
    in[k] = tensors[id];
  }
  int32_t outId = p.outputs[0];
  if (outId < 0 || static_cast<size_t>(outId) >= tensors.size())
    return corrupt("primitive output id " + std::to_string(outId) + " out of range");
  Status s = validateParams(p, in, *tensors[outId]);
  if (s.isOk()) s = validatePostOps(p, in, *tensors[outId]);
  if (s.isOk()) return s; // the context is built for errors only (plans made at run time)
  return s.withContext(std::string(primitiveName(p.kind())) +
                       (p.origin.empty() ? "" : " '" + p.origin + "'"));
}

Status validatePrimitive(const Primitive& p, const std::vector<TensorDesc>& tensors) {
  std::vector<const TensorDesc*> at;
  at.reserve(tensors.size());
  for (const TensorDesc& t : tensors)
    at.push_back(&t);
  return validatePrimitive(p, at);
}

RasterAlias rasterAlias(const RasterParams& r, std::span<const TensorDesc* const> sources,
                        const TensorDesc& out) {
  if (r.fill || r.regions.empty()) return RasterAlias::None;
  const auto elements = [](const Region& g) { return g.size[0] * g.size[1] * g.size[2]; };
  const auto source = [&](const Region& g) -> const TensorDesc* {
    return g.source >= 0 && static_cast<size_t>(g.source) < sources.size() ? sources[g.source]
                                                                           : nullptr;
  };
  const Region& first = r.regions[0];
  if (r.regions.size() == 1 && source(first) && first.dst.offset == 0 &&
      elements(first) == out.storageNumel() && viewContiguous(first.src, first.size) &&
      viewContiguous(first.dst, first.size))
    return RasterAlias::Slice;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::vector<int32_t> seen;
  for (const Region& g : r.regions) {
    const TensorDesc* t = source(g);
    if (!t || g.src.offset != 0 || elements(g) != t->storageNumel() ||
        !viewContiguous(g.src, g.size) || !viewContiguous(g.dst, g.size) ||
        std::find(seen.begin(), seen.end(), g.source) != seen.end())
      return RasterAlias::None;
    seen.push_back(g.source);
    ranges.emplace_back(g.dst.offset, g.dst.offset + elements(g));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) return RasterAlias::None;
  return RasterAlias::Concat;
}

} // namespace tessel
