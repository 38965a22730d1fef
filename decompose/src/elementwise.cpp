// Rules for elementwise operators: unary kinds, broadcasting binaries, batch normalization.
#include "builder.h"

#include <cctype>
#include <limits>
#include <optional>
#include <string>

namespace tessel::decompose {
namespace {

// ONNX names of the elementwise operators are the kind names of unary.def and binary.def,
// capitalised: "LeakyRelu" is "leakyrelu". Lowercasing keeps those lists the only ones.
std::string lowercase(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The ONNX attributes that become a unary kind's alpha and beta, with ONNX's defaults.
struct UnaryAttrs {
  UnaryKind kind;
  const char* alphaKey;
  double alphaDefault;
  const char* betaKey;
  double betaDefault;
};
const UnaryAttrs kUnaryAttrs[] = {
    {UnaryKind::HardSigmoid, "alpha", 0.2, "beta", 0.5},
    {UnaryKind::LeakyRelu, "alpha", 0.01, nullptr, 0},
    {UnaryKind::Elu, "alpha", 1.0, nullptr, 0},
    {UnaryKind::Celu, "alpha", 1.0, nullptr, 0},
    {UnaryKind::ThresholdedRelu, "alpha", 1.0, nullptr, 0},
    {UnaryKind::Selu, "alpha", 1.67326319217681884765625, "gamma", 1.05070102214813232421875},
};

bool isNumeric(DType t) {
  return dtypeIsFloat(t) || dtypeIsInteger(t);
}

// The type arithmetic on t runs in: f32 for the half types (storage only, docs/design-notes.md).
DType computeType(DType t) {
  return dtypeIsHalf(t) ? DType::F32 : t;
}

// Clip bounds from attributes (opset < 11) or optional constant inputs.
Status clipBounds(const Node& n, float* lo, float* hi) {
  *lo = -std::numeric_limits<float>::infinity();
  *hi = std::numeric_limits<float>::infinity();
  if (n.opset < 11) {
    TESSEL_ASSIGN_OR_RETURN(double mn, n.floatAttr("min", *lo));
    TESSEL_ASSIGN_OR_RETURN(double mx, n.floatAttr("max", *hi));
    *lo = static_cast<float>(mn);
    *hi = static_cast<float>(mx);
    return Status::ok();
  }
  if (n.hasInput(1)) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<double> v, n.constFloats(1, "min"));
    if (v.size() != 1) return n.error("'min' must be a scalar");
    *lo = static_cast<float>(v[0]);
  }
  if (n.hasInput(2)) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<double> v, n.constFloats(2, "max"));
    if (v.size() != 1) return n.error("'max' must be a scalar");
    *hi = static_cast<float>(v[0]);
  }
  return Status::ok();
}

// Clip with bounds known only at run time, or of integers: max with min, then min with max
// (min > max gives max everywhere, as ONNX says). Each bound is a one-element tensor.
Status clipByBinaries(LoweringBuilder& b) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(b.input(0));
  if (!isNumeric(x.dtype))
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  if (!n.hasInput(1) && !n.hasInput(2)) {
    b.view(b.input(0), b.setOutput(0, x));
    return Status::ok();
  }
  const DType compute = computeType(x.dtype);
  int32_t acc = b.castTemp(b.input(0), compute);
  const int32_t out = computedOutput(b, x, compute);
  const std::pair<size_t, BinaryKind> bounds[] = {{1, BinaryKind::Max}, {2, BinaryKind::Min}};
  const bool both = n.hasInput(1) && n.hasInput(2);
  for (const auto& [i, kind] : bounds) {
    if (!n.hasInput(i)) continue;
    const TensorDesc bound = b.desc(b.input(i));
    if (bound.numel() != 1 || bound.dtype != x.dtype)
      return n.error(std::string(i == 1 ? "'min'" : "'max'") + " must be one " +
                     std::string(dtypeName(x.dtype)) + " value, got " + bound.toString());
    const int32_t scalar = b.temp({x.dtype, {}});
    b.view(b.input(i), scalar);
    const int32_t dst = both && i == 1 ? b.temp({compute, x.shape}) : out;
    b.binary(kind, acc, b.castTemp(scalar, compute), dst);
    acc = dst;
  }
  finishCast(b, out);
  return Status::ok();
}

} // namespace

