// Window kernels (depthwise convolution, pooling) and the row epilogue of the cpu_x86 kernels.
// Part of the cpu_x86 kernels: included by kernels_impl.h inside a family's namespace (see there).

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
