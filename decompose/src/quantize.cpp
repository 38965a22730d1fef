// Linear quantization: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear as f32
// elementwise steps, reductions and saturating casts (castElement: out-of-range values clamp to
// the integer type, as ONNX's saturate does).
#include "builder.h"

#include <algorithm>

namespace tessel::decompose {
namespace {

bool isQuantized(DType t) {
  return t == DType::U8 || t == DType::I8 || t == DType::U16 || t == DType::I16 || t == DType::I32;
}

// Input i (a scale or zero point) as f32, shaped to broadcast against x: a scalar (or one
// element) as it is, a 1-D tensor of the quantized axis' length along `axis`.
Result<int32_t> perAxis(LoweringBuilder& b, size_t i, const TensorDesc& x, int64_t axis,
                        const char* what) {
  const Node& n = b.node();
  const TensorDesc d = b.desc(b.input(i));
  int32_t v = b.castTemp(b.input(i), DType::F32);
  if (d.numel() == 1 && d.rank() <= 1) {
    const int32_t scalar = b.temp({DType::F32, {}});
    b.view(v, scalar);
    return scalar;
  }
  if (d.rank() != 1 || x.rank() == 0)
    return n.error(std::string(what) + " " + shapeToString(d.shape) +
                   " is neither a scalar nor one value per element of an axis of " + x.toString());
  TESSEL_ASSIGN_OR_RETURN(const int64_t ax, normalizeAxis(n, axis, x.rank()));
  if (d.shape[0] != x.shape[static_cast<size_t>(ax)])
    return n.error(std::string(what) + " " + shapeToString(d.shape) + " does not match axis " +
                   std::to_string(ax) + " of " + x.toString());
  Shape along(x.shape.size(), 1);
  along[static_cast<size_t>(ax)] = d.shape[0];
  const int32_t shaped = b.temp({DType::F32, along});
  b.view(v, shaped);
  return shaped;
}

// The quantized axis (attribute `axis`, default 1), checked by perAxis where a parameter is
// per axis.
Result<int64_t> quantizedAxis(const Node& n) {
  return n.intAttr("axis", 1);
}

// y = saturate(round_half_even(scaled) + zero_point), into `out` of an integer type; scaled f32.
void roundIntoInteger(LoweringBuilder& b, int32_t scaled, int32_t zeroPoint, int32_t out) {
  const TensorDesc d{DType::F32, b.shape(out)};
  const int32_t rounded = b.temp(d);
  b.unary(UnaryKind::Round, scaled, rounded);
  const int32_t shifted =
      zeroPoint >= 0 ? b.binaryTemp(BinaryKind::Add, rounded, zeroPoint) : rounded;
  b.unary(UnaryKind::Cast, shifted, out);
}

// y = saturate(round_half_even(x / scale) + zero_point), into `out` of an integer type; x f32.
void quantizeInto(LoweringBuilder& b, int32_t x, int32_t scale, int32_t zeroPoint, int32_t out) {
  roundIntoInteger(b, b.binaryTemp(BinaryKind::Div, x, scale), zeroPoint, out);
}

// Input i viewed as a scalar (one element) or, when it holds one value per element of `shape`
// (non-empty), as `shape`; otherwise an error naming it as `what`.
Result<int32_t> scalarOrShaped(LoweringBuilder& b, size_t i, const Shape& shape,
                               const std::string& what) {
  const TensorDesc d = b.desc(b.input(i));
  Shape viewed;
  if (d.numel() != 1) {
    if (shape.empty() || d.numel() != product(shape, 0, shape.size()))
      return b.node().error(what + " " + shapeToString(d.shape) +
                            " is neither a scalar nor one per " +
                            (shape.empty() ? "tensor" : shapeToString(shape)));
    viewed = shape;
  }
  const int32_t v = b.temp({d.dtype, viewed});
  b.view(b.input(i), v);
  return v;
}

// Input i (u8 or i8) minus its zero point (input zpInput, when present) as f64: exact, and so
// are the f64 products and sums of such values (below 2^53). zeroShape: how a zero point of
// more than one element lies against the input (a row's or a channel's), or empty for scalars
// only.
Result<int32_t> centered(LoweringBuilder& b, size_t i, size_t zpInput, const Shape& zeroShape,
                         const char* what) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(b.input(i));
  if (x.dtype != DType::U8 && x.dtype != DType::I8)
    return unsupported(n.label() + ": " + what + " of element type " +
                       std::string(dtypeName(x.dtype)) + " (u8 or i8)");
  const int32_t wide = b.castTemp(b.input(i), DType::F64);
  if (!n.hasInput(zpInput)) return wide;
  const TensorDesc zp = b.desc(b.input(zpInput));
  if (zp.dtype != x.dtype)
    return n.error(std::string(what) + "'s zero point is " + std::string(dtypeName(zp.dtype)) +
                   ", not " + std::string(dtypeName(x.dtype)));
  TESSEL_ASSIGN_OR_RETURN(
      const int32_t shaped,
      scalarOrShaped(b, zpInput, zeroShape, std::string(what) + "'s zero point"));
  return b.binaryTemp(BinaryKind::Sub, wide, b.castTemp(shaped, DType::F64));
}

// Where a per-row zero point of a matmul's A lies: [M, 1]; a per-column one of B: [N].
Shape rowsOf(const TensorDesc& a) {
  return a.rank() >= 2 ? Shape{a.shape[a.rank() - 2], 1} : Shape{};
}
Shape columnsOf(const TensorDesc& m) {
  return m.rank() >= 2 ? Shape{m.shape.back()} : Shape{};
}

// The f64 result `acc` requantized as onnxruntime does: in f32, times a_scale * b_scale /
// y_scale, rounded half to even, plus y's zero point, saturated into output 0 of y_zp's type.
Status requantize(LoweringBuilder& b, int32_t acc, size_t aScale, size_t bScale, size_t yScale,
                  size_t yZero, const Shape& scaleShape) {
  const Node& n = b.node();
  const Shape shape = b.shape(acc);
  const auto scaleOf = [&](size_t i) -> Result<int32_t> {
    const TensorDesc d = b.desc(b.input(i));
    if (d.dtype != DType::F32) return n.error("scales must be f32");
    return scalarOrShaped(b, i, scaleShape, "scale");
  };
  TESSEL_ASSIGN_OR_RETURN(int32_t sa, scaleOf(aScale));
  TESSEL_ASSIGN_OR_RETURN(int32_t sb, scaleOf(bScale));
  const TensorDesc ys = b.desc(b.input(yScale)), yz = b.desc(b.input(yZero));
  if (ys.numel() != 1 || ys.dtype != DType::F32 || yz.numel() != 1)
    return n.error("the output's scale and zero point must be one f32 and one integer");
  if (yz.dtype != DType::U8 && yz.dtype != DType::I8)
    return unsupported(n.label() + ": output type " + std::string(dtypeName(yz.dtype)));
  TESSEL_ASSIGN_OR_RETURN(int32_t sy, scaleOf(yScale));
  const int32_t multiplier =
      b.binaryTemp(BinaryKind::Div, b.binaryTemp(BinaryKind::Mul, sa, sb), sy);
  const int32_t zero = b.temp({yz.dtype, {}});
  b.view(b.input(yZero), zero);
  const int32_t scaled = b.binaryTemp(BinaryKind::Mul, b.castTemp(acc, DType::F32), multiplier);
  roundIntoInteger(b, scaled, b.castTemp(zero, DType::F32), b.setOutput(0, {yz.dtype, shape}));
  return Status::ok();
}

} // namespace

