// The cpu_x86 kernels, written once against a vector type I (isa_avx2.h, isa_avx512.h) and
// compiled once per ISA family in its own translation unit (family_avx2.cpp, family_avx512.cpp),
// inside a namespace of that family. Only plain loops and intrinsics here: no standard-library
// code that could be emitted with the family's flags and then shared with baseline code.
// Included after: the family's ISA header and `using I = <ISA struct>;`.

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

// The epilogue on `valid` lanes of one row, columns col..col+valid.
inline V epilogue(V v, const Epilogue& ep, int64_t row, int64_t col, int valid) {
  for (int i = 0; i < ep.count; ++i) {
    const EpilogueOp& op = ep.ops[i];
    if (!op.isBinary) {
      v = unary(op.op, v, op.alpha, op.beta);
      continue;
    }
    V x = I::zero();
    switch (op.spread) {
    case Spread::Scalar: x = I::set1(op.data[0]); break;
    case Spread::Row: x = I::set1(op.data[row]); break;
    case Spread::Column: x = loadUpTo(op.data + col, valid); break;
    case Spread::Full: x = loadUpTo(op.data + row * op.ld + col, valid); break;
    }
    v = op.operandFirst ? binary(op.op, x, v) : binary(op.op, v, x);
  }
  return v;
}

// C[ROWS x NV*W] (+)= A panel (stride MR) * B panel.
template <int ROWS, int MR, int NV> void gemmTile(const GemmTile& t) {
  constexpr int NR = NV * W;
  V acc[ROWS][NV];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      acc[r][j] = I::zero();
  const float* a = t.a;
  const float* b = t.b;
  for (int64_t k = 0; k < t.kc; ++k, a += MR, b += NR) {
    V bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      bv[j] = I::load(b + j * W);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      const V av = I::set1(a[r]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[r][j] = I::fma(av, bv[j], acc[r][j]);
    }
  }
  const int rows = t.rows < ROWS ? t.rows : ROWS;
  for (int r = 0; r < rows; ++r) {
    float* c = t.c + r * t.ldc;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const int valid = t.cols - j * W >= W ? W : t.cols - j * W;
      if (valid <= 0) break;
      V v = acc[r][j];
      if (t.accumulate) v = I::add(v, loadUpTo(c + j * W, valid));
      if (t.ep) v = epilogue(v, *t.ep, t.row0 + r, t.col0 + j * W, valid);
      storeUpTo(c + j * W, v, valid);
    }
  }
}

template <int MR, int NV, int ROWS = MR> void gemmDispatch(const GemmTile& t) {
  if constexpr (ROWS == 1) {
    gemmTile<1, MR, NV>(t);
  } else {
    if (t.rows >= ROWS)
      gemmTile<ROWS, MR, NV>(t);
    else
      gemmDispatch<MR, NV, ROWS - 1>(t);
  }
}

template <int NR>
void packB(const float* src, int64_t ld, int64_t k0, int64_t kc, int64_t n0, int cols, float* dst) {
  for (int64_t k = 0; k < kc; ++k, dst += NR) {
    const float* s = src + (k0 + k) * ld + n0;
    for (int j = 0; j < NR; j += W) {
      const int valid = cols - j >= W ? W : (cols - j > 0 ? cols - j : 0);
      I::store(dst + j, valid > 0 ? loadUpTo(s + j, valid) : I::zero());
    }
  }
}

