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

// y = saturate(round_half_even(x / scale) + zero_point), into `out` of an integer type; x f32.
void quantizeInto(LoweringBuilder& b, int32_t x, int32_t scale, int32_t zeroPoint, int32_t out) {
  const TensorDesc d{DType::F32, b.shape(out)};
  const int32_t scaled = b.binaryTemp(BinaryKind::Div, x, scale);
  const int32_t rounded = b.temp(d);
  b.unary(UnaryKind::Round, scaled, rounded);
  const int32_t shifted =
      zeroPoint >= 0 ? b.binaryTemp(BinaryKind::Add, rounded, zeroPoint) : rounded;
  b.unary(UnaryKind::Cast, shifted, out);
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
  const int32_t out = b.setOutput(0, {outType, x.shape});
  const int32_t result = outType == DType::F32 ? out : b.temp({DType::F32, x.shape});
  b.binary(BinaryKind::Mul, v, scale, result);
  if (result != out) b.unary(UnaryKind::Cast, result, out);
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
