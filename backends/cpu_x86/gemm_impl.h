// The GEMM microkernels and the panel packers of the cpu_x86 kernels.
// Part of the cpu_x86 kernels: included by kernels_impl.h inside a family's namespace (see there).

// Where one tile of a run (GemmTile::panels) goes: its C, residual and epilogue coordinates.
struct TilePlace {
  float* c;
  const float* residual;
  int64_t row0, col0;
};

// acc += the first nv vectors of each row of a tile laid out like C (row r at p + r * ldc, vector
// j at + j * cv): C itself when accumulating over K blocks, or a residual.
template <int ROWS, int NV>
__attribute__((always_inline)) inline void addLaidOutLikeC(V (&acc)[ROWS][NV], const float* p,
                                                           int64_t ldc, int64_t cv, int nv) {
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j)
    if (j < nv)
#pragma GCC unroll 16
      for (int r = 0; r < ROWS; ++r)
        acc[r][j] = I::add(acc[r][j], I::load(p + r * ldc + j * cv));
}

// Stores a full-width tile with a fast epilogue (ACT its activation) as straight-line code, the
// accumulators staying in registers. Phase by phase over the whole tile: one branch per optional
// part of the epilogue, not one per vector, and the tile's fields read once into locals (a vector
// store may alias anything, so fields read between stores would be read again).
template <int ROWS, int NV, int ACT>
__attribute__((always_inline)) inline void storeTile(V (&acc)[ROWS][NV], const GemmTile& t,
                                                     const TilePlace& at, const FastEpilogue& f,
                                                     int nv) {
  float* const c = at.c;
  const int64_t ldc = t.ldc, cv = t.ldcv ? t.ldcv : W;
  if (t.accumulate) addLaidOutLikeC(acc, c, ldc, cv, nv);
  if (f.colAdd) {
    const float* add = f.colAdd + at.col0;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      if (j < nv) {
        const V b = I::load(add + j * W);
#pragma GCC unroll 16
        for (int r = 0; r < ROWS; ++r)
          acc[r][j] = I::add(acc[r][j], b);
      }
  }
  if (f.rowAdd) {
    const float* add = f.rowAdd + at.row0;
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      const V a = I::set1(add[r]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[r][j] = I::add(acc[r][j], a);
    }
  }
  if (f.residual) addLaidOutLikeC(acc, at.residual, ldc, cv, nv);
  if (ACT)
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[r][j] = activate<ACT>(acc[r][j], f);
  if (f.affine) {
    const V scale = I::set1(f.scale), shift = I::set1(f.shift);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[r][j] = I::fma(acc[r][j], scale, shift);
  }
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j)
    if (j < nv)
#pragma GCC unroll 16
      for (int r = 0; r < ROWS; ++r)
        I::store(c + r * ldc + j * cv, acc[r][j]);
}

// storeTile with the activation dispatched (a switch, not a lambda: the accumulators must not
// escape to memory).
template <int ROWS, int NV>
__attribute__((always_inline)) inline void storeTileFast(V (&acc)[ROWS][NV], const GemmTile& t,
                                                         const TilePlace& at, const FastEpilogue& f,
                                                         int nv) {
  switch (f.act) {
  case 1: storeTile<ROWS, NV, 1>(acc, t, at, f, nv); break;
  case 2: storeTile<ROWS, NV, 2>(acc, t, at, f, nv); break;
  case 3: storeTile<ROWS, NV, 3>(acc, t, at, f, nv); break;
  case 4: storeTile<ROWS, NV, 4>(acc, t, at, f, nv); break;
  case 5: storeTile<ROWS, NV, 5>(acc, t, at, f, nv); break;
  default: storeTile<ROWS, NV, 0>(acc, t, at, f, nv); break;
  }
}

// Stores rows x (nv vectors) of accumulators from acc (ld floats per row) into the tile's C with
// any epilogue, for partial tiles.
__attribute__((noinline)) inline void storeTileAny(const float* acc, int64_t ld, int rows, int nv,
                                                   const GemmTile& t, const TilePlace& at,
                                                   const FastEpilogue& fast) {
  const int64_t cv = t.ldcv ? t.ldcv : W;
  for (int r = 0; r < rows; ++r) {
    float* c = at.c + r * t.ldc;
    for (int j = 0; j < nv; ++j) {
      const int valid = t.cols - j * W >= W ? W : t.cols - j * W;
      if (valid <= 0) break;
      V v = I::load(acc + r * ld + j * W);
      if (t.accumulate) v = I::add(v, loadUpTo(c + j * cv, valid));
      if (fast.usable) {
        if (fast.colAdd) v = I::add(v, loadUpTo(fast.colAdd + at.col0 + j * W, valid));
        if (fast.rowAdd) v = I::add(v, I::set1(fast.rowAdd[at.row0 + r]));
        if (fast.residual) v = I::add(v, loadUpTo(at.residual + r * t.ldc + j * cv, valid));
        v = fastEpilogue(v, fast);
      } else {
        v = epilogue(v, *t.ep, at.row0 + r, at.col0 + j * W, valid);
      }
      if (t.ldcv) // a block of a blocked tensor: whole, its padded channels zero
        I::store(c + j * cv, valid == W ? v : I::blendMask(laneMask(valid), v, I::zero()));
      else
        storeUpTo(c + j * cv, v, valid);
    }
  }
}