Status lowerUnary(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const std::optional<UnaryKind> found = unaryFromName(lowercase(n.opType));
  if (!found) return internalError(n.label() + ": no unary kind for this operator");
  const UnaryKind kind = *found;
  TensorDesc out = b.desc(b.input(0));
  float alpha = 0, beta = 0;
  if (kind == UnaryKind::Cast) {
    TESSEL_ASSIGN_OR_RETURN(int64_t to, n.intAttr("to", 0));
    auto dt = dtypeFromOnnx(static_cast<int>(to));
    if (!dt) return unsupported(n.label() + ": cast to ONNX type " + std::to_string(to));
    out.dtype = *dt;
  } else if (kind == UnaryKind::Clip) {
    const auto runTime = [&](size_t i) { return n.hasInput(i) && !n.inputs[i].constant; };
    const DType in = b.desc(b.input(0)).dtype;
    // Bounds as tensors where alpha and beta (f32) cannot hold them exactly.
    if (n.opset >= 11 && (runTime(1) || runTime(2) || in != DType::F32)) return clipByBinaries(b);
    TESSEL_RETURN_IF_ERROR(clipBounds(n, &alpha, &beta));
  }
  for (const UnaryAttrs& a : kUnaryAttrs) {
    if (a.kind != kind) continue;
    TESSEL_ASSIGN_OR_RETURN(double av, n.floatAttr(a.alphaKey, a.alphaDefault));
    alpha = static_cast<float>(av);
    if (a.betaKey) {
      TESSEL_ASSIGN_OR_RETURN(double bv, n.floatAttr(a.betaKey, a.betaDefault));
      beta = static_cast<float>(bv);
    }
  }
  if (kind == UnaryKind::Celu && alpha == 0.f) return n.error("alpha must not be 0");
  const DType in = b.desc(b.input(0)).dtype;
  if (kind == UnaryKind::Neg && (in == DType::I64 || in == DType::I32)) {
    // Integer negation (shape arithmetic) is 0 - x.
    b.binary(BinaryKind::Sub, b.scalar(in, 0), b.input(0), b.setOutput(0, out));
    return Status::ok();
  }
  const bool anyType = kind == UnaryKind::Cast || kind == UnaryKind::Identity;
  const DType compute = computeType(in);
  if (!anyType && compute != DType::F32 && compute != DType::F64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(in)) +
                       " (floating-point only)");
  if (anyType) {
    b.unary(kind, b.input(0), b.setOutput(0, out), alpha, beta);
    return Status::ok();
  }
  const int32_t result = computedOutput(b, out, compute);
  b.unary(kind, b.castTemp(b.input(0), compute), result, alpha, beta);
  finishCast(b, result);
  return Status::ok();
}

Status lowerBinary(LoweringBuilder& b) {
  const Node& n = b.node();
  // Sum and Mean are variadic additions; every other name is a kind of binary.def.
  const bool sum = n.opType == "Sum" || n.opType == "Mean";
  const std::optional<BinaryKind> found =
      sum ? BinaryKind::Add : binaryFromName(lowercase(n.opType));
  if (!found) return internalError(n.label() + ": no binary kind for this operator");
  BinaryKind kind = *found;
  if (kind == BinaryKind::Mod) {
    TESSEL_ASSIGN_OR_RETURN(int64_t fmod, n.intAttr("fmod", 0));
    if (fmod != 0 && fmod != 1) return n.error("fmod must be 0 or 1");
    if (fmod == 0 && n.hasInput(0) && dtypeIsFloat(b.desc(b.input(0)).dtype))
      return n.error("fmod must be 1 for floating-point inputs");
    if (fmod == 1) kind = BinaryKind::FMod;
  }
  const bool logic = binaryIsLogic(kind), compare = binaryIsComparison(kind);
  const size_t count = n.inputs.size();
  const bool mean = n.opType == "Mean";
  const bool variadic = kind == BinaryKind::Max || kind == BinaryKind::Min || sum;
  if (count < 1 || (!variadic && count != 2)) return n.error("expects 2 inputs");
  // Pow's exponent may have any numeric type; every other operator's inputs share one.
  const bool pow = kind == BinaryKind::Pow;
  for (size_t i = 0; i < count; ++i) {
    if (!n.hasInput(i)) return n.error("missing input " + std::to_string(i));
    const DType t = b.desc(b.input(i)).dtype;
    const bool fits = logic ? t == DType::Bool : isNumeric(t) || (compare && t == DType::Bool);
    if (!fits) return unsupported(n.label() + ": element type " + std::string(dtypeName(t)));
    if (t != b.desc(b.input(0)).dtype && !pow)
      return n.error("inputs have different element types");
  }
  if (count == 1) {
    b.setOutput(0, b.desc(b.input(0)));
    b.view(b.input(0), b.output(0));
    return Status::ok();
  }
  Shape outShape = b.shape(b.input(0));
  for (size_t i = 1; i < count; ++i) {
    auto s = broadcastShapes(outShape, b.shape(b.input(i)));
    if (!s.isOk()) return n.error(s.status().message());
    outShape = std::move(*s);
  }
  // The type the arithmetic runs in: f32 for the half types; for Pow with an exponent of
  // another type, the base's (a float base) or f64 (an integer base with a float exponent: the
  // power of the values, then converted).
  const DType in0 = b.desc(b.input(0)).dtype;
  DType compute = computeType(in0);
  if (pow && dtypeIsInteger(in0) && dtypeIsFloat(b.desc(b.input(1)).dtype)) compute = DType::F64;
  const DType dt = logic || compare ? DType::Bool : in0;
  const int32_t out = computedOutput(b, {dt, outShape}, compare || logic ? dt : compute);
  int32_t acc = b.castTemp(b.input(0), compute);
  const DType accType = b.desc(out).dtype;
  for (size_t i = 1; i < count; ++i) {
    int32_t dst = i + 1 == count && !mean ? out : b.temp({accType, outShape});
    b.binary(kind, acc, b.castTemp(b.input(i), compute), dst);
    acc = dst;
  }
  if (mean) b.binary(BinaryKind::Div, acc, b.scalar(compute, static_cast<double>(count)), out);
  finishCast(b, out);
  return Status::ok();
}

