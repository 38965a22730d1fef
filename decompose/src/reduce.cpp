// Rules for reductions and softmax.
#include "builder.h"
#include "tessel/decompose/strided_copy.h"

#include <algorithm>

namespace tessel::decompose {
namespace {

ReduceKind reduceKindOf(const std::string& op) {
  if (op == "ReduceMean") return ReduceKind::Mean;
  if (op == "ReduceMax") return ReduceKind::Max;
  if (op == "ReduceMin") return ReduceKind::Min;
  if (op == "ReduceProd") return ReduceKind::Prod;
  return ReduceKind::Sum; // ReduceSum, ReduceL1, ReduceL2, ReduceLogSum, ...
}

struct Normalized {
  int32_t value;  // (x - mean) / stddev, [outer, extent, inner]
  int32_t mean;   // [outer, 1, inner]
  int32_t stddev; // sqrt(var + eps), [outer, 1, inner]
};

// Normalizes over the middle dim of an [outer, extent, inner] tensor.
Normalized normalizeMiddle(LoweringBuilder& b, int32_t x3, double eps) {
  const Shape s = b.shape(x3);
  const TensorDesc full{DType::F32, s}, part{DType::F32, {s[0], 1, s[2]}};
  const ReduceParams mean{ReduceKind::Mean, s[0], s[1], s[2]};
  const int32_t mu = b.temp(part);
  b.emit(mean, {x3}, mu);
  const int32_t centered = b.binaryTemp(BinaryKind::Sub, x3, mu);
  const int32_t squared = b.binaryTemp(BinaryKind::Mul, centered, centered);
  const int32_t var = b.temp(part);
  b.emit(mean, {squared}, var);
  const int32_t sd = b.temp(part);
  b.unary(UnaryKind::Sqrt, b.binaryTemp(BinaryKind::Add, var, b.scalar(DType::F32, eps)), sd);
  return {b.binaryTemp(BinaryKind::Div, centered, sd), mu, sd};
}

} // namespace

void reduceRuns(LoweringBuilder& b, ReduceKind kind, int32_t src, const std::vector<bool>& reduced,
                int32_t dst) {
  Shape cur = b.shape(src);
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t i = static_cast<int64_t>(cur.size()) - 1; i >= 0; --i) {
    if (!reduced[i]) continue;
    const int64_t end = i + 1;
    while (i > 0 && reduced[i - 1])
      --i;
    runs.emplace_back(i, end);
  }
  if (runs.empty()) {
    b.view(src, dst);
    return;
  }
  for (size_t k = 0; k < runs.size(); ++k) {
    auto [from, to] = runs[k];
    ReduceParams r{kind, product(cur, 0, from), product(cur, from, to),
                   product(cur, to, cur.size())};
    for (int64_t i = from; i < to; ++i)
      cur[i] = 1;
    const int32_t next = k + 1 == runs.size() ? dst : b.temp({b.desc(src).dtype, cur});
    b.emit(r, {src}, next);
    src = next;
  }
}

// Runs of adjacent axes reduce one after another, innermost first: a mean of equal-sized means
// is the overall mean, so every kind composes. L1, L2, SumSquare, LogSum and LogSumExp are a sum
// between an elementwise step before (abs, square, exp) and after (sqrt, log).
Status lowerReduce(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  // f32 and f64 as they are, the half types in f32.
  const DType compute = dtypeIsHalf(x.dtype) ? DType::F32 : x.dtype;
  if (compute != DType::F32 && compute != DType::F64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)) +
                       " (floating-point only)");
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
  const std::string& op = n.opType;
  const int32_t in = b.castTemp(b.input(0), compute);
  int32_t src = in;
  if (op == "ReduceL1" || op == "ReduceLogSumExp") {
    src = b.unaryTemp(op == "ReduceL1" ? UnaryKind::Abs : UnaryKind::Exp, in);
  } else if (op == "ReduceL2" || op == "ReduceSumSquare") {
    src = b.binaryTemp(BinaryKind::Mul, in, in);
  }
  const bool root = op == "ReduceL2", log = op == "ReduceLogSum" || op == "ReduceLogSumExp";
  const int32_t out = b.setOutput(0, {x.dtype, keepDims ? kept : squeezed});
  const int32_t result = compute == x.dtype ? out : b.temp({compute, b.shape(out)});
  const int32_t sum = root || log ? b.temp(b.desc(result)) : result;
  reduceRuns(b, reduceKindOf(op), src, reduced, sum);
  if (root || log) b.unary(root ? UnaryKind::Sqrt : UnaryKind::Log, sum, result);
  if (result != out) b.unary(UnaryKind::Cast, result, out);
  return Status::ok();
}

