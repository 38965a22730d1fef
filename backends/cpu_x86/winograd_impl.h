// Winograd F(4,3) transforms of the cpu_x86 kernels.
// Part of the cpu_x86 kernels: included by kernels_impl.h inside a family's namespace (see there).

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

// Winograd F(m x m, 3x3) with W channels in the lanes (WinogradLanesPlan): a tile's (m+2)^2
// inputs are vectors of the channel-transposed input (fillStrip), so the transforms run on full
// vectors whatever the tile count. F(2,3): B^T rows [1 0 -1 0] [0 1 1 0] [0 -1 1 0] [0 1 0 -1],
// A^T rows [1 1 1 0] [0 1 -1 -1]. F(4,3): as above.
namespace wlanes {
template <int M> inline void inputRows(const V* d, V* out) {
  if constexpr (M == 2) {
    out[0] = I::sub(d[0], d[2]);
    out[1] = I::add(d[1], d[2]);
    out[2] = I::sub(d[2], d[1]);
    out[3] = I::sub(d[1], d[3]);
  } else {
    const V four = I::set1(4.f), five = I::set1(5.f), two = I::set1(2.f);
    out[0] = I::add(I::sub(I::mul(four, d[0]), I::mul(five, d[2])), d[4]);
    const V a = I::sub(d[4], I::mul(four, d[2])), b = I::sub(d[3], I::mul(four, d[1]));
    out[1] = I::add(a, b);
    out[2] = I::sub(a, b);
    const V c = I::sub(d[4], d[2]), e = I::mul(two, I::sub(d[3], d[1]));
    out[3] = I::add(c, e);
    out[4] = I::sub(c, e);
    out[5] = I::add(I::sub(I::mul(four, d[1]), I::mul(five, d[3])), d[5]);
  }
}
template <int M> inline void outputRows(const V* m, V* out) {
  if constexpr (M == 2) {
    out[0] = I::add(I::add(m[0], m[1]), m[2]);
    out[1] = I::sub(I::sub(m[1], m[2]), m[3]);
  } else {
    const V a = I::add(m[1], m[2]), b = I::sub(m[1], m[2]);
    const V c = I::add(m[3], m[4]), d = I::sub(m[3], m[4]);
    out[0] = I::add(I::add(m[0], a), c);
    out[1] = I::fma(I::set1(2.f), d, b);
    out[2] = I::fma(I::set1(4.f), c, a);
    out[3] = I::add(I::fma(I::set1(8.f), d, b), m[5]);
  }
}

template <int M>
inline void input(const WinogradLanesPlan& p, int64_t c0, int channels, int64_t ty0, int64_t ty1,
                  float* strip) {
  constexpr int N = M + 2, P = N * N;
  WindowBlock b;
  b.g.x = p.x + c0 * p.h * p.w;
  b.g.h = p.h, b.g.w = p.w, b.g.pw = p.pw;
  b.channels = channels;
  b.strip.cols = p.tilesW * M + 2;
  const int64_t cols = b.strip.cols, tiles = p.tilesH * p.tilesW;
  fillStrip(b, ty0 * M - p.ph, (ty1 - ty0) * M + 2, 0.f, strip);
  for (int64_t ty = ty0; ty < ty1; ++ty)
    for (int64_t tx = 0; tx < p.tilesW; ++tx) {
      const float* at = strip + ((ty - ty0) * M * cols + tx * M) * W;
      V t[N][N];
      for (int col = 0; col < N; ++col) {
        V d[N], o[N];
        for (int r = 0; r < N; ++r)
          d[r] = I::load(at + (r * cols + col) * W);
        inputRows<M>(d, o);
        for (int r = 0; r < N; ++r)
          t[r][col] = o[r];
      }
      float* dst = p.v + (ty * p.tilesW + tx) * p.c + c0;
      for (int r = 0; r < N; ++r) {
        V o[N];
        inputRows<M>(t[r], o);
        for (int col = 0; col < N; ++col)
          storeUpTo(dst + (r * N + col) * tiles * p.c, o[col], channels);
      }
    }
  (void)P;
}

template <int M>
inline void output(const WinogradLanesPlan& p, int64_t o0, int channels, int64_t ty0, int64_t ty1) {
  constexpr int N = M + 2;
  const int64_t tiles = p.tilesH * p.tilesW, pointStride = tiles * p.o;
  for (int64_t ty = ty0; ty < ty1; ++ty)
    for (int64_t tx = 0; tx < p.tilesW; ++tx) {
      const float* src = p.mres + (ty * p.tilesW + tx) * p.o + o0;
      V t[M][N];
      for (int col = 0; col < N; ++col) {
        V d[N], out[M];
        for (int r = 0; r < N; ++r)
          d[r] = loadUpTo(src + (r * N + col) * pointStride, channels);
        outputRows<M>(d, out);
        for (int r = 0; r < M; ++r)
          t[r][col] = out[r];
      }
      for (int r = 0; r < M; ++r) {
        const int64_t oy = ty * M + r;
        if (oy >= p.oh) break;
        V out[M];
        outputRows<M>(t[r], out);
        for (int col = 0; col < M && tx * M + col < p.ow; ++col)
          storeUpTo(p.yt + (oy * p.ow + tx * M + col) * p.o + o0, out[col], channels);
      }
    }
}
} // namespace wlanes

inline void winogradLanesInput(const WinogradLanesPlan& p, int64_t c0, int channels, int64_t ty0,
                               int64_t ty1, float* scratch) {
  if (p.m == 2)
    wlanes::input<2>(p, c0, channels, ty0, ty1, scratch);
  else
    wlanes::input<4>(p, c0, channels, ty0, ty1, scratch);
}

inline void winogradLanesOutput(const WinogradLanesPlan& p, int64_t o0, int channels, int64_t ty0,
                                int64_t ty1) {
  if (p.m == 2)
    wlanes::output<2>(p, o0, channels, ty0, ty1);
  else
    wlanes::output<4>(p, o0, channels, ty0, ty1);
}
