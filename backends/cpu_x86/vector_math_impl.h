// Vector math, elementwise kinds and the post-op epilogue of the cpu_x86 kernels.
// Part of the cpu_x86 kernels: included by kernels_impl.h inside a family's namespace (see there).

namespace kinds {
enum class Unary : uint8_t {
#define TESSEL_UNARY(name, str) name,
#include "tessel/core/unary.def"
#undef TESSEL_UNARY
};
enum class Binary : uint8_t {
#define TESSEL_BINARY(name, str) name,
#include "tessel/core/binary.def"
#undef TESSEL_BINARY
};
} // namespace kinds

using V = I::V;
constexpr int W = I::W;

inline int64_t minI(int64_t a, int64_t b) {
  return a < b ? a : b;
}

// e^x: x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor polynomial to r^7 (relative error < 1e-8
// before rounding), 2^n through the exponent.
inline V vexp(V x) {
  x = I::min(I::max(x, I::set1(-87.3f)), I::set1(88.3f));
  const V n = I::round(I::mul(x, I::set1(1.44269504088896341f)));
  V r = I::fma(n, I::set1(-0.693359375f), x);
  r = I::fma(n, I::set1(2.12194440e-4f), r);
  V p = I::set1(1.f / 5040.f);
  p = I::fma(p, r, I::set1(1.f / 720.f));
  p = I::fma(p, r, I::set1(1.f / 120.f));
  p = I::fma(p, r, I::set1(1.f / 24.f));
  p = I::fma(p, r, I::set1(1.f / 6.f));
  p = I::fma(p, r, I::set1(0.5f));
  p = I::fma(p, r, I::set1(1.f));
  p = I::fma(p, r, I::set1(1.f));
  return I::mul(p, I::pow2(n));
}

inline V vsigmoid(V x) {
  return I::div(I::set1(1.f), I::add(I::set1(1.f), vexp(I::neg(x))));
}

// erf by Abramowitz and Stegun 7.1.26 (absolute error < 1.5e-7).
inline V verf(V x) {
  const V ax = I::abs(x);
  const V t = I::div(I::set1(1.f), I::fma(I::set1(0.3275911f), ax, I::set1(1.f)));
  V p = I::set1(1.061405429f);
  p = I::fma(p, t, I::set1(-1.453152027f));
  p = I::fma(p, t, I::set1(1.421413741f));
  p = I::fma(p, t, I::set1(-0.284496736f));
  p = I::fma(p, t, I::set1(0.254829592f));
  p = I::mul(p, t);
  const V y = I::sub(I::set1(1.f), I::mul(p, vexp(I::neg(I::mul(ax, ax)))));
  return I::blendMask(I::ge(x, I::zero()), y, I::neg(y));
}

// The unary kinds with a vector form here; x86::vectorUnary (cpu_x86_backend.cpp) must agree,
// which the kernel sweep over every kind checks.
inline V unary(uint8_t op, V x, float alpha, float beta) {
  using U = kinds::Unary;
  switch (static_cast<U>(op)) {
  case U::Identity: return x;
  case U::Relu: return I::max(x, I::zero());
  case U::LeakyRelu:
    return I::add(I::max(x, I::zero()), I::mul(I::set1(alpha), I::min(x, I::zero())));
  case U::Clip: return I::min(I::max(x, I::set1(alpha)), I::set1(beta));
  case U::Sigmoid: return vsigmoid(x);
  case U::HardSigmoid:
    return I::min(I::max(I::fma(I::set1(alpha), x, I::set1(beta)), I::zero()), I::set1(1.f));
  case U::HardSwish:
    return I::mul(
        x, I::min(I::max(I::fma(x, I::set1(1.f / 6.f), I::set1(0.5f)), I::zero()), I::set1(1.f)));
  case U::Tanh: {
    const V s = vsigmoid(I::add(x, x));
    return I::sub(I::add(s, s), I::set1(1.f));
  }
  case U::Exp: return vexp(x);
  case U::Neg: return I::neg(x);
  case U::Abs: return I::abs(x);
  case U::Erf: return verf(x);
  case U::Reciprocal: return I::div(I::set1(1.f), x);
  default: return x;
  }
}

inline V binary(uint8_t op, V a, V b) {
  using B = kinds::Binary;
  switch (static_cast<B>(op)) {
  case B::Add: return I::add(a, b);
  case B::Sub: return I::sub(a, b);
  case B::Mul: return I::mul(a, b);
  case B::Div: return I::div(a, b);
  case B::Max: return I::max(a, b);
  case B::Min: return I::min(a, b);
  default: return a;
  }
}

