// Window kernels (depthwise convolution, pooling) and the row epilogue of the cpu_x86 kernels.
// Part of the cpu_x86 kernels: included by kernels_impl.h inside a family's namespace (see there).
// A window call covers W channels in the vector lanes (WindowBlock in kernel_table.h).

// GCC only (clang has no such attribute and no such rewrite to avoid).
#if defined(__GNUC__) && !defined(__clang__)
#define TESSEL_KEEP_STORE_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TESSEL_KEEP_STORE_LOOPS
#endif

// n vectors of v from p. Loops of vector stores stay loops here and in fillStrip: GCC would
// otherwise turn them into memcpy calls (rep movs), slow for the few vectors a row's padding or
// a tail of columns has.
TESSEL_KEEP_STORE_LOOPS inline void fillVectors(float* p, int64_t n, V v) {
  for (int64_t i = 0; i < n; ++i)
    I::store(p + i * W, v);
}

// Transposes input rows iy0..iy0+rows of the block's planes into the strip: strip column c holds
// input column c - pw, `pad` outside the input and in the lanes past the block's channels.
TESSEL_KEEP_STORE_LOOPS inline void fillStrip(const WindowBlock& p, int64_t iy0, int64_t rows,
                                              float pad, float* strip) {
  const ConvGeometry& g = p.g;
  const int64_t cols = p.strip.cols, plane = g.h * g.w;
  const V padV = I::set1(pad);
  const int64_t xEnd = minI(g.w, cols - g.pw); // input columns [0, xEnd) land in the strip
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t iy = iy0 + r;
    float* row = strip + r * cols * W;
    if (iy < 0 || iy >= g.h || xEnd <= 0) {
      fillVectors(row, cols, padV);
      continue;
    }
    fillVectors(row, g.pw, padV);
    if (g.block) { // blocked nchwc: the lanes lie together already (lanes past the channels: 0)
      const float* src = g.x + iy * g.w * g.block;
      float* at = row + g.pw * W;
      for (int64_t x = 0; x < xEnd; ++x)
        I::store(at + x * W, I::load(src + x * g.block));
      fillVectors(row + (g.pw + xEnd) * W, cols - g.pw - xEnd, padV);
      continue;
    }
    const float* src = g.x + iy * g.w;
    int64_t x0 = 0;
    if (p.channels == W) // whole W x W blocks: no masks, no branches
      for (; x0 + W <= xEnd; x0 += W) {
        V v[W];
#pragma GCC unroll 16
        for (int l = 0; l < W; ++l)
          v[l] = I::load(src + l * plane + x0);
        I::transpose(v);
        float* at = row + (g.pw + x0) * W;
#pragma GCC unroll 16
        for (int j = 0; j < W; ++j)
          I::store(at + j * W, v[j]);
      }
    for (; x0 < xEnd; x0 += W) {
      const int valid = static_cast<int>(minI(W, xEnd - x0));
      V v[W];
      for (int l = 0; l < W; ++l)
        v[l] = l < p.channels ? loadUpTo(src + l * plane + x0, valid) : padV;
      I::transpose(v);
      float* at = row + (g.pw + x0) * W;
      for (int j = 0; j < valid; ++j)
        I::store(at + j * W, v[j]);
    }
    fillVectors(row + (g.pw + xEnd) * W, cols - g.pw - xEnd, padV);
  }
}