// QuantizeLinear(x, y_scale[, y_zero_point]): the output takes the zero point's type (u8
// without one); per-tensor or per-axis parameters.
Status lowerQuantizeLinear(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects x and y_scale");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32 && !dtypeIsHalf(x.dtype) && x.dtype != DType::I32)
    return unsupported(n.label() + ": input of element type " + std::string(dtypeName(x.dtype)));
  const DType type = n.hasInput(2) ? b.desc(b.input(2)).dtype : DType::U8;
  if (!isQuantized(type) || type == DType::I32)
    return unsupported(n.label() + ": quantized type " + std::string(dtypeName(type)));
  if (n.hasAttr("block_size")) {
    TESSEL_ASSIGN_OR_RETURN(int64_t block, n.intAttr("block_size", 0));
    if (block != 0) return unsupported(n.label() + ": blocked quantization");
  }
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, quantizedAxis(n));
  TESSEL_ASSIGN_OR_RETURN(int32_t scale, perAxis(b, 1, x, axis, "y_scale"));
  int32_t zeroPoint = -1;
  if (n.hasInput(2)) {
    TESSEL_ASSIGN_OR_RETURN(zeroPoint, perAxis(b, 2, x, axis, "y_zero_point"));
  }
  quantizeInto(b, b.castTemp(b.input(0), DType::F32), scale, zeroPoint,
               b.setOutput(0, {type, x.shape}));
  return Status::ok();
}

