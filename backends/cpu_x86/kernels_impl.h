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

// The common epilogues decoded once per call: an optional per-row add (a bias), an optional
// activation (relu, clip, hardswish, hardsigmoid, leaky relu), then an optional scalar scale and
// shift. Anything else goes through epilogue() op by op.
struct FastEpilogue {
  bool usable = false;
  const float* rowAdd = nullptr;
  int act = 0; // 0 none, 1 relu, 2 clip, 3 hardswish, 4 hardsigmoid, 5 leaky relu
  float alpha = 0.f, beta = 0.f;
  bool affine = false; // v * scale + shift
  float scale = 1.f, shift = 0.f;
};

inline FastEpilogue decode(const Epilogue* ep) {
  FastEpilogue f;
  if (!ep) {
    f.usable = true;
    return f;
  }
  int i = 0;
  const auto scalarOp = [&](int at, kinds::Binary kind) {
    return at < ep->count && ep->ops[at].isBinary && ep->ops[at].spread == Spread::Scalar &&
           ep->ops[at].op == static_cast<uint8_t>(kind);
  };
  if (i < ep->count && ep->ops[i].isBinary && ep->ops[i].spread == Spread::Row &&
      ep->ops[i].op == static_cast<uint8_t>(kinds::Binary::Add) && !ep->ops[i].operandFirst)
    f.rowAdd = ep->ops[i++].data;
  if (i < ep->count && !ep->ops[i].isBinary) {
    const auto u = static_cast<kinds::Unary>(ep->ops[i].op);
    const int act = u == kinds::Unary::Relu          ? 1
                    : u == kinds::Unary::Clip        ? 2
                    : u == kinds::Unary::HardSwish   ? 3
                    : u == kinds::Unary::HardSigmoid ? 4
                    : u == kinds::Unary::LeakyRelu   ? 5
                                                     : 0;
    if (act) {
      f.act = act;
      f.alpha = ep->ops[i].alpha;
      f.beta = ep->ops[i].beta;
      ++i;
    }
  }
  if (scalarOp(i, kinds::Binary::Mul)) {
    f.affine = true;
    f.scale = ep->ops[i++].data[0];
  }
  if (scalarOp(i, kinds::Binary::Add)) {
    f.affine = true;
    f.shift = ep->ops[i++].data[0];
  }
  f.usable = i == ep->count;
  return f;
}

inline V fastEpilogue(V v, const FastEpilogue& f, int64_t row) {
  if (f.rowAdd) v = I::add(v, I::set1(f.rowAdd[row]));
  switch (f.act) {
  case 1: v = I::max(v, I::zero()); break;
  case 2: v = I::min(I::max(v, I::set1(f.alpha)), I::set1(f.beta)); break;
  case 3:
    v = I::mul(
        v, I::min(I::max(I::fma(v, I::set1(1.f / 6.f), I::set1(0.5f)), I::zero()), I::set1(1.f)));
    break;
  case 4:
    v = I::min(I::max(I::fma(I::set1(f.alpha), v, I::set1(f.beta)), I::zero()), I::set1(1.f));
    break;
  case 5: v = I::add(I::max(v, I::zero()), I::mul(I::set1(f.alpha), I::min(v, I::zero()))); break;
  default: break;
  }
  if (f.affine) v = I::fma(v, I::set1(f.scale), I::set1(f.shift));
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
  const int64_t ldb = t.ldb ? t.ldb : NR;
  for (int64_t k = 0; k < t.kc; ++k, a += MR, b += ldb) {
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
  // The dispatcher picked ROWS = the tile's rows, so every row is stored; the common case (a
  // full-width tile with a bias and relu/clip, or nothing) stays in registers.
  const FastEpilogue fast = decode(t.ep);
  if (t.cols == NR && fast.usable) {
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      float* c = t.c + r * t.ldc;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        V v = acc[r][j];
        if (t.accumulate) v = I::add(v, I::load(c + j * W));
        I::store(c + j * W, fastEpilogue(v, fast, t.row0 + r));
      }
    }
    return;
  }
  for (int r = 0; r < ROWS; ++r) {
    float* c = t.c + r * t.ldc;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const int valid = t.cols - j * W >= W ? W : t.cols - j * W;
      if (valid <= 0) break;
      V v = acc[r][j];
      if (t.accumulate) v = I::add(v, loadUpTo(c + j * W, valid));
      if (fast.usable)
        v = fastEpilogue(v, fast, t.row0 + r);
      else
        v = epilogue(v, *t.ep, t.row0 + r, t.col0 + j * W, valid);
      storeUpTo(c + j * W, v, valid);
    }
  }
}