// ArgMax / ArgMin: one reduce of [outer, extent, inner] around the axis, i64 indices.
Status lowerArgReduce(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32 && x.dtype != DType::I32 && x.dtype != DType::I64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  TESSEL_ASSIGN_OR_RETURN(int64_t keepDims, n.intAttr("keepdims", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t last, n.intAttr("select_last_index", 0));
  const size_t ax = static_cast<size_t>(axis);
  if (x.shape[ax] == 0) return n.error("reduces an empty axis " + std::to_string(axis));
  Shape outShape = x.shape;
  if (keepDims)
    outShape[ax] = 1;
  else
    outShape.erase(outShape.begin() + axis);
  ReduceParams r{n.opType == "ArgMax" ? ReduceKind::ArgMax : ReduceKind::ArgMin,
                 product(x.shape, 0, ax), x.shape[ax], product(x.shape, ax + 1, x.shape.size())};
  r.selectLast = last != 0;
  b.emit(r, {b.input(0)}, b.setOutput(0, {DType::I64, outShape}));
  return Status::ok();
}

// Hardmax: 1 where an element is the first largest along the axis, else 0: the argmax (kept as a
// dim of 1) compared with the positions 0..extent-1 along the axis, cast to f32.
Status lowerHardmax(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", n.opset >= 13 ? -1 : 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  const size_t ax = static_cast<size_t>(axis);
  // Before opset 13 the input is a 2-D [before axis, from axis on] matrix.
  const int64_t outer = product(x.shape, 0, ax);
  const int64_t extent = n.opset >= 13 ? x.shape[ax] : product(x.shape, ax, x.shape.size());
  const int64_t inner = n.opset >= 13 ? product(x.shape, ax + 1, x.shape.size()) : 1;
  const int32_t out = b.setOutput(0, x);
  if (x.numel() == 0) {
    RasterParams r;
    r.fill = 0.0;
    b.emit(r, {b.input(0)}, out);
    return Status::ok();
  }
  const int32_t arg = b.temp({DType::I64, {outer, 1, inner}});
  b.emit(ReduceParams{ReduceKind::ArgMax, outer, extent, inner}, {b.input(0)}, arg);
  std::vector<int64_t> positions(static_cast<size_t>(extent));
  for (int64_t e = 0; e < extent; ++e)
    positions[static_cast<size_t>(e)] = e;
  const int32_t iota = b.constant({DType::I64, {1, extent, 1}}, positions.data());
  const int32_t hit = b.temp({DType::Bool, {outer, extent, inner}});
  b.binary(BinaryKind::Equal, iota, arg, hit);
  const int32_t flat = b.temp({DType::F32, {outer, extent, inner}});
  b.unary(UnaryKind::Cast, hit, flat);
  b.view(flat, out);
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
  int32_t x3 = b.temp({DType::F32, {outer, extent, inner}});
  b.view(b.input(0), x3);
  b.view(softmaxMiddle(b, x3, n.opType == "LogSoftmax"), b.setOutput(0, x));
  return Status::ok();
}

int32_t softmaxMiddle(LoweringBuilder& b, int32_t x3, bool log) {
  const TensorDesc full{DType::F32, b.shape(x3)};
  const int64_t outer = full.shape[0], extent = full.shape[1], inner = full.shape[2];
  const TensorDesc part{DType::F32, {outer, 1, inner}};
  int32_t mx = b.temp(part);
  b.emit(ReduceParams{ReduceKind::Max, outer, extent, inner}, {x3}, mx);
  int32_t shifted = b.temp(full);
  b.binary(BinaryKind::Sub, x3, mx, shifted);
  int32_t e = b.temp(full);
  b.unary(UnaryKind::Exp, shifted, e);
  int32_t sum = b.temp(part);
  b.emit(ReduceParams{ReduceKind::Sum, outer, extent, inner}, {e}, sum);
  int32_t y3 = b.temp(full);
  if (log) {
    const int32_t logSum = b.temp(part);
    b.unary(UnaryKind::Log, sum, logSum);
    b.binary(BinaryKind::Sub, shifted, logSum, y3);
  } else {
    b.binary(BinaryKind::Div, e, sum, y3);
  }
  return y3;
}

Status lowerInstanceNorm(LoweringBuilder& b) {
  const Node& n = b.node();
  for (size_t i = 0; i < 3; ++i)
    if (!n.hasInput(i)) return n.error("expects input, scale and B");
  const TensorDesc x = b.desc(b.input(0));
  if (x.rank() < 3 || x.dtype != DType::F32) return n.error("input must be f32 of rank >= 3");
  for (size_t i = 1; i < 3; ++i)
    if (b.desc(b.input(i)).numel() != x.shape[1]) return n.error("scale and B must have C values");
  TESSEL_ASSIGN_OR_RETURN(double eps, n.floatAttr("epsilon", 1e-5));
  const int32_t x3 =
      b.temp({DType::F32, {x.shape[0] * x.shape[1], product(x.shape, 2, x.shape.size()), 1}});
  b.view(b.input(0), x3);
  const int32_t normalized = b.temp(x);
  b.view(normalizeMiddle(b, x3, eps).value, normalized);
  const int32_t scaled = b.temp(x);
  b.binaryPerChannel(BinaryKind::Mul, normalized, b.input(1), 1, scaled);
  b.binaryPerChannel(BinaryKind::Add, scaled, b.input(2), 1, b.setOutput(0, x));
  return Status::ok();
}

Status lowerLayerNorm(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects X and Scale");
  if (n.numOutputs > 3) return n.error("has more than 3 outputs");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", -1));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  TESSEL_ASSIGN_OR_RETURN(double eps, n.floatAttr("epsilon", 1e-5));
  const int64_t outer = product(x.shape, 0, axis), extent = product(x.shape, axis, x.shape.size());
  const Shape rows{outer, extent};
  const int32_t x3 = b.temp({DType::F32, {outer, extent, 1}});
  b.view(b.input(0), x3);
  const int32_t normalized = b.temp({DType::F32, rows});
  const Normalized norm = normalizeMiddle(b, x3, eps);
  b.view(norm.value, normalized);
  // Scale and B cover the normalized dims (or broadcast within them): read them as [extent].
  auto asRow = [&](size_t i) -> Result<int32_t> {
    const Shape tail(x.shape.begin() + axis, x.shape.end());
    auto s = broadcastShapes(tail, b.shape(b.input(i)));
    if (!s.isOk() || *s != tail)
      return n.error("Scale and B must broadcast to " + shapeToString(tail));
    const int32_t full = b.temp({DType::F32, tail});
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0,
                                             {0, broadcastStrides(b.shape(b.input(i)), tail)},
                                             {0, denseStrides(tail)}, tail));
    b.emit(r, {b.input(i)}, full);
    const int32_t row = b.temp({DType::F32, {extent}});
    b.view(full, row);
    return row;
  };
  TESSEL_ASSIGN_OR_RETURN(int32_t scale, asRow(1));
  const int32_t y = b.temp({DType::F32, rows});
  int32_t last = y;
  b.binary(BinaryKind::Mul, normalized, scale, y);
  if (n.hasInput(2)) {
    TESSEL_ASSIGN_OR_RETURN(int32_t bias, asRow(2));
    last = b.binaryTemp(BinaryKind::Add, y, bias);
  }
  b.view(last, b.setOutput(0, x));
  // Optional outputs: Mean and InvStdDev, shaped like X with the normalized dims set to 1.
  Shape stat = x.shape;
  for (int64_t i = axis; i < x.rank(); ++i)
    stat[i] = 1;
  if (n.numOutputs > 1) b.view(norm.mean, b.setOutput(1, {DType::F32, stat}));
  if (n.numOutputs > 2)
    b.unary(UnaryKind::Reciprocal, norm.stddev, b.setOutput(2, {DType::F32, stat}));
  return Status::ok();
}