inline V loadUpTo(const float* p, int valid) {
  return valid == W ? I::load(p) : I::loadPartial(p, valid);
}
inline void storeUpTo(float* p, V v, int valid) {
  if (valid == W)
    I::store(p, v);
  else
    I::storePartial(p, v, valid);
}

// Lanes below n set (sign bit), the rest clear: a blendMask condition.
inline V laneMask(int n) {
  static const float minusOnes[16] = {-1.f, -1.f, -1.f, -1.f, -1.f, -1.f, -1.f, -1.f,
                                      -1.f, -1.f, -1.f, -1.f, -1.f, -1.f, -1.f, -1.f};
  return loadUpTo(minusOnes, n);
}

// The epilogue on `valid` lanes at (row, col): along one row, columns col..col+valid, or with
// lanesAreRows along one column, rows row..row+valid (channels in the lanes; a Full operand is
// then blocked like the output, EpilogueOp::block).
inline V epilogue(V v, const Epilogue& ep, int64_t row, int64_t col, int valid,
                  bool lanesAreRows = false) {
  for (int i = 0; i < ep.count; ++i) {
    const EpilogueOp& op = ep.ops[i];
    if (!op.isBinary) {
      v = unary(op.op, v, op.alpha, op.beta);
      continue;
    }
    V x = I::zero();
    switch (op.spread) {
    case Spread::Scalar: x = I::set1(op.data[0]); break;
    case Spread::Row:
      x = lanesAreRows ? loadUpTo(op.data + row, valid) : I::set1(op.data[row]);
      break;
    case Spread::Column:
      x = lanesAreRows ? I::set1(op.data[col]) : loadUpTo(op.data + col, valid);
      break;
    case Spread::Full: x = loadUpTo(op.data + laneOffset(op.block, op.ld, row, col), valid); break;
    }
    v = op.operandFirst ? binary(op.op, x, v) : binary(op.op, v, x);
  }
  return v;
}

// The common epilogues, decoded once per call in baseline code (kernel_table.h: decodeEpilogue,
// which a described family's planning asks too).
inline FastEpilogue decode(const Epilogue* ep, bool columns = false, bool rowResidual = false) {
  return decodeEpilogue(ep, columns, rowResidual);
}

// The activation of a fast epilogue, ACT as in FastEpilogue::act (a compile-time constant in
// unrolled tile stores).
template <int ACT> inline V activate(V v, const FastEpilogue& f) {
  if constexpr (ACT == 1) return I::max(v, I::zero());
  if constexpr (ACT == 2) return I::min(I::max(v, I::set1(f.alpha)), I::set1(f.beta));
  if constexpr (ACT == 3)
    return I::mul(
        v, I::min(I::max(I::fma(v, I::set1(1.f / 6.f), I::set1(0.5f)), I::zero()), I::set1(1.f)));
  if constexpr (ACT == 4)
    return I::min(I::max(I::fma(I::set1(f.alpha), v, I::set1(f.beta)), I::zero()), I::set1(1.f));
  if constexpr (ACT == 5)
    return I::add(I::max(v, I::zero()), I::mul(I::set1(f.alpha), I::min(v, I::zero())));
  return v;
}

// A fast epilogue on n vectors whose lanes are channels (bias: the lanes' row adds), the
// activation switched once for all of them.
template <int ACT> inline void laneEpilogueAct(V* v, int n, V bias, const FastEpilogue& f) {
  for (int i = 0; i < n; ++i) {
    V x = activate<ACT>(I::add(v[i], bias), f);
    if (f.affine) x = I::fma(x, I::set1(f.scale), I::set1(f.shift));
    v[i] = x;
  }
}
inline void laneEpilogue(V* v, int n, V bias, const FastEpilogue& f) {
  switch (f.act) {
  case 1: laneEpilogueAct<1>(v, n, bias, f); break;
  case 2: laneEpilogueAct<2>(v, n, bias, f); break;
  case 3: laneEpilogueAct<3>(v, n, bias, f); break;
  case 4: laneEpilogueAct<4>(v, n, bias, f); break;
  case 5: laneEpilogueAct<5>(v, n, bias, f); break;
  default: laneEpilogueAct<0>(v, n, bias, f); break;
  }
}

inline V fastEpilogue(V v, const FastEpilogue& f) {
  switch (f.act) {
  case 1: v = activate<1>(v, f); break;
  case 2: v = activate<2>(v, f); break;
  case 3: v = activate<3>(v, f); break;
  case 4: v = activate<4>(v, f); break;
  case 5: v = activate<5>(v, f); break;
  default: break;
  }
  if (f.affine) v = I::fma(v, I::set1(f.scale), I::set1(f.shift));
  return v;
}