// BitShift: unsigned integers shifted left or right by the second operand.
Status lowerBitShift(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects 2 inputs");
  TESSEL_ASSIGN_OR_RETURN(std::string direction, n.stringAttr("direction", ""));
  if (direction != "LEFT" && direction != "RIGHT")
    return n.error("direction must be LEFT or RIGHT, got '" + direction + "'");
  const TensorDesc x = b.desc(b.input(0)), y = b.desc(b.input(1));
  if (!dtypeIsUnsigned(x.dtype))
    return n.error("element type " + std::string(dtypeName(x.dtype)) +
                   " (BitShift takes unsigned integers)");
  if (y.dtype != x.dtype) return n.error("inputs have different element types");
  auto shape = broadcastShapes(x.shape, y.shape);
  if (!shape.isOk()) return n.error(shape.status().message());
  b.binary(direction == "LEFT" ? BinaryKind::ShiftLeft : BinaryKind::ShiftRight, b.input(0),
           b.input(1), b.setOutput(0, {x.dtype, *shape}));
  return Status::ok();
}

// Where(cond, x, y): one select over the three operands' broadcast shape.
Status lowerWhere(LoweringBuilder& b) {
  const Node& n = b.node();
  for (size_t i = 0; i < 3; ++i)
    if (!n.hasInput(i)) return n.error("expects condition, X and Y");
  const TensorDesc c = b.desc(b.input(0)), x = b.desc(b.input(1)), y = b.desc(b.input(2));
  if (c.dtype != DType::Bool)
    return n.error("condition is " + std::string(dtypeName(c.dtype)) + " (bool expected)");
  if (x.dtype != y.dtype) return n.error("X and Y have different element types");
  Shape outShape = c.shape;
  for (const Shape& s : {x.shape, y.shape}) {
    auto joined = broadcastShapes(outShape, s);
    if (!joined.isOk()) return n.error(joined.status().message());
    outShape = *joined;
  }
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  b.select(b.input(0), b.input(1), b.input(2), b.setOutput(0, {x.dtype, outShape}));
  return Status::ok();
}

// IsNaN: x != x, as equal-then-not (only a NaN differs from itself).
Status lowerIsNaN(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  const int32_t same = b.temp({DType::Bool, x.shape});
  b.binary(BinaryKind::Equal, b.input(0), b.input(0), same);
  b.binary(BinaryKind::Xor, same, b.scalar(DType::Bool, 1.0),
           b.setOutput(0, {DType::Bool, x.shape}));
  return Status::ok();
}