template <int MR, int NV, int ROWS = MR> void gemmDispatch(const GemmTile& t) {
  if (t.rows <= 0) return;
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
  // (c, ky, kx) of row k, advanced incrementally: no division per row.
  int64_t c = k0 / kArea, ky = k0 % kArea / g.kw, kx = k0 % g.kw;
  const int64_t oy0 = n0 / g.ow, ox0 = n0 % g.ow;
  for (int64_t k = k0; k < k0 + kc; ++k, dst += NR) {
    const float* plane = g.x + c * g.h * g.w;
    int64_t oy = oy0, ox = ox0;
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
          // Columns q with ix0 + q*sw inside the row: [lo, hi); zeros around them.
          const int lo = ix0 >= 0 ? 0 : static_cast<int>(minI(run, (-ix0 + g.sw - 1) / g.sw));
          const int hi =
              g.w - ix0 <= 0 ? lo : static_cast<int>(minI(run, (g.w - ix0 + g.sw - 1) / g.sw));
          int q = 0;
          for (; q < lo; ++q)
            dst[j + q] = 0.f;
          if (g.sw == 2)
            for (; q < hi; ++q)
              dst[j + q] = row[ix0 + 2 * q];
          else
            for (; q < hi; ++q)
              dst[j + q] = row[ix0 + q * g.sw];
          for (; q < run; ++q)
            dst[j + q] = 0.f;
        }
      }
      j += run;
      ox = 0;
      ++oy;
    }
    for (; j < NR; ++j)
      dst[j] = 0.f;
    if (++kx == g.kw) {
      kx = 0;
      if (++ky == g.kh) {
        ky = 0;
        ++c;
      }
    }
  }
}

template <int MR>
void packA(const float* src, int64_t rs, int64_t ks, int64_t m0, int rows, int64_t k0, int64_t kc,
           float* dst) {
  for (int64_t k = 0; k < kc; ++k, dst += MR)
    for (int r = 0; r < MR; ++r)
      dst[r] = r < rows ? src[(m0 + r) * rs + (k0 + k) * ks] : 0.f;
}

// Window ops: the padded plane split into sw column phases, so every tap of a vector of outputs
// is one contiguous load: input column ox*sw + t lies in phase t % sw at ox + t / sw.
inline void fillPhases(const ConvGeometry& g, float pad, int64_t rows, int64_t phaseW,
                       float* scratch) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t iy = r - g.ph;
    const float* src = g.x + iy * g.w;
    for (int64_t q = 0; q < g.sw; ++q) {
      float* dst = scratch + (q * rows + r) * phaseW;
      if (iy < 0 || iy >= g.h) {
        for (int64_t c = 0; c < phaseW; ++c)
          dst[c] = pad;
        continue;
      }
      // Phase column c holds input column c*sw + q - pw: inside the row for c in [lo, hi).
      const int64_t first = g.pw - q; // c*sw >= first
      const int64_t lo = first <= 0 ? 0 : minI((first + g.sw - 1) / g.sw, phaseW);
      const int64_t end = g.w + g.pw - q; // c*sw < end
      const int64_t hi = end <= 0 ? lo : minI(phaseW, (end + g.sw - 1) / g.sw);
      for (int64_t c = 0; c < lo; ++c)
        dst[c] = pad;
      const float* from = src + q - g.pw;
      if (g.sw == 1) {
        int64_t c = lo;
        for (; c + W <= hi; c += W)
          I::store(dst + c, I::load(from + c));
        for (; c < hi; ++c)
          dst[c] = from[c];
      } else if (g.sw == 2) {
        for (int64_t c = lo; c < hi; ++c)
          dst[c] = from[2 * c];
      } else {
        for (int64_t c = lo; c < hi; ++c)
          dst[c] = from[c * g.sw];
      }
      for (int64_t c = hi > lo ? hi : lo; c < phaseW; ++c)
        dst[c] = pad;
    }
  }
}