// v[j] holds channels c0..c0+channels (lanes) at position pos0 + j, j < valid: the epilogue, then
// the store. Plain output: a fast epilogue on the lanes (bias: the channels' row adds), the W x W
// transpose, rows stored, any other epilogue per row after the transpose. Blocked output: the
// epilogue on the lanes, lanes past the channels zeroed, each vector stored as it is.
inline void storeLanes(V* v, int channels, int valid, const LaneOutput& out, int64_t c0,
                       int64_t pos0, const FastEpilogue& fast, V bias, const Epilogue* ep) {
  if (out.block) {
    float* y = out.y + laneOffset(out.block, out.plane, c0, pos0);
    if (fast.usable) {
      laneEpilogue(v, W, bias, fast);
      if (valid == W && channels == W) { // the common case: straight-line stores
#pragma GCC unroll 16
        for (int j = 0; j < W; ++j)
          I::store(y + j * out.block, v[j]);
        return;
      }
    }
    const V keep = laneMask(channels);
    for (int j = 0; j < valid; ++j) {
      V r = fast.usable ? v[j] : epilogue(v[j], *ep, c0, pos0 + j, channels, true);
      if (channels < W) r = I::blendMask(keep, r, I::zero());
      I::store(y + j * out.block, r);
    }
    return;
  }
  float* y = out.y + c0 * out.plane + pos0;
  const int64_t ldy = out.plane;
  if (fast.usable) laneEpilogue(v, W, bias, fast);
  I::transpose(v); // v[l]: channel l, columns 0..W
  if (fast.usable && valid == W && channels == W) {
#pragma GCC unroll 16
    for (int l = 0; l < W; ++l)
      I::store(y + l * ldy, v[l]);
    return;
  }
  for (int l = 0; l < channels; ++l) {
    V r = v[l];
    if (!fast.usable) r = epilogue(r, *ep, c0 + l, pos0, valid);
    storeUpTo(y + l * ldy, r, valid);
  }
}

// The common case of storeLanes, inlined: `valid` positions of W channels with a fast epilogue
// (activation ACT; -1 switches on it at run time). y: the tile's first value (channel c0 at
// position pos0); blocked: vector j (position j) at y + j * ld (ld = the block); plain: the
// transposed rows, channel l at y + l * ld (ld = the plane).
template <int ACT, bool BLOCKED>
__attribute__((always_inline)) inline void storeLanesFull(V* v, int valid, float* y, int64_t ld,
                                                          V bias, const FastEpilogue& fast) {
  if constexpr (ACT < 0)
    laneEpilogue(v, W, bias, fast);
  else
    laneEpilogueAct<ACT>(v, W, bias, fast);
  if constexpr (BLOCKED) {
    for (int j = 0; j < valid; ++j)
      I::store(y + j * ld, v[j]);
  } else {
    I::transpose(v);
    if (valid == W) {
#pragma GCC unroll 16
      for (int l = 0; l < W; ++l)
        I::store(y + l * ld, v[l]);
    } else {
      for (int l = 0; l < W; ++l)
        storeUpTo(y + l * ld, v[l], valid);
    }
  }
}

// Inputs inside the window of output position o along one axis (average pooling's divisor).
inline float windowCount(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t extent,
                         int64_t padAfter, bool includePad) {
  const int64_t start = o * stride - pad;
  const int64_t hi =
      includePad ? minI(start + kernel, extent + padAfter) : minI(start + kernel, extent);
  const int64_t lo = includePad ? start : (start < 0 ? 0 : start);
  return static_cast<float>(hi > lo ? hi - lo : 0);
}

