// Rules for reductions and softmax.
#include "builder.h"

#include <algorithm>

namespace tessel::decompose {
namespace {

int64_t product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i)
    p *= s[i];
  return p;
}

ReduceKind reduceKindOf(const std::string& op) {
  if (op == "ReduceMean") return ReduceKind::Mean;
  if (op == "ReduceMax") return ReduceKind::Max;
  if (op == "ReduceMin") return ReduceKind::Min;
  return ReduceKind::Sum;
}

} // namespace

// Reduces runs of adjacent axes one after another, innermost first: a mean of equal-sized means
// is the overall mean, so every kind composes.
Status lowerReduce(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  std::vector<int64_t> axes;
  const bool axesAsInput = n.opType == "ReduceSum" ? n.opset >= 13 : n.opset >= 18;
  if (axesAsInput) {
    if (n.hasInput(1)) {
      TESSEL_ASSIGN_OR_RETURN(axes, n.constInts(1, "axes"));
    }
  } else {
    TESSEL_ASSIGN_OR_RETURN(axes, n.intsAttr("axes", {}));
  }
  TESSEL_ASSIGN_OR_RETURN(int64_t keepDims, n.intAttr("keepdims", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t noopEmpty, n.intAttr("noop_with_empty_axes", 0));
  if (axes.empty() && noopEmpty) {
    b.view(b.input(0), b.setOutput(0, x));
    return Status::ok();
  }
  std::vector<bool> reduced(x.rank(), axes.empty());
  for (int64_t a : axes) {
    TESSEL_ASSIGN_OR_RETURN(int64_t ax, normalizeAxis(n, a, x.rank()));
    reduced[ax] = true;
  }
  Shape kept = x.shape, squeezed;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (reduced[i])
      kept[i] = 1;
    else
      squeezed.push_back(x.shape[i]);
  }
  int32_t out = b.setOutput(0, {x.dtype, keepDims ? kept : squeezed});
  // Runs of reduced axes, innermost first.
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t i = x.rank() - 1; i >= 0; --i) {
    if (!reduced[i]) continue;
    int64_t end = i + 1;
    while (i > 0 && reduced[i - 1])
      --i;
    runs.emplace_back(i, end);
  }
  Shape cur = x.shape;
  int32_t src = b.input(0);
  if (runs.empty()) {
    b.view(src, out);
    return Status::ok();
  }
  for (size_t k = 0; k < runs.size(); ++k) {
    auto [from, to] = runs[k];
    ReduceParams r{reduceKindOf(n.opType), product(cur, 0, from), product(cur, from, to),
                   product(cur, to, cur.size())};
    for (int64_t i = from; i < to; ++i)
      cur[i] = 1;
    int32_t dst = k + 1 == runs.size() ? out : b.temp({x.dtype, cur});
    b.emit(r, {src}, dst);
    src = dst;
  }
  return Status::ok();
}

// softmax(x) = exp(x - max) / sum(exp(x - max)) over [outer, extent, inner] views of the input.
Status lowerSoftmax(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", n.opset >= 13 ? -1 : 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  const size_t ax = static_cast<size_t>(axis);
  int64_t outer = product(x.shape, 0, ax), extent = 0, inner = 1;
  if (n.opset >= 13) {
    extent = x.shape[ax];
    inner = product(x.shape, ax + 1, x.shape.size());
  } else {
    extent = product(x.shape, ax, x.shape.size());
  }
  const TensorDesc full{DType::F32, {outer, extent, inner}};
  const TensorDesc part{DType::F32, {outer, 1, inner}};
  int32_t x3 = b.temp(full);
  b.view(b.input(0), x3);
  int32_t mx = b.temp(part);
  b.emit(ReduceParams{ReduceKind::Max, outer, extent, inner}, {x3}, mx);
  int32_t shifted = b.temp(full);
  b.binary(BinaryKind::Sub, x3, mx, shifted);
  int32_t e = b.temp(full);
  b.unary(UnaryKind::Exp, shifted, e);
  int32_t sum = b.temp(part);
  b.emit(ReduceParams{ReduceKind::Sum, outer, extent, inner}, {e}, sum);
  int32_t y3 = b.temp(full);
  b.binary(BinaryKind::Div, e, sum, y3);
  b.view(y3, b.setOutput(0, x));
  return Status::ok();
}

} // namespace tessel::decompose