// MeanVarianceNormalization: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default
// 0, 2, 3), as ONNX's function body computes it; means over several axes as in ReduceMean.
Status lowerMeanVarianceNormalization(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes, n.intsAttr("axes", {0, 2, 3}));
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : axes) {
    TESSEL_ASSIGN_OR_RETURN(int64_t ax, normalizeAxis(n, a, x.rank()));
    reduced[ax] = true;
  }
  Shape kept = x.shape;
  for (int64_t i = 0; i < x.rank(); ++i)
    if (reduced[i]) kept[i] = 1;
  const TensorDesc part{DType::F32, kept};
  const int32_t mean = b.temp(part), meanSquare = b.temp(part);
  reduceRuns(b, ReduceKind::Mean, b.input(0), reduced, mean);
  reduceRuns(b, ReduceKind::Mean, b.binaryTemp(BinaryKind::Mul, b.input(0), b.input(0)), reduced,
             meanSquare);
  const int32_t variance =
      b.binaryTemp(BinaryKind::Sub, meanSquare, b.binaryTemp(BinaryKind::Mul, mean, mean));
  const int32_t deviation = b.temp(part);
  b.unary(UnaryKind::Sqrt, variance, deviation);
  const int32_t centered = b.binaryTemp(BinaryKind::Sub, b.input(0), mean);
  b.binary(BinaryKind::Div, centered,
           b.binaryTemp(BinaryKind::Add, deviation, b.scalar(DType::F32, 1e-9)), b.setOutput(0, x));
  return Status::ok();
}