// One output row of a window op, NV vectors from column ox (the last may be partial).
// TAPS > 0 fixes the tap count at compile time (3x3 windows): the tap loop unrolls and the
// depthwise weights stay in registers (wv).
template <WindowMode MODE, int NV, int TAPS>
inline void windowRow(const WindowPlane& p, const float* base, const int64_t* tapOffset,
                      int64_t runtimeTaps, const V* wv, int64_t oy, int64_t ox, int lastValid,
                      float rowCount, const float* colDiv, const FastEpilogue& fast) {
  const ConvGeometry& g = p.g;
  const int64_t taps = TAPS > 0 ? TAPS : runtimeTaps;
  const V init = MODE == WindowMode::Max ? I::set1(-__builtin_inff()) : I::zero();
  V acc[NV];
  for (int j = 0; j < NV; ++j)
    acc[j] = init;
#pragma GCC unroll 9
  for (int64_t i = 0; i < taps; ++i) {
    const float* at = base + tapOffset[i];
    V v[NV];
    for (int j = 0; j < NV; ++j)
      v[j] = j == NV - 1 ? loadUpTo(at + j * W, lastValid) : I::load(at + j * W);
    if constexpr (MODE == WindowMode::Max) {
      for (int j = 0; j < NV; ++j)
        acc[j] = I::max(acc[j], v[j]);
    } else if constexpr (MODE == WindowMode::Avg) {
      for (int j = 0; j < NV; ++j)
        acc[j] = I::add(acc[j], v[j]);
    } else {
      const V w = TAPS > 0 ? wv[i] : I::set1(p.weight[i]);
      for (int j = 0; j < NV; ++j)
        acc[j] = I::fma(w, v[j], acc[j]);
    }
  }
  for (int j = 0; j < NV; ++j) {
    const int valid = j == NV - 1 ? lastValid : W;
    const int64_t x0 = ox + j * W;
    V r = acc[j];
    if constexpr (MODE == WindowMode::Avg) {
      // An empty window averages to 0, as in the reference.
      const V count = I::mul(I::set1(rowCount), loadUpTo(colDiv + x0, valid));
      r = I::div(r, I::max(count, I::set1(1.f)));
    }
    if (fast.usable)
      r = fastEpilogue(r, fast, p.channel);
    else
      r = epilogue(r, *p.ep, p.channel, oy * g.ow + x0, valid);
    storeUpTo(p.y + oy * g.ow + x0, r, valid);
  }
}

template <WindowMode MODE, int TAPS>
inline void windowRowAnyWidth(const WindowPlane& p, int nv, const float* base,
                              const int64_t* tapOffset, int64_t taps, const V* wv, int64_t oy,
                              int64_t ox, int lastValid, float rowCount, const float* colDiv,
                              const FastEpilogue& fast) {
  switch (nv) {
  case 4:
    windowRow<MODE, 4, TAPS>(p, base, tapOffset, taps, wv, oy, ox, lastValid, rowCount, colDiv,
                             fast);
    break;
  case 3:
    windowRow<MODE, 3, TAPS>(p, base, tapOffset, taps, wv, oy, ox, lastValid, rowCount, colDiv,
                             fast);
    break;
  case 2:
    windowRow<MODE, 2, TAPS>(p, base, tapOffset, taps, wv, oy, ox, lastValid, rowCount, colDiv,
                             fast);
    break;
  default:
    windowRow<MODE, 1, TAPS>(p, base, tapOffset, taps, wv, oy, ox, lastValid, rowCount, colDiv,
                             fast);
    break;
  }
}