// IsInf: x == +inf, x == -inf, or |x| == inf, as detect_positive and detect_negative say.
Status lowerIsInf(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  TESSEL_ASSIGN_OR_RETURN(int64_t positive, n.intAttr("detect_positive", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t negative, n.intAttr("detect_negative", 1));
  const int32_t out = b.setOutput(0, {DType::Bool, x.shape});
  const double inf = std::numeric_limits<double>::infinity();
  if (positive && negative) {
    const int32_t magnitude = b.temp(x);
    b.unary(UnaryKind::Abs, b.input(0), magnitude);
    b.binary(BinaryKind::Equal, magnitude, b.scalar(DType::F32, inf), out);
  } else if (positive || negative) {
    b.binary(BinaryKind::Equal, b.input(0), b.scalar(DType::F32, positive ? inf : -inf), out);
  } else {
    RasterParams none; // detects nothing: all false
    none.fill = 0.0;
    b.emit(none, {b.input(0)}, out);
  }
  return Status::ok();
}

// CastLike: a cast to the second input's element type.
Status lowerCastLike(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects input and target_type");
  const TensorDesc x = b.desc(b.input(0));
  const DType to = b.desc(b.input(1)).dtype; // every element type converts to every other
  b.unary(UnaryKind::Cast, b.input(0), b.setOutput(0, {to, x.shape}));
  return Status::ok();
}

// Shrink: x + bias below -lambd, x - bias above lambd, 0 between: two comparisons, two selects.
Status lowerShrink(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (!isNumeric(x.dtype))
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  TESSEL_ASSIGN_OR_RETURN(double bias, n.floatAttr("bias", 0.0));
  TESSEL_ASSIGN_OR_RETURN(double lambd, n.floatAttr("lambd", 0.5));
  const TensorDesc mask{DType::Bool, x.shape};
  const int32_t below = b.temp(mask), above = b.temp(mask);
  b.binary(BinaryKind::Less, b.input(0), b.scalar(x.dtype, -lambd), below);
  b.binary(BinaryKind::Greater, b.input(0), b.scalar(x.dtype, lambd), above);
  const int32_t raised = b.binaryTemp(BinaryKind::Add, b.input(0), b.scalar(x.dtype, bias));
  const int32_t lowered = b.binaryTemp(BinaryKind::Sub, b.input(0), b.scalar(x.dtype, bias));
  const int32_t upper = b.temp(x);
  b.select(above, lowered, b.scalar(x.dtype, 0), upper);
  b.select(below, raised, upper, b.setOutput(0, x));
  return Status::ok();
}

// not x = x xor true.
Status lowerNot(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::Bool)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  b.binary(BinaryKind::Xor, b.input(0), b.scalar(DType::Bool, 1.0), b.setOutput(0, x));
  return Status::ok();
}

// y = relu(x) + slope * (x - relu(x)), the slope broadcast to x (before opset 7, a slope of one
// value per channel applies along axis 1, as the exporters of that time wrote it).
Status lowerPRelu(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects X and slope");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32 || b.desc(b.input(1)).dtype != DType::F32)
    return unsupported(n.label() + ": only f32 inputs are supported");
  int32_t slope = b.input(1);
  const Shape slopeShape = b.shape(slope);
  auto s = broadcastShapes(x.shape, slopeShape);
  if (n.opset < 7 && x.rank() >= 2 && slopeShape == Shape{x.shape[1]} && x.shape[1] != 1) {
    Shape perChannel(static_cast<size_t>(x.rank()) - 1, 1);
    perChannel[0] = x.shape[1];
    slope = b.temp({DType::F32, perChannel});
    b.view(b.input(1), slope);
    s = x.shape;
  }
  if (!s.isOk() || *s != x.shape) return n.error("slope does not broadcast to X");
  const int32_t pos = b.temp(x);
  b.unary(UnaryKind::Relu, b.input(0), pos);
  const int32_t neg = b.binaryTemp(BinaryKind::Sub, b.input(0), pos);
  const int32_t scaled = b.binaryTemp(BinaryKind::Mul, neg, slope);
  b.binary(BinaryKind::Add, pos, scaled, b.setOutput(0, x));
  return Status::ok();
}