// LRN: x / (bias + alpha / size * (sum of x^2 over the size channels around each))^beta; the
// channel window is an average pool (counting pads) over [N, 1, C, H * W], times size.
Status lowerLRN(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32 || x.rank() < 3)
    return unsupported(n.label() + ": only f32 inputs of rank 3 or more");
  TESSEL_ASSIGN_OR_RETURN(double alpha, n.floatAttr("alpha", 1e-4));
  TESSEL_ASSIGN_OR_RETURN(double beta, n.floatAttr("beta", 0.75));
  TESSEL_ASSIGN_OR_RETURN(double bias, n.floatAttr("bias", 1.0));
  TESSEL_ASSIGN_OR_RETURN(int64_t size, n.intAttr("size", 0));
  if (size < 1 || size > (int64_t{1} << 20)) return n.error("size must be in [1, 2^20]");
  const int64_t batch = x.shape[0], channels = x.shape[1], plane = product(x.shape, 2, x.rank());
  const TensorDesc stacked{DType::F32, {batch, 1, channels, plane}};
  const int32_t square = b.temp(stacked);
  b.view(b.binaryTemp(BinaryKind::Mul, b.input(0), b.input(0)), square);
  PoolParams window;
  window.kind = PoolKind::Avg;
  window.kernel = {size, 1};
  window.pads = {(size - 1) / 2, 0, size / 2, 0}; // floor((size-1)/2) before, ceil after
  window.countIncludePad = true;                  // the average is the sum over size
  const int32_t average = b.temp(stacked);
  b.emit(window, {square}, average);
  const int32_t scaled = b.binaryTemp(BinaryKind::Mul, average, b.scalar(DType::F32, alpha));
  const int32_t base = b.binaryTemp(BinaryKind::Add, scaled, b.scalar(DType::F32, bias));
  const int32_t denominator = b.temp(x);
  b.view(b.binaryTemp(BinaryKind::Pow, base, b.scalar(DType::F32, beta)), denominator);
  b.binary(BinaryKind::Div, b.input(0), denominator, b.setOutput(0, x));
  return Status::ok();
}