template <WindowMode MODE>
inline void windowRows(const WindowPlane& p, int64_t rows, int64_t phaseW, const float* colDiv,
                       const int64_t* tapOffset, int64_t taps, const FastEpilogue& fast);

template <WindowMode MODE> inline void windowPlane(const WindowPlane& p) {
  const ConvGeometry& g = p.g;
  const int64_t rows = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  const int64_t cols = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  const int64_t phaseW = (cols + g.sw - 1) / g.sw;
  // averages: inputs per window, by column (after the phases, at an even float offset)
  float* colDiv = p.scratch + ((g.sw * rows * phaseW + 1) & ~int64_t{1});
  if (MODE == WindowMode::Avg)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t x0 = ox * g.sw - g.pw;
      const int64_t hi =
          p.countIncludePad ? minI(x0 + g.kw, g.w + p.padRight) : minI(x0 + g.kw, g.w);
      const int64_t lo = p.countIncludePad ? x0 : (x0 < 0 ? 0 : x0);
      colDiv[ox] = static_cast<float>(hi > lo ? hi - lo : 0);
    }
  // Where tap (ky, kx) of output (oy, 0) starts in the scratch, less oy * sh * phaseW: the
  // divisions by the stride stay out of the loops.
  int64_t* tapOffset = reinterpret_cast<int64_t*>(colDiv + ((g.ow + 1) & ~int64_t{1}));
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t kx = 0; kx < g.kw; ++kx) {
      const int64_t t = kx * g.dw;
      tapOffset[ky * g.kw + kx] = ((t % g.sw) * rows + ky * g.dh) * phaseW + t / g.sw;
    }
  const int64_t taps = g.kh * g.kw;
  const FastEpilogue fast = decode(p.ep);
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    WindowPlane cur = p;
    cur.g.x = g.x + plane * g.h * g.w;
    cur.y = p.y + plane * g.oh * g.ow;
    cur.weight = p.weight ? p.weight + plane * taps : nullptr;
    cur.channel = p.channel + plane;
    windowRows<MODE>(cur, rows, phaseW, colDiv, tapOffset, taps, fast);
  }
}

template <WindowMode MODE>
inline void windowRows(const WindowPlane& p, int64_t rows, int64_t phaseW, const float* colDiv,
                       const int64_t* tapOffset, int64_t taps, const FastEpilogue& fast) {
  const ConvGeometry& g = p.g;
  fillPhases(g, MODE == WindowMode::Max ? -__builtin_inff() : 0.f, rows, phaseW, p.scratch);
  V wv[9];
  if (MODE == WindowMode::Depthwise && taps == 9)
    for (int i = 0; i < 9; ++i)
      wv[i] = I::set1(p.weight[i]);
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    float rowCount = 1.f;
    if (MODE == WindowMode::Avg) {
      const int64_t y0 = oy * g.sh - g.ph;
      const int64_t hi =
          p.countIncludePad ? minI(y0 + g.kh, g.h + p.padBottom) : minI(y0 + g.kh, g.h);
      const int64_t lo = p.countIncludePad ? y0 : (y0 < 0 ? 0 : y0);
      rowCount = static_cast<float>(hi > lo ? hi - lo : 0);
    }
    const float* rowBase = p.scratch + oy * g.sh * phaseW;
    // Up to four vectors at once: independent accumulators hide the FMA latency.
    for (int64_t ox = 0; ox < g.ow; ox += 4 * W) {
      const int64_t left = g.ow - ox;
      const int nv = static_cast<int>(minI(4, (left + W - 1) / W));
      const int lastValid = static_cast<int>(left - (nv - 1) * W >= W ? W : left - (nv - 1) * W);
      const float* base = rowBase + ox;
      if (taps == 9)
        windowRowAnyWidth<MODE, 9>(p, nv, base, tapOffset, taps, wv, oy, ox, lastValid, rowCount,
                                   colDiv, fast);
      else
        windowRowAnyWidth<MODE, 0>(p, nv, base, tapOffset, taps, wv, oy, ox, lastValid, rowCount,
                                   colDiv, fast);
    }
  }
}

