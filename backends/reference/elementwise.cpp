#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace tessel::reference {

namespace {

// Every unary kind on f32 or f64 (the std functions' overloads of T).
template <typename T> T unaryOf(UnaryKind k, T x, T alpha, T beta) {
  switch (k) {
  case UnaryKind::Identity:
  case UnaryKind::Cast: return x;
  case UnaryKind::Relu: return x > T(0) ? x : T(0);
  case UnaryKind::LeakyRelu: return x >= T(0) ? x : alpha * x;
  case UnaryKind::Clip: return std::min(std::max(x, alpha), beta);
  case UnaryKind::Sigmoid: return T(1) / (T(1) + std::exp(-x));
  case UnaryKind::HardSigmoid: return std::max(T(0), std::min(T(1), alpha * x + beta));
  case UnaryKind::HardSwish: return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5)));
  case UnaryKind::Tanh: return std::tanh(x);
  case UnaryKind::Exp: return std::exp(x);
  case UnaryKind::Log: return std::log(x);
  case UnaryKind::Sqrt: return std::sqrt(x);
  case UnaryKind::Reciprocal: return T(1) / x;
  case UnaryKind::Neg: return -x;
  case UnaryKind::Abs: return std::fabs(x);
  case UnaryKind::Floor: return std::floor(x);
  case UnaryKind::Ceil: return std::ceil(x);
  case UnaryKind::Erf: return std::erf(x);
  case UnaryKind::Sin: return std::sin(x);
  case UnaryKind::Cos: return std::cos(x);
  case UnaryKind::Tan: return std::tan(x);
  case UnaryKind::Asin: return std::asin(x);
  case UnaryKind::Acos: return std::acos(x);
  case UnaryKind::Atan: return std::atan(x);
  case UnaryKind::Sinh: return std::sinh(x);
  case UnaryKind::Cosh: return std::cosh(x);
  case UnaryKind::Asinh: return std::asinh(x);
  case UnaryKind::Acosh: return std::acosh(x);
  case UnaryKind::Atanh: return std::atanh(x);
  case UnaryKind::Softplus: return x > T(20) ? x : std::log1p(std::exp(x));
  case UnaryKind::Softsign: return x / (T(1) + std::fabs(x));
  case UnaryKind::Elu: return x >= T(0) ? x : alpha * std::expm1(x);
  case UnaryKind::Selu: return beta * (x > T(0) ? x : alpha * std::expm1(x));
  case UnaryKind::Celu: return std::max(T(0), x) + std::min(T(0), alpha * std::expm1(x / alpha));
  case UnaryKind::ThresholdedRelu: return x > alpha ? x : T(0);
  case UnaryKind::Sign: return static_cast<T>((x > T(0)) - (x < T(0)));
  case UnaryKind::Round: return std::nearbyint(x);
  }
  return x;
}

} // namespace

float unaryValue(UnaryKind k, float x, float alpha, float beta) {
  return unaryOf<float>(k, x, alpha, beta);
}