// Output rows oyBegin..oyEnd from the strip that starts at input row oyBegin * sh - ph. TAPS > 0
// fixes the tap count at compile time (3x3 windows) so the tap loop unrolls. A fast epilogue is
// applied with the channels still in the lanes (bias: their row adds); any other per channel
// after the transpose. ACT >= 0 (a fast epilogue with that activation, W channels, the output
// blocked when BLOCKED): tiles are stored inline, the accumulators staying in registers
// (storeLanes as a call cost a third of a depthwise convolution's time); ACT < 0: every tile
// through storeLanes.
template <WindowMode MODE, int TAPS, int ACT, bool BLOCKED>
inline void windowStripRows(const WindowBlock& p, const float* strip, const float* weights,
                            const int64_t* tapOffset, int64_t runtimeTaps, int64_t oyBegin,
                            int64_t oyEnd, const FastEpilogue& fast, V bias) {
  const ConvGeometry& g = p.g;
  const int64_t taps = TAPS > 0 ? TAPS : runtimeTaps;
  const int64_t colStep = g.sw * W;
  const LaneOutput out{p.y, g.oh * g.ow, p.yBlock, 0};
  float* const yc = p.y + laneOffset(p.yBlock, out.plane, p.channel, 0); // channel c0, position 0
  const int64_t posStep = BLOCKED ? p.yBlock : 1, ld = BLOCKED ? p.yBlock : out.plane;
  const V init = MODE == WindowMode::Max ? I::set1(-__builtin_inff()) : I::zero();
  for (int64_t oy = oyBegin; oy < oyEnd; ++oy) {
    const float* rowBase = strip + (oy - oyBegin) * g.sh * p.strip.cols * W;
    float rowCount = 1.f;
    if (MODE == WindowMode::Avg)
      rowCount = windowCount(oy, g.sh, g.ph, g.kh, g.h, p.padBottom, p.countIncludePad);
    for (int64_t ox0 = 0; ox0 < g.ow; ox0 += W) {
      const int nt = static_cast<int>(minI(W, g.ow - ox0));
      const float* base = rowBase + ox0 * colStep;
      V acc[W];
      for (int j = 0; j < W; ++j)
        acc[j] = init;
#pragma GCC unroll 9
      for (int64_t t = 0; t < taps; ++t) {
        const float* at = base + tapOffset[t];
        if constexpr (MODE == WindowMode::Max) {
          for (int j = 0; j < W; ++j)
            acc[j] = I::max(acc[j], I::load(at + j * colStep));
        } else if constexpr (MODE == WindowMode::Avg) {
          for (int j = 0; j < W; ++j)
            acc[j] = I::add(acc[j], I::load(at + j * colStep));
        } else {
          const V w = I::load(weights + t * W);
          for (int j = 0; j < W; ++j)
            acc[j] = I::fma(w, I::load(at + j * colStep), acc[j]);
        }
      }
      if constexpr (MODE == WindowMode::Avg)
        for (int j = 0; j < nt; ++j) {
          const float count =
              rowCount * windowCount(ox0 + j, g.sw, g.pw, g.kw, g.w, p.padRight, p.countIncludePad);
          // An empty window averages to 0, as in the reference.
          acc[j] = I::div(acc[j], I::set1(count > 1.f ? count : 1.f));
        }
      if (ACT >= 0)
        storeLanesFull<ACT, BLOCKED>(acc, nt, yc + (oy * g.ow + ox0) * posStep, ld, bias, fast);
      else
        storeLanes(acc, p.channels, nt, out, p.channel, oy * g.ow + ox0, fast, bias, p.ep);
    }
  }
}

// windowStripRows with the store inlined where it can be (see there): depthwise windows whose
// epilogue is fast, with no activation or the common ones (relu, clip, hardswish), and pooling
// with no epilogue, whose block is full. The other activations keep the call: a template per
// activation and mode cost 240 KB of code.
template <WindowMode MODE, int TAPS, int ACT>
inline void windowRowsAct(const WindowBlock& p, const float* strip, const float* weights,
                          const int64_t* tapOffset, int64_t taps, int64_t oyBegin, int64_t oyEnd,
                          const FastEpilogue& fast, V bias) {
  if (p.yBlock)
    windowStripRows<MODE, TAPS, ACT, true>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd, fast,
                                           bias);
  else
    windowStripRows<MODE, TAPS, ACT, false>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd,
                                            fast, bias);
}

template <WindowMode MODE, int TAPS>
inline void windowRows(const WindowBlock& p, const float* strip, const float* weights,
                       const int64_t* tapOffset, int64_t taps, int64_t oyBegin, int64_t oyEnd,
                       const FastEpilogue& fast, V bias) {
  if constexpr (MODE != WindowMode::Depthwise) {
    // Pooling with no epilogue (the common case): stored inline too.
    if (!p.ep && p.channels == W && (!p.yBlock || p.yBlock == W)) {
      windowRowsAct<MODE, TAPS, 0>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd, fast, bias);
      return;
    }
  } else {
    if (fast.usable && p.channels == W && (!p.yBlock || p.yBlock == W)) switch (fast.act) {
      case 0:
        windowRowsAct<MODE, TAPS, 0>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd, fast,
                                     bias);
        return;
      case 1:
        windowRowsAct<MODE, TAPS, 1>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd, fast,
                                     bias);
        return;
      case 2:
        windowRowsAct<MODE, TAPS, 2>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd, fast,
                                     bias);
        return;
      case 3:
        windowRowsAct<MODE, TAPS, 3>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd, fast,
                                     bias);
        return;
      default: break;
      }
  }
  windowStripRows<MODE, TAPS, -1, false>(p, strip, weights, tapOffset, taps, oyBegin, oyEnd, fast,
                                         bias);
}