// DequantizeLinear(x, x_scale[, x_zero_point]): (x - zero_point) * scale in f32 (the scale's
// type when it is a half type, computed in f32).
Status lowerDequantizeLinear(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects x and x_scale");
  const TensorDesc x = b.desc(b.input(0));
  if (!isQuantized(x.dtype))
    return unsupported(n.label() + ": quantized type " + std::string(dtypeName(x.dtype)));
  if (n.hasInput(2) && b.desc(b.input(2)).dtype != x.dtype)
    return n.error("x_zero_point's type differs from x's");
  const DType outType = b.desc(b.input(1)).dtype;
  if (outType != DType::F32 && !dtypeIsHalf(outType))
    return n.error("x_scale is " + std::string(dtypeName(outType)) + " (a float expected)");
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, quantizedAxis(n));
  TESSEL_ASSIGN_OR_RETURN(int32_t scale, perAxis(b, 1, x, axis, "x_scale"));
  int32_t v = b.castTemp(b.input(0), DType::F32);
  if (n.hasInput(2)) {
    TESSEL_ASSIGN_OR_RETURN(int32_t zeroPoint, perAxis(b, 2, x, axis, "x_zero_point"));
    v = b.binaryTemp(BinaryKind::Sub, v, zeroPoint);
  }
  const int32_t result = computedOutput(b, {outType, x.shape}, DType::F32);
  b.binary(BinaryKind::Mul, v, scale, result);
  finishCast(b, result);
  return Status::ok();
}

// DynamicQuantizeLinear(x) -> y (u8), y_scale, y_zero_point: the range [min(0, min x), max(0,
// max x)] mapped onto 0..255, as ONNX's function body computes it.
Status lowerDynamicQuantizeLinear(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32)
    return unsupported(n.label() + ": input of element type " + std::string(dtypeName(x.dtype)));
  const int64_t count = x.numel();
  if (count == 0) return n.error("quantizes an empty tensor (its range is undefined)");
  const TensorDesc scalar{DType::F32, {}};
  const int32_t flat = b.temp({DType::F32, {count}});
  b.view(b.input(0), flat);
  int32_t extremes[2];
  for (int i = 0; i < 2; ++i) {
    const int32_t r = b.temp(scalar);
    b.emit(ReduceParams{i == 0 ? ReduceKind::Min : ReduceKind::Max, 1, count, 1}, {flat}, r);
    extremes[i] =
        b.binaryTemp(i == 0 ? BinaryKind::Min : BinaryKind::Max, r, b.scalar(DType::F32, 0.0));
  }
  const int32_t range = b.binaryTemp(BinaryKind::Sub, extremes[1], extremes[0]);
  const int32_t scale = b.setOutput(1, scalar);
  b.binary(BinaryKind::Div, range, b.scalar(DType::F32, 255.0), scale);
  // zero point = saturate(round(0 - min / scale)), kept in f32 for the quantization
  const int32_t ratio = b.binaryTemp(BinaryKind::Div, extremes[0], scale);
  const int32_t negated = b.binaryTemp(BinaryKind::Sub, b.scalar(DType::F32, 0.0), ratio);
  const int32_t rounded = b.temp(scalar);
  b.unary(UnaryKind::Round, negated, rounded);
  const int32_t clamped = b.temp(scalar);
  b.unary(UnaryKind::Clip, rounded, clamped, 0.f, 255.f);
  b.unary(UnaryKind::Cast, clamped, b.setOutput(2, {DType::U8, {}}));
  quantizeInto(b, b.input(0), scale, clamped, b.setOutput(0, {DType::U8, x.shape}));
  return Status::ok();
}

} // namespace tessel::decompose