inline void window(const WindowPlane& p) {
  switch (p.mode) {
  case WindowMode::Max: windowPlane<WindowMode::Max>(p); break;
  case WindowMode::Avg: windowPlane<WindowMode::Avg>(p); break;
  case WindowMode::Depthwise: windowPlane<WindowMode::Depthwise>(p); break;
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

// Winograd F(4,3) transforms, vectorised over 8 tiles with 8-lane vectors in both families (tile
// rows are short: 8 lanes waste less than 16). B^T d B with B^T rows
// [4 0 -5 0 1 0] [0 -4 -4 1 1 0] [0 4 -4 -1 1 0] [0 -2 -1 2 1 0] [0 2 -1 -2 1 0] [0 4 0 -5 0 1].
namespace wino {
using T8 = Avx2;
using V8 = T8::V;

inline void inputRows(const V8 d[6], V8 out[6]) {
  const V8 four = T8::set1(4.f), five = T8::set1(5.f), two = T8::set1(2.f);
  out[0] = T8::add(T8::sub(T8::mul(four, d[0]), T8::mul(five, d[2])), d[4]);
  const V8 a = T8::sub(d[4], T8::mul(four, d[2])), b = T8::sub(d[3], T8::mul(four, d[1]));
  out[1] = T8::add(a, b);
  out[2] = T8::sub(a, b);
  const V8 c = T8::sub(d[4], d[2]), e = T8::mul(two, T8::sub(d[3], d[1]));
  out[3] = T8::add(c, e);
  out[4] = T8::sub(c, e);
  out[5] = T8::add(T8::sub(T8::mul(four, d[1]), T8::mul(five, d[3])), d[5]);
}

// A^T rows [1 1 1 1 1 0] [0 1 -1 2 -2 0] [0 1 1 4 4 0] [0 1 -1 8 -8 1].
inline void outputRows(const V8 m[6], V8 out[4]) {
  const V8 a = T8::add(m[1], m[2]), b = T8::sub(m[1], m[2]);
  const V8 c = T8::add(m[3], m[4]), d = T8::sub(m[3], m[4]);
  out[0] = T8::add(T8::add(m[0], a), c);
  out[1] = T8::fma(T8::set1(2.f), d, b);
  out[2] = T8::fma(T8::set1(4.f), c, a);
  out[3] = T8::add(T8::fma(T8::set1(8.f), d, b), m[5]);
}
} // namespace wino

inline void winogradInput(const WinogradPlan& p, int64_t c0, int64_t c1, float* buf) {
  using namespace wino;
  const int64_t twp = p.tilesWPadded;
  const int64_t panelFloats = p.c * p.nr;
  const int64_t panels = p.tilesPadded / p.nr;
  for (int64_t c = c0; c < c1; ++c) {
    const float* plane = p.x + c * p.h * p.w;
    for (int64_t ty = p.ty0; ty < p.ty1; ++ty) {
      // buf[(r*6 + col)][tx] = the input at row ty*4 + r, column tx*4 + col (zero outside):
      // zeros, then a stride-4 copy over the tiles whose column lies inside, then zeros.
      for (int r = 0; r < 6; ++r) {
        const int64_t iy = ty * 4 + r - p.ph;
        const bool rowIn = iy >= 0 && iy < p.h;
        const float* row = rowIn ? plane + iy * p.w : plane;
        for (int col = 0; col < 6; ++col) {
          float* dst = buf + (r * 6 + col) * twp;
          const int64_t shift = col - p.pw; // ix = tx*4 + shift
          int64_t lo = shift >= 0 ? 0 : (-shift + 3) / 4;
          int64_t hi = p.w - shift <= 0 ? 0 : (p.w - shift + 3) / 4;
          hi = minI(hi, p.tilesW);
          if (!rowIn || lo > hi) lo = hi = 0;
          int64_t tx = 0;
          for (; tx < lo; ++tx)
            dst[tx] = 0.f;
          for (; tx < hi; ++tx)
            dst[tx] = row[4 * tx + shift];
          for (; tx < twp; ++tx)
            dst[tx] = 0.f;
        }
      }
      for (int64_t tx = 0; tx < twp; tx += 8) {
        V8 t[6][6];
        for (int col = 0; col < 6; ++col) {
          V8 d[6], o[6];
          for (int r = 0; r < 6; ++r)
            d[r] = T8::load(buf + (r * 6 + col) * twp + tx);
          inputRows(d, o);
          for (int r = 0; r < 6; ++r)
            t[r][col] = o[r];
        }
        const int64_t tile = (ty - p.ty0) * twp + tx;
        const int64_t panel = tile / p.nr, lane = tile % p.nr;
        for (int r = 0; r < 6; ++r) {
          V8 o[6];
          inputRows(t[r], o);
          for (int col = 0; col < 6; ++col) {
            const int64_t xi = r * 6 + col;
            T8::store(p.v + (xi * panels + panel) * panelFloats + c * p.nr + lane, o[col]);
          }
        }
      }
    }
  }
}

inline void winogradOutput(const WinogradPlan& p, int64_t o0, int64_t o1) {
  using namespace wino;
  const int64_t twp = p.tilesWPadded;
  const int64_t pointStride = p.o * p.tilesPadded;
  for (int64_t o = o0; o < o1; ++o) {
    float* plane = p.y + o * p.oh * p.ow;
    for (int64_t ty = p.ty0; ty < p.ty1; ++ty)
      for (int64_t tx = 0; tx < twp && tx < p.tilesW; tx += 8) {
        const float* m = p.m + o * p.tilesPadded + (ty - p.ty0) * twp + tx;
        V8 t[4][6];
        for (int col = 0; col < 6; ++col) {
          V8 d[6], out[4];
          for (int r = 0; r < 6; ++r)
            d[r] = T8::load(m + (r * 6 + col) * pointStride);
          outputRows(d, out);
          for (int r = 0; r < 4; ++r)
            t[r][col] = out[r];
        }
        alignas(32) float res[4][4][8];
        for (int r = 0; r < 4; ++r) {
          V8 out[4];
          outputRows(t[r], out);
          for (int col = 0; col < 4; ++col)
            T8::store(res[r][col], out[col]);
        }
        const int64_t lanes = minI(8, p.tilesW - tx);
        for (int64_t l = 0; l < lanes; ++l)
          for (int r = 0; r < 4; ++r) {
            const int64_t oy = ty * 4 + r;
            if (oy >= p.oh) break;
            const int64_t ox0 = (tx + l) * 4;
            for (int col = 0; col < 4 && ox0 + col < p.ow; ++col)
              plane[oy * p.ow + ox0 + col] = res[r][col][l];
          }
      }
    // The block's output rows, a contiguous range of the plane.
    const int64_t row0 = p.ty0 * 4, row1 = minI(p.ty1 * 4, p.oh);
    if (p.ep && row1 > row0)
      epilogueRow(plane + row0 * p.ow, plane + row0 * p.ow, (row1 - row0) * p.ow, *p.ep, o,
                  row0 * p.ow);
  }
}

namespace red {
enum class Kind : uint8_t {
#define TESSEL_REDUCE(name, str) name,
#include "tessel/core/reduce.def"
#undef TESSEL_REDUCE
};

inline V combine(Kind k, V a, V b) {
  return k == Kind::Max ? I::max(a, b) : k == Kind::Min ? I::min(a, b) : I::add(a, b);
}
inline float combine(Kind k, float a, float b) {
  return k == Kind::Max ? (a > b ? a : b) : k == Kind::Min ? (a < b ? a : b) : a + b;
}
inline V start(Kind k) {
  return k == Kind::Max   ? I::set1(-__builtin_inff())
         : k == Kind::Min ? I::set1(__builtin_inff())
                          : I::zero();
}
} // namespace red

// Four accumulators per row, then across lanes; the mean divides at the end.
inline void reduceRows(const float* x, int64_t o0, int64_t o1, int64_t extent, uint8_t kind,
                       float* y) {
  const auto k = static_cast<red::Kind>(kind);
  for (int64_t o = o0; o < o1; ++o) {
    const float* row = x + o * extent;
    V acc[4] = {red::start(k), red::start(k), red::start(k), red::start(k)};
    int64_t e = 0;
    for (; e + 4 * W <= extent; e += 4 * W)
      for (int j = 0; j < 4; ++j)
        acc[j] = red::combine(k, acc[j], I::load(row + e + j * W));
    for (; e + W <= extent; e += W)
      acc[0] = red::combine(k, acc[0], I::load(row + e));
    const V all = red::combine(k, red::combine(k, acc[0], acc[1]), red::combine(k, acc[2], acc[3]));
    alignas(64) float lanes[W];
    I::store(lanes, all);
    float r = lanes[0];
    for (int j = 1; j < W; ++j)
      r = red::combine(k, r, lanes[j]);
    for (; e < extent; ++e)
      r = red::combine(k, r, row[e]);
    y[o] = k == red::Kind::Mean && extent > 0 ? r / static_cast<float>(extent) : r;
  }
}

inline void reduceColumns(const float* x, int64_t extent, int64_t inner, uint8_t kind, float* y) {
  const auto k = static_cast<red::Kind>(kind);
  for (int64_t i = 0; i < inner; i += W) {
    const int valid = static_cast<int>(minI(W, inner - i));
    V acc = red::start(k);
    for (int64_t e = 0; e < extent; ++e)
      acc = red::combine(k, acc, loadUpTo(x + e * inner + i, valid));
    if (k == red::Kind::Mean && extent > 0) acc = I::div(acc, I::set1(static_cast<float>(extent)));
    storeUpTo(y + i, acc, valid);
  }
}

// Twelve independent FMA chains from distinct starting values (a volatile seed), so the
// compiler can neither merge nor fold them: the family's FMA throughput.
inline volatile float probeSeed = 0.5f;
inline double fmaProbe(int64_t iterations) {
  const float seed = probeSeed;
  V a[12];
  for (int i = 0; i < 12; ++i)
    a[i] = I::set1(seed + static_cast<float>(i));
  const V x = I::set1(seed * 1.998f), y = I::set1(seed * 2e-4f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i)
      a[i] = I::fma(a[i], x, y);
  }
  V s = a[0];
  for (int i = 1; i < 12; ++i)
    s = I::add(s, a[i]);
  alignas(64) float out[W];
  I::store(out, s);
  probeSeed = out[0] * 0.f + 0.5f;
  return 2.0 * W * 12 * static_cast<double>(iterations);
}

// The table of this family: MR x NV*W microkernels.
template <int MR, int NV> KernelTable makeTable(IsaFamily family) {
  KernelTable t;
  t.family = family;
  t.fmaProbe = &fmaProbe;
  t.vectorWidth = W;
  t.mr = MR;
  t.nr = NV * W;
  t.gemm = &gemmDispatch<MR, NV>;
  t.packB = &packB<NV * W>;
  t.packBConv = &packBConv<NV * W>;
  t.packAConv = &packBConv<MR>; // the same layout: [k][width] with width = mr
  t.packA = &packA<MR>;
  t.window = &window;
  t.epilogueRow = &epilogueRow;
  t.reduceRows = &reduceRows;
  t.reduceColumns = &reduceColumns;
  t.winogradInput = &winogradInput;
  t.winogradOutput = &winogradOutput;
  return t;
}