// The weights of the block's channels as [taps][W] (depthwise) and each tap's offset in a strip
// of p.strip.cols columns, at `weights` (taps * W floats, then taps int64).
template <WindowMode MODE> inline const int64_t* windowTaps(const WindowBlock& p, float* weights) {
  const ConvGeometry& g = p.g;
  const int64_t taps = g.kh * g.kw;
  auto* tapOffset = reinterpret_cast<int64_t*>(weights + taps * W);
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t kx = 0; kx < g.kw; ++kx)
      tapOffset[ky * g.kw + kx] = (ky * g.dh * p.strip.cols + kx * g.dw) * W;
  if (MODE == WindowMode::Depthwise)
    for (int64_t t = 0; t < taps; ++t)
      for (int l = 0; l < W; ++l)
        weights[t * W + l] = l < p.channels ? p.weight[l * taps + t] : 0.f;
  return tapOffset;
}

template <WindowMode MODE>
inline void windowStripPass(const WindowBlock& p, const float* strip, const float* weights,
                            const int64_t* tapOffset, int64_t oy, int64_t oyEnd) {
  const int64_t taps = p.g.kh * p.g.kw;
  const FastEpilogue fast = decode(p.ep);
  const V bias = fast.rowAdd ? loadUpTo(fast.rowAdd + p.channel, p.channels) : I::zero();
  if (taps == 9)
    windowRows<MODE, 9>(p, strip, weights, tapOffset, taps, oy, oyEnd, fast, bias);
  else
    windowRows<MODE, 0>(p, strip, weights, tapOffset, taps, oy, oyEnd, fast, bias);
}

// Output rows from p.oy0 that read a blocked input in place (its plane of W lanes per position
// is a strip already): none unless every window lies inside the input (no padding); then those
// whose reads, the tail tile's positions past the row included, stay inside the block's plane.
inline int64_t windowRowsInPlace(const WindowBlock& p) {
  const ConvGeometry& g = p.g;
  const int64_t window = (g.kh - 1) * g.dh + 1, windowW = (g.kw - 1) * g.dw + 1;
  if (g.block != W || g.ph != 0 || g.pw != 0 || (g.oh - 1) * g.sh + window > g.h ||
      (g.ow - 1) * g.sw + windowW > g.w)
    return 0;
  const int64_t lastCol = ((g.ow + W - 1) / W * W - 1) * g.sw + windowW - 1;
  // Rows oy with ((oy * sh + window - 1) * w + lastCol) < h * w.
  const int64_t fits = g.h * g.w - lastCol - 1 - (window - 1) * g.w; // >= oy * sh * w
  if (fits < 0) return 0;
  return minI(p.oy1, fits / (g.sh * g.w) + 1) - p.oy0;
}

template <WindowMode MODE> inline void windowBlock(const WindowBlock& p) {
  const ConvGeometry& g = p.g;
  const WindowStrip& s = p.strip;
  float* strip = p.scratch;
  float* weights = strip + s.inRows * s.cols * W;
  int64_t oy0 = p.oy0;
  if (const int64_t inPlace = windowRowsInPlace(p); inPlace > 0) {
    // The input as the strip: its rows g.w columns long (no copy: a third of a max pool's time).
    WindowBlock q = p;
    q.strip.cols = g.w;
    const int64_t* offsets = windowTaps<MODE>(q, p.scratch);
    windowStripPass<MODE>(q, g.x + oy0 * g.sh * g.w * W, p.scratch, offsets, oy0, oy0 + inPlace);
    oy0 += inPlace;
    if (oy0 >= p.oy1) return;
  }
  const int64_t* tapOffset = windowTaps<MODE>(p, weights);
  const float pad = MODE == WindowMode::Max ? -__builtin_inff() : 0.f;
  const int64_t window = (g.kh - 1) * g.dh + 1;
  for (int64_t oy = oy0; oy < p.oy1; oy += s.rows) {
    const int64_t oyEnd = minI(p.oy1, oy + s.rows);
    fillStrip(p, oy * g.sh - g.ph, (oyEnd - oy - 1) * g.sh + window, pad, strip);
    windowStripPass<MODE>(p, strip, weights, tapOffset, oy, oyEnd);
  }
}