namespace {

// Element by element through castElement (core/dtype.h), the conversions every caller shares:
// float to integer saturates (NaN gives 0), integers wrap, anything to bool is "not zero".
Status cast(DType from, DType to, const void* src, void* dst, int64_t n) {
  const size_t fs = dtypeSize(from), ts = dtypeSize(to);
  if (fs == 0 || ts == 0) return internalError("cast between undefined dtypes");
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  if (from == to) {
    if (n > 0 && s != d) std::memmove(d, s, static_cast<size_t>(n) * fs);
    return Status::ok();
  }
  for (int64_t i = 0; i < n; ++i)
    castElement(from, s + i * fs, to, d + i * ts);
  return Status::ok();
}

// Integer arithmetic wraps (two's complement) like ONNX runtimes do in practice; signed
// overflow must not be undefined behaviour here.
template <typename T> T binaryValue(BinaryKind k, T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    switch (k) {
    case BinaryKind::Add: return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    case BinaryKind::Sub: return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
    case BinaryKind::Mul: return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    case BinaryKind::Div:
      if (b == 0 || (a == std::numeric_limits<T>::min() && b == T(-1))) return T(0);
      return a / b;
    case BinaryKind::Max: return std::max(a, b);
    case BinaryKind::Min: return std::min(a, b);
    case BinaryKind::Pow:
      return saturateFromDouble<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case BinaryKind::Mod:
    case BinaryKind::FMod: {
      if (b == 0) return T(0);
      if (std::is_signed_v<T> && b == T(-1)) return T(0); // also min % -1, which overflows in C++
      const T r = a % b;                                  // the dividend's sign
      return k == BinaryKind::Mod && r != 0 && ((r < 0) != (b < 0)) ? static_cast<T>(r + b) : r;
    }
    case BinaryKind::ShiftLeft:
    case BinaryKind::ShiftRight: {
      // Unsigned only (validateBinary); a shift by the width or more gives 0.
      if (static_cast<U>(b) >= sizeof(T) * 8) return T(0);
      const U x = static_cast<U>(a);
      return static_cast<T>(k == BinaryKind::ShiftLeft ? static_cast<U>(x << b) : x >> b);
    }
    default: return a; // comparisons and logic: compareValue, logicValue
    }
  } else {
    switch (k) {
    case BinaryKind::Add: return a + b;
    case BinaryKind::Sub: return a - b;
    case BinaryKind::Mul: return a * b;
    case BinaryKind::Div: return a / b;
    case BinaryKind::Max: return std::max(a, b);
    case BinaryKind::Min: return std::min(a, b);
    case BinaryKind::Pow: return std::pow(a, b);
    case BinaryKind::Mod:
    case BinaryKind::FMod: {
      const T r = std::fmod(a, b); // the dividend's sign
      return k == BinaryKind::Mod && r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
    default: return a; // comparisons and logic: compareValue, logicValue
    }
  }
}

template <typename T> bool compareValue(BinaryKind k, T a, T b) {
  switch (k) {
  case BinaryKind::Equal: return a == b;
  case BinaryKind::Less: return a < b;
  case BinaryKind::Greater: return a > b;
  case BinaryKind::LessOrEqual: return a <= b;
  case BinaryKind::GreaterOrEqual: return a >= b;
  default: return false;
  }
}

bool logicValue(BinaryKind k, bool a, bool b) {
  switch (k) {
  case BinaryKind::And: return a && b;
  case BinaryKind::Or: return a || b;
  case BinaryKind::Xor: return a != b;
  default: return false;
  }
}

// Walks the output in row-major order, carrying both inputs' offsets along.
template <typename T, typename O, typename F>
void binaryLoop(const BinaryParams& p, const Shape& shape, const T* a, const T* b, O* out, F f) {
  const size_t rank = shape.size();
  int64_t total = 1;
  for (int64_t d : shape)
    total *= d;
  if (total == 0) return;
  Shape idx(rank, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < total; ++i) {
    out[i] = f(a[oa], b[ob]);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < shape[d]) {
        oa += p.lhsStrides[d];
        ob += p.rhsStrides[d];
        break;
      }
      oa -= (shape[d] - 1) * p.lhsStrides[d];
      ob -= (shape[d] - 1) * p.rhsStrides[d];
      idx[d] = 0;
    }
  }
}

} // namespace

float binaryValueF32(BinaryKind k, float a, float b) {
  return binaryValue<float>(k, a, b);
}

void applyPostOps(const PostOps& ops, Inputs in, int64_t channels, int64_t inner, float* y,
                  int64_t n) {
  for (const PostOp& op : ops) {
    if (!op.isBinary) {
      for (int64_t i = 0; i < n; ++i)
        y[i] = unaryValue(op.unary, y[i], op.alpha, op.beta);
      continue;
    }
    const auto* x = static_cast<const float*>(in[op.operand].data);
    for (int64_t i = 0; i < n; ++i) {
      const float v = op.broadcast == Broadcast::Scalar    ? x[0]
                      : op.broadcast == Broadcast::Channel ? x[i / inner % channels]
                                                           : x[i];
      y[i] =
          op.operandFirst ? binaryValueF32(op.binary, v, y[i]) : binaryValueF32(op.binary, y[i], v);
    }
  }
}

Status runElementwise(const ElementwiseParams& p, Inputs in, const TensorView& out) {
  const int64_t n = out.desc->numel();
  float* y = static_cast<float*>(out.data);
  if (n && y != in[0].data) std::copy_n(static_cast<const float*>(in[0].data), n, y);
  applyPostOps(p.postOps, in, p.channels, p.inner, y, n);
  return Status::ok();
}