// Implicit im2col: row k = (c, ky, kx), column n = (oy, ox). Runs of columns within one output
// row read consecutive input columns when sw == 1.
template <int NR>
void packBConv(const ConvGeometry& g, int64_t k0, int64_t kc, int64_t n0, int cols, float* dst) {
  const int64_t kArea = g.kh * g.kw;
  for (int64_t k = k0; k < k0 + kc; ++k, dst += NR) {
    const int64_t c = k / kArea, ky = k % kArea / g.kw, kx = k % g.kw;
    const float* plane = g.x + c * g.h * g.w;
    int64_t oy = n0 / g.ow, ox = n0 % g.ow;
    int j = 0;
    while (j < cols) {
      const int run = static_cast<int>(minI(cols - j, g.ow - ox));
      const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
      if (iy < 0 || iy >= g.h) {
        for (int q = 0; q < run; ++q)
          dst[j + q] = 0.f;
      } else {
        const float* row = plane + iy * g.w;
        const int64_t ix0 = ox * g.sw - g.pw + kx * g.dw;
        if (g.sw == 1 && ix0 >= 0 && ix0 + run <= g.w) {
          int q = 0;
          for (; q + W <= run; q += W)
            I::store(dst + j + q, I::load(row + ix0 + q));
          for (; q < run; ++q)
            dst[j + q] = row[ix0 + q];
        } else {
          for (int q = 0; q < run; ++q) {
            const int64_t ix = ix0 + q * g.sw;
            dst[j + q] = ix >= 0 && ix < g.w ? row[ix] : 0.f;
          }
        }
      }
      j += run;
      ox = 0;
      ++oy;
    }
    for (; j < NR; ++j)
      dst[j] = 0.f;
  }
}

template <int MR>
void packA(const float* src, int64_t rs, int64_t ks, int64_t m0, int rows, int64_t k0, int64_t kc,
           float* dst) {
  for (int64_t k = 0; k < kc; ++k, dst += MR)
    for (int r = 0; r < MR; ++r)
      dst[r] = r < rows ? src[(m0 + r) * rs + (k0 + k) * ks] : 0.f;
}

// Depthwise: the padded plane split into sw column phases, so every tap of a vector of outputs
// is one contiguous load: input column ox*sw + t lies in phase t % sw at ox + t / sw.
inline void depthwise(const DepthwisePlane& p) {
  const ConvGeometry& g = p.g;
  const int64_t rowsNeeded = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  const int64_t colsNeeded = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  const int64_t phaseW = (colsNeeded + g.sw - 1) / g.sw;
  const int64_t phaseSize = rowsNeeded * phaseW;
  for (int64_t r = 0; r < rowsNeeded; ++r) {
    const int64_t iy = r - g.ph;
    const bool rowIn = iy >= 0 && iy < g.h;
    for (int64_t c = 0; c < colsNeeded; ++c) {
      const int64_t ix = c - g.pw;
      const float v = rowIn && ix >= 0 && ix < g.w ? g.x[iy * g.w + ix] : 0.f;
      p.scratch[(c % g.sw) * phaseSize + r * phaseW + c / g.sw] = v;
    }
  }
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    for (int64_t ox = 0; ox < g.ow; ox += W) {
      const int valid = static_cast<int>(minI(W, g.ow - ox));
      V acc = I::zero();
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t row = oy * g.sh + ky * g.dh;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t t = kx * g.dw;
          const float* src = p.scratch + (t % g.sw) * phaseSize + row * phaseW + ox + t / g.sw;
          acc = I::fma(I::set1(p.weight[ky * g.kw + kx]), loadUpTo(src, valid), acc);
        }
      }
      if (p.ep) acc = epilogue(acc, *p.ep, p.channel, oy * g.ow + ox, valid);
      storeUpTo(p.y + oy * g.ow + ox, acc, valid);
    }
  }
}

inline void epilogueRow(const float* x, float* y, int64_t n, const Epilogue& ep, int64_t row,
                        int64_t col) {
  int64_t i = 0;
  for (; i + W <= n; i += W)
    I::store(y + i, epilogue(I::load(x + i), ep, row, col + i, W));
  if (i < n) {
    const int valid = static_cast<int>(n - i);
    I::storePartial(y + i, epilogue(I::loadPartial(x + i, valid), ep, row, col + i, valid), valid);
  }
}

// The table of this family: MR x NV*W microkernels.
template <int MR, int NV> KernelTable makeTable(IsaFamily family) {
  KernelTable t;
  t.family = family;
  t.vectorWidth = W;
  t.mr = MR;
  t.nr = NV * W;
  t.gemm = &gemmDispatch<MR, NV>;
  t.packB = &packB<NV * W>;
  t.packBConv = &packBConv<NV * W>;
  t.packA = &packA<MR>;
  t.depthwise = &depthwise;
  t.epilogueRow = &epilogueRow;
  return t;
}