// TopK: the topk primitive gives the positions (output 1), a gather in elements form picks the
// values (output 0). K is a value (a graph input's at run time).
Status lowerTopK(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32 && x.dtype != DType::F64 && x.dtype != DType::I32 &&
      x.dtype != DType::I64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  int64_t k = 0;
  if (n.opset < 10) {
    TESSEL_ASSIGN_OR_RETURN(k, n.intAttr("k", -1));
  } else {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> kv, n.constInts(1, "K"));
    if (kv.size() != 1) return n.error("K must hold one value");
    k = kv[0];
  }
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", -1));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  TESSEL_ASSIGN_OR_RETURN(int64_t largest, n.intAttr("largest", 1));
  if (k < 0 || k > x.shape[axis])
    return n.error("K " + std::to_string(k) + " out of range [0, " + std::to_string(x.shape[axis]) +
                   "]");
  if (n.numOutputs != 2) return n.error("TopK has 2 outputs");
  const int64_t outer = product(x.shape, 0, axis), extent = x.shape[axis],
                inner = product(x.shape, axis + 1, x.rank());
  Shape outShape = x.shape;
  outShape[axis] = k;
  TopKParams t{outer, extent, inner, k, largest != 0};
  const int32_t positions = b.temp({DType::I64, {outer, k, inner}});
  b.emit(t, {b.input(0)}, positions);
  b.view(positions, b.setOutput(1, {DType::I64, outShape}));
  const int32_t x3 = b.temp({x.dtype, {outer, extent, inner}});
  b.view(b.input(0), x3);
  GatherParams values{outer, extent, inner};
  values.elements = true;
  const int32_t picked = b.temp({x.dtype, {outer, k, inner}});
  b.emit(values, {x3, positions}, picked);
  b.view(picked, b.setOutput(0, {x.dtype, outShape}));
  return Status::ok();
}

// CumSum by doubling (Hillis-Steele): along the axis, viewed as [outer, L, inner], each step adds
// the running sums shifted by 1, 2, 4, ... positions (a raster with zero fill), so L positions
// take ceil(log2 L) steps of two primitives; exclusive sums shift once more, reverse sums run on
// the reversed axis. Integer sums are exact; float sums associate differently from a loop.
Status lowerCumSum(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects x and axis");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32 && x.dtype != DType::F64 && x.dtype != DType::I32 &&
      x.dtype != DType::I64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> axisValue, n.constInts(1, "axis"));
  if (axisValue.size() != 1) return n.error("axis must hold one value");
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisValue[0], x.rank()));
  TESSEL_ASSIGN_OR_RETURN(int64_t exclusive, n.intAttr("exclusive", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t reverse, n.intAttr("reverse", 0));
  const int64_t outer = product(x.shape, 0, axis), len = x.shape[axis],
                inner = product(x.shape, axis + 1, x.rank());
  const TensorDesc rows{x.dtype, {outer, len, inner}};
  const int32_t out = b.setOutput(0, x);
  if (x.numel() == 0) {
    b.view(b.input(0), out);
    return Status::ok();
  }
  // A copy of `src` with the axis reversed, or shifted by `by` positions (zeros in front).
  const auto reversed = [&](int32_t src) {
    RasterParams r;
    r.regions.push_back(Region{0,
                               {(len - 1) * inner, {len * inner, -inner, 1}},
                               {0, {len * inner, inner, 1}},
                               {outer, len, inner}});
    const int32_t t = b.temp(rows);
    b.emit(r, {src}, t);
    return t;
  };
  const auto shifted = [&](int32_t src, int64_t by) {
    RasterParams r;
    r.fill = 0.0;
    if (by < len)
      r.regions.push_back(Region{0,
                                 {0, {len * inner, inner, 1}},
                                 {by * inner, {len * inner, inner, 1}},
                                 {outer, len - by, inner}});
    const int32_t t = b.temp(rows);
    b.emit(r, {src}, t);
    return t;
  };
  int32_t cur = b.temp(rows);
  b.view(b.input(0), cur);
  if (reverse) cur = reversed(cur);
  for (int64_t by = 1; by < len; by *= 2) {
    const int32_t sum = b.temp(rows);
    b.binary(BinaryKind::Add, cur, shifted(cur, by), sum);
    cur = sum;
  }
  if (exclusive) cur = shifted(cur, 1);
  if (reverse) cur = reversed(cur);
  b.view(cur, out);
  return Status::ok();
}

} // namespace tessel::decompose