Status runUnary(const UnaryParams& p, Inputs in, const TensorView& out) {
  const int64_t n = out.desc->numel();
  if (p.kind == UnaryKind::Cast || p.kind == UnaryKind::Identity)
    return cast(in[0].desc->dtype, out.desc->dtype, in[0].data, out.data, n);
  const auto apply = [&](auto* y) {
    using T = std::remove_pointer_t<decltype(y)>;
    const T* x = static_cast<const T*>(in[0].data);
    for (int64_t i = 0; i < n; ++i)
      y[i] = unaryOf<T>(p.kind, x[i], static_cast<T>(p.alpha), static_cast<T>(p.beta));
  };
  if (out.desc->dtype == DType::F64)
    apply(static_cast<double*>(out.data));
  else
    apply(static_cast<float*>(out.data));
  return Status::ok();
}

// Bytes of bool tensors are 0 or 1 at every boundary (loaders and set_input normalise them).
template <typename T> Status binaryOf(const BinaryParams& p, Inputs in, const TensorView& out) {
  const Shape& s = out.desc->shape;
  const auto* a = static_cast<const T*>(in[0].data);
  const auto* b = static_cast<const T*>(in[1].data);
  const BinaryKind k = p.kind;
  if (binaryIsComparison(k)) {
    binaryLoop(p, s, a, b, static_cast<bool*>(out.data),
               [k](T x, T y) { return compareValue(k, x, y); });
  } else if constexpr (std::is_same_v<T, bool>) {
    binaryLoop(p, s, a, b, static_cast<bool*>(out.data),
               [k](bool x, bool y) { return logicValue(k, x, y); });
  } else {
    binaryLoop(p, s, a, b, static_cast<T*>(out.data),
               [k](T x, T y) { return binaryValue(k, x, y); });
  }
  return Status::ok();
}

namespace {

template <typename T> void combineOf(BinaryKind kind, void* dst, const void* src, int64_t n) {
  T* d = static_cast<T*>(dst);
  const T* s = static_cast<const T*>(src);
  for (int64_t i = 0; i < n; ++i)
    d[i] = binaryValue<T>(kind, d[i], s[i]);
}

} // namespace

Status combineElements(DType t, BinaryKind kind, void* dst, const void* src, int64_t n) {
  switch (t) {
  case DType::F32: combineOf<float>(kind, dst, src, n); break;
  case DType::F64: combineOf<double>(kind, dst, src, n); break;
  case DType::I64: combineOf<int64_t>(kind, dst, src, n); break;
  case DType::I32: combineOf<int32_t>(kind, dst, src, n); break;
  case DType::I16: combineOf<int16_t>(kind, dst, src, n); break;
  case DType::I8: combineOf<int8_t>(kind, dst, src, n); break;
  case DType::U64: combineOf<uint64_t>(kind, dst, src, n); break;
  case DType::U32: combineOf<uint32_t>(kind, dst, src, n); break;
  case DType::U16: combineOf<uint16_t>(kind, dst, src, n); break;
  case DType::U8: combineOf<uint8_t>(kind, dst, src, n); break;
  default:
    return unsupported(std::string(binaryName(kind)) + " of " + std::string(dtypeName(t)) +
                       " elements");
  }
  return Status::ok();
}

Status runBinary(const BinaryParams& p, Inputs in, const TensorView& out) {
  switch (in[0].desc->dtype) {
  case DType::F32: return binaryOf<float>(p, in, out);
  case DType::F64: return binaryOf<double>(p, in, out);
  case DType::I64: return binaryOf<int64_t>(p, in, out);
  case DType::I32: return binaryOf<int32_t>(p, in, out);
  case DType::I16: return binaryOf<int16_t>(p, in, out);
  case DType::I8: return binaryOf<int8_t>(p, in, out);
  case DType::U64: return binaryOf<uint64_t>(p, in, out);
  case DType::U32: return binaryOf<uint32_t>(p, in, out);
  case DType::U16: return binaryOf<uint16_t>(p, in, out);
  case DType::U8: return binaryOf<uint8_t>(p, in, out);
  case DType::Bool:
    if (binaryIsComparison(p.kind) || binaryIsLogic(p.kind)) return binaryOf<bool>(p, in, out);
    break;
  default: break;
  }
  return unsupported("binary " + std::string(binaryName(p.kind)) + " on " +
                     std::string(dtypeName(in[0].desc->dtype)));
}

} // namespace tessel::reference