namespace tessel::decompose {

// MatMulInteger(A, B[, a_zero_point, b_zero_point]) -> i32: the product of the centered
// operands in f64 (exact below 2^53), cast to i32. A's zero point scalar or per row, B's scalar
// or per column.
Status lowerMatMulInteger(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects A and B");
  TESSEL_ASSIGN_OR_RETURN(int32_t a, centered(b, 0, 2, rowsOf(b.desc(b.input(0))), "A"));
  TESSEL_ASSIGN_OR_RETURN(int32_t m, centered(b, 1, 3, columnsOf(b.desc(b.input(1))), "B"));
  TESSEL_ASSIGN_OR_RETURN(int32_t product, numpyMatMul(b, a, m, false));
  b.unary(UnaryKind::Cast, product, b.setOutput(0, {DType::I32, b.shape(product)}));
  return Status::ok();
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp): the exact product of the
// centered operands, requantized.
Status lowerQLinearMatMul(LoweringBuilder& b) {
  const Node& n = b.node();
  for (size_t i = 0; i < 8; ++i)
    if (!n.hasInput(i)) return n.error("expects 8 inputs");
  TESSEL_ASSIGN_OR_RETURN(int32_t a, centered(b, 0, 2, rowsOf(b.desc(b.input(0))), "a"));
  TESSEL_ASSIGN_OR_RETURN(int32_t m, centered(b, 3, 5, columnsOf(b.desc(b.input(3))), "b"));
  TESSEL_ASSIGN_OR_RETURN(int32_t product, numpyMatMul(b, a, m, false));
  return requantize(b, product, 1, 4, 6, 7, columnsOf(b.desc(b.input(3))));
}

namespace {

// The convolution of input 0 (centered by input xZero) with weight input w (centered by input
// wZero, scalar or one per output channel), plus an optional i32 bias input, in f64.
Result<int32_t> integerConvolution(LoweringBuilder& b, size_t w, size_t xZero, size_t wZero,
                                   size_t bias) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(b.input(0)), wt = b.desc(b.input(w));
  if (wt.rank() != 4) return n.error("weight must be 4-D, got " + wt.toString());
  TESSEL_ASSIGN_OR_RETURN(int32_t xc, centered(b, 0, xZero, {}, "x"));
  TESSEL_ASSIGN_OR_RETURN(int32_t wc, centered(b, w, wZero, {wt.shape[0], 1, 1, 1}, "w"));
  Conv2dParams p;
  TESSEL_ASSIGN_OR_RETURN(Shape outShape, convolutionParams(n, b.desc(xc), b.desc(wc), &p));
  std::vector<int32_t> ins{xc, wc};
  if (bias > 0 && n.hasInput(bias)) {
    const TensorDesc bd = b.desc(b.input(bias));
    if (bd.dtype != DType::I32 || bd.numel() != wt.shape[0])
      return n.error("bias must be i32 [" + std::to_string(wt.shape[0]) + "], got " +
                     bd.toString());
    p.hasBias = true;
    ins.push_back(b.castTemp(b.input(bias), DType::F64));
  }
  const int32_t out = b.temp({DType::F64, outShape});
  b.emit(p, ins, out);
  return out;
}

} // namespace

// ConvInteger(x, w[, x_zero_point, w_zero_point]) -> i32.
Status lowerConvInteger(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects x and w");
  TESSEL_ASSIGN_OR_RETURN(int32_t acc, integerConvolution(b, 1, 2, 3, 0));
  b.unary(UnaryKind::Cast, acc, b.setOutput(0, {DType::I32, b.shape(acc)}));
  return Status::ok();
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, B]): the exact convolution
// (plus the i32 bias), requantized; w_scale scalar or one per output channel.
Status lowerQLinearConv(LoweringBuilder& b) {
  const Node& n = b.node();
  for (size_t i = 0; i < 8; ++i)
    if (!n.hasInput(i)) return n.error("expects at least 8 inputs");
  TESSEL_ASSIGN_OR_RETURN(int32_t acc, integerConvolution(b, 3, 2, 5, 8));
  const Shape perChannel{b.desc(b.input(3)).shape[0], 1, 1};
  return requantize(b, acc, 1, 4, 6, 7, perChannel);
}

} // namespace tessel::decompose