// Depthwise over a strip the caller filled: p.strip.cols columns of W lanes per input row, from
// input row oy0 * sh - ph, the padding in place; output rows oy0..oy1 in one pass. p.scratch:
// the weights and tap offsets (taps * W + 2 * taps floats).
inline void windowDepthwiseFilled(const WindowBlock& p, const float* strip) {
  const int64_t* tapOffset = windowTaps<WindowMode::Depthwise>(p, p.scratch);
  windowStripPass<WindowMode::Depthwise>(p, strip, p.scratch, tapOffset, p.oy0, p.oy1);
}

inline void window(const WindowBlock& p) {
  switch (p.mode) {
  case WindowMode::Max: windowBlock<WindowMode::Max>(p); break;
  case WindowMode::Avg: windowBlock<WindowMode::Avg>(p); break;
  case WindowMode::Depthwise: windowBlock<WindowMode::Depthwise>(p); break;
  }
}

// One post-op over n elements of a row, src -> dst (which may be src), its kind a compile-time
// constant so the loop is straight vector code. OPERAND: 0 none (a unary), 1 a broadcast value,
// 2 an array along the row.
template <int OPERAND, typename F>
inline void rowLoop(const float* src, const float* operand, V value, float* dst, int64_t n, F f) {
  int64_t i = 0;
  for (; i + W <= n; i += W)
    I::store(dst + i, f(I::load(src + i), OPERAND == 2 ? I::load(operand + i) : value));
  if (i < n) {
    const int valid = static_cast<int>(n - i);
    const V b = OPERAND == 2 ? I::loadPartial(operand + i, valid) : value;
    I::storePartial(dst + i, f(I::loadPartial(src + i, valid), b), valid);
  }
}

template <int KIND, int OPERAND>
inline void rowBinary(bool operandFirst, const float* src, const float* operand, V value,
                      float* dst, int64_t n) {
  if (operandFirst)
    rowLoop<OPERAND>(src, operand, value, dst, n,
                     [](V v, V b) { return binary(static_cast<uint8_t>(KIND), b, v); });
  else
    rowLoop<OPERAND>(src, operand, value, dst, n,
                     [](V v, V b) { return binary(static_cast<uint8_t>(KIND), v, b); });
}

template <int OPERAND>
inline void rowBinaryKind(uint8_t kind, bool operandFirst, const float* src, const float* operand,
                          V value, float* dst, int64_t n) {
  using B = kinds::Binary;
  switch (static_cast<B>(kind)) {
#define TESSEL_BINARY(name, str)                                                                   \
  case B::name:                                                                                    \
    if constexpr (B::name <= B::Pow) /* the kinds a post-op may carry */                           \
      rowBinary<static_cast<int>(B::name), OPERAND>(operandFirst, src, operand, value, dst, n);    \
    return;
#include "tessel/core/binary.def"
#undef TESSEL_BINARY
  }
}

inline void rowUnary(uint8_t kind, float alpha, float beta, const float* src, float* dst,
                     int64_t n) {
  using U = kinds::Unary;
  switch (static_cast<U>(kind)) {
#define TESSEL_UNARY(name, str)                                                                    \
  case U::name:                                                                                    \
    rowLoop<0>(src, nullptr, I::zero(), dst, n, [alpha, beta](V v, V) {                            \
      return unary(static_cast<uint8_t>(U::name), v, alpha, beta);                                 \
    });                                                                                            \
    return;
#include "tessel/core/unary.def"
#undef TESSEL_UNARY
  }
}