// One k step of a tile: acc += a (ROWS values, row r at ak[at(r)]) x b (NV vectors).
template <int ROWS, int NV, typename At>
__attribute__((always_inline)) inline void fmaStep(V (&acc)[ROWS][NV], const float* ak, At at,
                                                   const float* b) {
  V bv[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j)
    bv[j] = I::load(b + j * W);
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) {
    const V av = I::set1(ak[at(r)]);
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      acc[r][j] = I::fma(av, bv[j], acc[r][j]);
  }
}

// C[ROWS x NV*W] (+)= A * B panel. A packed (DIRECT false): row r, column k at a[k * lda + r]
// (lda = MR when 0); DIRECT: the input read in place, a[koff[k] + r * ars] (a direct convolution
// over a padded input: k = (c, ky, kx), rows = output positions of one row). Only rows < ROWS
// of a are read. One tile, or t.panels of them (GemmTile::panels).
template <int ROWS, int NV, bool DIRECT> void gemmTileImpl(const GemmTile& t, int64_t mr) {
  constexpr int NR = NV * W;
  // Decoded before the loop: nothing but the tile's stores runs while the accumulators are live.
  const FastEpilogue fast = decode(t.ep, t.columnEpilogue, t.residual != nullptr);
  const int64_t ldb = t.ldb ? t.ldb : NR, lda = t.lda ? t.lda : mr;
  const float *a = t.a, *b0 = t.b;
  TilePlace at{t.c, t.residual, t.row0, t.col0}; // this panel's
  for (int panel = 0; panel < t.panels; ++panel) {
    V acc[ROWS][NV];
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[r][j] = I::zero();
    // The k loop, step(k, b) one k step; with GemmTile::prefetchB (first tile of the call) the
    // next B panel's row fetched per step.
    const auto kLoop = [&](auto&& step) {
      const float* b = b0;
      if (panel == 0 && t.prefetchB) {
        const char* next = reinterpret_cast<const char*>(t.prefetchB);
        for (int64_t k = 0; k < t.kc; ++k, b += ldb, next += ldb * 4) {
#pragma GCC unroll 4
          for (int line = 0; line < NR * 4; line += 64)
            _mm_prefetch(next + line, _MM_HINT_T1);
          step(k, b);
        }
      } else {
        for (int64_t k = 0; k < t.kc; ++k, b += ldb)
          step(k, b);
      }
    };
    if (!DIRECT) {
      const auto packed = [](int r) { return r; };
      kLoop([&](int64_t k, const float* b) { fmaStep<ROWS, NV>(acc, a + k * lda, packed, b); });
    } else if (t.aoff) {
      int64_t off[ROWS]; // the rows' offsets, held in registers
#pragma GCC unroll 16
      for (int r = 0; r < ROWS; ++r)
        off[r] = t.aoff[r];
      const auto offsets = [&off](int r) { return off[r]; };
      kLoop([&](int64_t k, const float* b) { fmaStep<ROWS, NV>(acc, a + t.koff[k], offsets, b); });
    } else {
      const int64_t ars = t.ars;
      const auto strided = [ars](int r) { return r * ars; };
      if (t.koff)
        kLoop(
            [&](int64_t k, const float* b) { fmaStep<ROWS, NV>(acc, a + t.koff[k], strided, b); });
      else
        kLoop([&](int64_t k, const float* b) { fmaStep<ROWS, NV>(acc, a + k, strided, b); });
    }
    // The dispatcher picked ROWS = the tile's rows, so every row is stored; the common case (a
    // full-width tile with a fast epilogue) stays in registers.
    // Tiles one vector short (24 channels in panels of 16) the same way, their last vector
    // unstored.
    if (fast.usable && (t.cols == NR || (NV > 1 && t.cols == NR - W))) {
      storeTileFast<ROWS, NV>(acc, t, at, fast, t.cols == NR ? NV : NV - 1);
    } else {
      // Everything else (partial tiles, other epilogues) from a copy in memory, so the common
      // path above keeps the accumulators in registers.
      alignas(64) float spilled[ROWS][NV * W];
#pragma GCC unroll 16
      for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
          I::store(spilled[r] + j * W, acc[r][j]);
      storeTileAny(&spilled[0][0], NV * W, ROWS, NV, t, at, fast);
    }
    a += t.aStep;
    b0 += t.bStep;
    at.c += t.cStep;
    if (at.residual) at.residual += t.cStep;
    at.row0 += t.rowStep;
    at.col0 += t.colStep;
  }
}