// y = x * inv + shift per channel, with inv = scale / sqrt(var + eps) and shift = B - mean * inv.
// The per-channel arithmetic runs on constants and folds away at convert time.
// BatchNormalization in training mode (opset 14+): the batch's own mean and (population)
// variance over every axis but the channels normalize X; outputs 1 and 2 are the running
// statistics, input * momentum + batch's * (1 - momentum).
Status batchNormTraining(LoweringBuilder& b) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(b.input(0));
  const int64_t c = x.shape[1];
  TESSEL_ASSIGN_OR_RETURN(double eps, n.floatAttr("epsilon", 1e-5));
  TESSEL_ASSIGN_OR_RETURN(double momentum, n.floatAttr("momentum", 0.9));
  std::vector<bool> reduced(x.shape.size(), true);
  reduced[1] = false;
  Shape perChannel(x.shape.size(), 1);
  perChannel[1] = c;
  const TensorDesc stat{DType::F32, perChannel};
  const int32_t mean = b.temp(stat);
  reduceRuns(b, ReduceKind::Mean, b.input(0), reduced, mean);
  const int32_t centered = b.binaryTemp(BinaryKind::Sub, b.input(0), mean);
  const int32_t var = b.temp(stat);
  reduceRuns(b, ReduceKind::Mean, b.binaryTemp(BinaryKind::Mul, centered, centered), reduced, var);
  const int32_t sd = b.temp(stat);
  b.unary(UnaryKind::Sqrt, b.binaryTemp(BinaryKind::Add, var, b.scalar(DType::F32, eps)), sd);
  const auto shaped = [&](size_t i) {
    const int32_t v = b.temp(stat);
    b.view(b.input(i), v);
    return v;
  };
  const int32_t scaled =
      b.binaryTemp(BinaryKind::Mul, b.binaryTemp(BinaryKind::Div, centered, sd), shaped(1));
  b.binary(BinaryKind::Add, scaled, shaped(2), b.setOutput(0, x));
  const TensorDesc vec{DType::F32, {c}};
  const std::pair<size_t, int32_t> running[] = {{3, mean}, {4, var}};
  for (size_t k = 0; k < 2 && k + 1 < static_cast<size_t>(n.numOutputs); ++k) {
    const auto [input, batchStat] = running[k];
    const int32_t flat = b.temp(vec);
    b.view(batchStat, flat);
    const int32_t kept =
        b.binaryTemp(BinaryKind::Mul, b.input(input), b.scalar(DType::F32, momentum));
    const int32_t fresh = b.binaryTemp(BinaryKind::Mul, flat, b.scalar(DType::F32, 1 - momentum));
    b.binary(BinaryKind::Add, kept, fresh, b.setOutput(k + 1, vec));
  }
  return Status::ok();
}

Status lowerBatchNorm(LoweringBuilder& b) {
  const Node& n = b.node();
  for (size_t i = 0; i < 5; ++i)
    if (!n.hasInput(i)) return n.error("expects 5 inputs");
  TESSEL_ASSIGN_OR_RETURN(int64_t training, n.intAttr("training_mode", 0));
  if (training != 0 && n.opset >= 14) {
    const TensorDesc x = b.desc(b.input(0));
    if (x.rank() < 2 || x.dtype != DType::F32) return n.error("input must be f32 of rank >= 2");
    for (size_t i = 1; i < 5; ++i)
      if (b.desc(b.input(i)).shape != Shape{x.shape[1]} || b.desc(b.input(i)).dtype != DType::F32)
        return n.error("parameter " + std::to_string(i) + " must be f32[" +
                       std::to_string(x.shape[1]) + "]");
    if (n.numOutputs > 3) return n.error("has more than 3 outputs");
    return batchNormTraining(b);
  }
  if (n.numOutputs != 1) return unsupported(n.label() + ": training mode (extra outputs)");
  const TensorDesc& x = b.desc(b.input(0));
  if (x.rank() < 2 || x.dtype != DType::F32) return n.error("input must be f32 of rank >= 2");
  const int64_t c = x.shape[1];
  for (size_t i = 1; i < 5; ++i)
    if (b.desc(b.input(i)).shape != Shape{c} || b.desc(b.input(i)).dtype != DType::F32)
      return n.error("parameter " + std::to_string(i) + " must be f32[" + std::to_string(c) + "]");
  TESSEL_ASSIGN_OR_RETURN(double eps, n.floatAttr("epsilon", 1e-5));
  const TensorDesc vec{DType::F32, {c}};
  int32_t v = b.temp(vec);
  b.binary(BinaryKind::Add, b.input(4), b.scalar(DType::F32, eps), v);
  int32_t sd = b.temp(vec);
  b.unary(UnaryKind::Sqrt, v, sd);
  int32_t inv = b.temp(vec);
  b.binary(BinaryKind::Div, b.input(1), sd, inv);
  int32_t shift =
      b.binaryTemp(BinaryKind::Sub, b.input(2), b.binaryTemp(BinaryKind::Mul, b.input(3), inv));
  int32_t out = b.setOutput(0, x);
  int32_t scaled = b.temp(x);
  b.binaryPerChannel(BinaryKind::Mul, b.input(0), inv, 1, scaled);
  b.binaryPerChannel(BinaryKind::Add, scaled, shift, 1, out);
  return Status::ok();
}

} // namespace tessel::decompose