// Whether op reads an operand laid out along the row that epilogueRow can address as an array.
inline bool rowArrayOperand(const EpilogueOp& op) {
  return op.spread == Spread::Column || (op.spread == Spread::Full && op.block == 0);
}

// y[i] = ep(x[i]) for the n elements of row `row` from column col. Op by op over chunks that
// stay in L1, each op's kind switched once per chunk (the per-vector interpreter, epilogue(), cost
// PP-OCR a fifth of its time in elementwise primitives). A program whose later ops read a Full
// operand keeps the per-element order (that operand may be the input computed in place).
inline void epilogueRow(const float* x, float* y, int64_t n, const Epilogue& ep, int64_t row,
                        int64_t col) {
  bool byOp = true; // a Full operand only in the first op, and laid out plainly
  for (int k = 0; k < ep.count; ++k)
    byOp = byOp && (!ep.ops[k].isBinary || ep.ops[k].spread != Spread::Full ||
                    (k == 0 && ep.ops[k].block == 0));
  if (!byOp) {
    int64_t i = 0;
    for (; i + W <= n; i += W)
      I::store(y + i, epilogue(I::load(x + i), ep, row, col + i, W));
    if (i < n) {
      const int valid = static_cast<int>(n - i);
      I::storePartial(y + i, epilogue(I::loadPartial(x + i, valid), ep, row, col + i, valid),
                      valid);
    }
    return;
  }
  if (ep.count == 0) {
    if (x != y)
      for (int64_t i = 0; i < n; ++i)
        y[i] = x[i];
    return;
  }
  constexpr int64_t kChunk = 2048; // 8 KiB
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t len = minI(kChunk, n - c0);
    const float* src = x + c0;
    for (int k = 0; k < ep.count; ++k, src = y + c0) {
      const EpilogueOp& op = ep.ops[k];
      if (!op.isBinary) {
        rowUnary(op.op, op.alpha, op.beta, src, y + c0, len);
      } else if (rowArrayOperand(op)) {
        const float* operand =
            op.spread == Spread::Column ? op.data + col + c0 : op.data + row * op.ld + col + c0;
        rowBinaryKind<2>(op.op, op.operandFirst, src, operand, I::zero(), y + c0, len);
      } else {
        const V value = I::set1(op.spread == Spread::Scalar ? op.data[0] : op.data[row]);
        rowBinaryKind<1>(op.op, op.operandFirst, src, nullptr, value, y + c0, len);
      }
    }
  }
}

inline void transposeEpilogue(const float* x, int64_t ldx, int64_t n, int64_t o0, int64_t o1,
                              const LaneOutput& out, int64_t col0, const Epilogue* ep) {
  const FastEpilogue fast = decode(ep);
  // The last channels of a blocked output: their block's padded lanes too (zeros).
  const int64_t end =
      out.block && o1 == out.channels ? (o1 + out.block - 1) / out.block * out.block : o1;
  for (int64_t ob = o0; ob < end; ob += W) {
    const int channels = static_cast<int>(ob < o1 ? minI(W, o1 - ob) : 0);
    const V bias = fast.rowAdd ? loadUpTo(fast.rowAdd + ob, channels) : I::zero();
    const bool full = fast.usable && channels == W && (!out.block || out.block == W);
    float* const yc = out.y + laneOffset(out.block, out.plane, ob, 0); // channel ob, position 0
    for (int64_t i0 = 0; i0 < n; i0 += W) {
      const int positions = static_cast<int>(minI(W, n - i0));
      V v[W];
      if (full && positions == W) { // the common case inline (see storeLanesFull)
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i)
          v[i] = I::load(x + (i0 + i) * ldx + (ob - o0));
        if (out.block)
          storeLanesFull<-1, true>(v, W, yc + (col0 + i0) * out.block, out.block, bias, fast);
        else
          storeLanesFull<-1, false>(v, W, yc + col0 + i0, out.plane, bias, fast);
        continue;
      }
      for (int i = 0; i < W; ++i)
        v[i] = i < positions ? loadUpTo(x + (i0 + i) * ldx + (ob - o0), channels) : I::zero();
      storeLanes(v, channels, positions, out, ob, col0 + i0, fast, bias, ep);
    }
  }
}