// The tile kernel for t.rows rows: ROWS counts down from MR to the tile's rows.
template <int MR, int NV, bool DIRECT, int ROWS = MR> void gemmDispatch(const GemmTile& t) {
  if (t.rows <= 0) return;
  if constexpr (ROWS == MR && NV > 1) {
    // Full tiles one vector wide (16 output channels in a panel of 32) by a kernel of one vector
    // per row, which does not multiply the panel's zero lanes; its B rows are the panel's.
    if (t.cols <= W && t.rows == MR) {
      GemmTile narrow = t;
      if (!narrow.ldb) narrow.ldb = NV * W;
      gemmTileImpl<MR, 1, DIRECT>(narrow, MR);
      return;
    }
  }
  if constexpr (ROWS == 1) {
    gemmTileImpl<1, NV, DIRECT>(t, MR);
  } else {
    if (t.rows >= ROWS)
      gemmTileImpl<ROWS, NV, DIRECT>(t, MR);
    else
      gemmDispatch<MR, NV, DIRECT, ROWS - 1>(t);
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

// ceil(n / s) for n > 0 without a division for the common strides (a division per run of
// columns costs more than the copy).
inline int64_t ceilDivStride(int64_t n, int64_t s) {
  return s == 1 ? n : s == 2 ? (n + 1) >> 1 : (n + s - 1) / s;
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
          const int lo = ix0 >= 0 ? 0 : static_cast<int>(minI(run, ceilDivStride(-ix0, g.sw)));
          const int hi =
              g.w - ix0 <= 0 ? lo : static_cast<int>(minI(run, ceilDivStride(g.w - ix0, g.sw)));
          int q = 0;
          for (; q < lo; ++q)
            dst[j + q] = 0.f;
          if (g.sw == 2) {
            // whole vectors of even columns while their 2W-float loads stay inside the row
            for (; q + W <= hi && ix0 + 2 * (q + W) <= g.w; q += W)
              I::store(dst + j + q, I::loadEven(row + ix0 + 2 * q));
            for (; q < hi; ++q)
              dst[j + q] = row[ix0 + 2 * q];
          } else
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

// One A panel (kc x MR) from a blocked input: rows = positions p0..p0+rows of grid, columns
// k = channels k0..k0+kc (k0 at a block boundary), block b at x + b * blockStride, input
// position q at + q * W. Each block's rows x W floats are transposed in registers.
template <int MR>
void packABlocked(const float* x, int64_t blockStride, const PositionGrid& grid, int64_t p0,
                  int rows, int64_t k0, int64_t kc, float* dst) {
  static_assert(MR <= W, "a panel row is one vector");
  int64_t at[MR]; // each row's offset in a block, found once for every block
  int64_t oy = p0 / grid.cols, ox = p0 % grid.cols;
  for (int r = 0; r < rows; ++r) {
    at[r] = (oy * grid.rowStep + ox * grid.colStep) * W;
    if (++ox == grid.cols) {
      ox = 0;
      ++oy;
    }
  }
  for (int64_t kb = 0; kb < kc; kb += W) {
    const float* src = x + (k0 + kb) / W * blockStride;
    V v[W];
    for (int r = 0; r < W; ++r)
      v[r] = r < rows ? I::load(src + at[r]) : I::zero();
    I::transpose(v); // v[c]: channel c of the positions
    const int64_t n = minI(W, kc - kb);
    float* d = dst + kb * MR;
    // Whole vectors overlapping the next channel's row, the last one only its MR floats.
    for (int64_t c = 0; c < n; ++c)
      if (kb + c + 1 < kc)
        I::store(d + c * MR, v[c]);
      else
        storeUpTo(d + c * MR, v[c], MR);
  }
}

template <int MR>
void packA(const float* src, int64_t rs, int64_t ks, int64_t m0, int rows, int64_t k0, int64_t kc,
           float* dst) {
  static_assert(MR <= W, "a panel row is one vector");
  if (rs == 1 && kc > 0) {
    // The rows of a panel are consecutive floats (a pointwise convolution's positions): one
    // masked load per k, stored as a whole vector that the next k's store overlaps, the last k
    // only its MR floats.
    const float* s = src + m0 + k0 * ks;
    for (int64_t k = 0; k < kc - 1; ++k, s += ks, dst += MR)
      I::store(dst, I::loadPartial(s, rows));
    storeUpTo(dst, I::loadPartial(s, rows), MR);
    return;
  }
  for (int64_t k = 0; k < kc; ++k, dst += MR)
    for (int r = 0; r < MR; ++r)
      dst[r] = r < rows ? src[(m0 + r) * rs + (k0 + k) * ks] : 0.f;
}
