// Winograd F(2,3) and F(4,3) transforms of the cpu_x86 kernels.
// Part of the cpu_x86 kernels: included by kernels_impl.h inside a family's namespace (see there).

// Winograd F(m x m, 3x3) with W channels in the lanes (WinogradLanesPlan): a tile's (m+2)^2
// inputs are vectors of the channel-transposed input (fillStrip), so the transforms run on full
// vectors whatever the tile count. F(2,3): B^T rows [1 0 -1 0] [0 1 1 0] [0 -1 1 0] [0 1 0 -1],
// A^T rows [1 1 1 0] [0 1 -1 -1]. F(4,3): B^T rows [4 0 -5 0 1 0] [0 -4 -4 1 1 0]
// [0 4 -4 -1 1 0] [0 -2 -1 2 1 0] [0 2 -1 -2 1 0] [0 4 0 -5 0 1], A^T rows [1 1 1 1 1 0]
// [0 1 -1 2 -2 0] [0 1 1 4 4 0] [0 1 -1 8 -8 1].
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
  constexpr int N = M + 2;
  WindowBlock b;
  b.g.x = p.x + laneOffset(p.xBlock, p.h * p.w, c0, 0);
  b.g.block = p.xBlock;
  b.g.h = p.h, b.g.w = p.w, b.g.pw = p.pw;
  b.channels = channels;
  b.strip.cols = p.tilesW * M + 2;
  const int64_t cols = b.strip.cols, tiles = p.tiles;
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
      float* dst = p.v + ((ty - p.blockTy0) * p.tilesW + tx) * p.c + c0;
      for (int r = 0; r < N; ++r) {
        V o[N];
        inputRows<M>(t[r], o);
        for (int col = 0; col < N; ++col)
          storeUpTo(dst + (r * N + col) * tiles * p.c, o[col], channels);
      }
    }
}

template <int M>
inline void output(const WinogradLanesPlan& p, int64_t o0, int64_t o1, int64_t ty0, int64_t ty1) {
  constexpr int N = M + 2;
  const int64_t pointStride = p.tiles * p.o, row0 = p.blockTy0 * M;
  for (int64_t ty = ty0; ty < ty1; ++ty)
    for (int64_t tx = 0; tx < p.tilesW; ++tx)
      for (int64_t ob = o0; ob < o1; ob += W) {
        const int channels = static_cast<int>(minI(W, o1 - ob));
        const float* src = p.mres + ((ty - p.blockTy0) * p.tilesW + tx) * p.o + ob;
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
            storeUpTo(p.yt + ((oy - row0) * p.ow + tx * M + col) * p.o + ob, out[col], channels);
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

inline void winogradLanesOutput(const WinogradLanesPlan& p, int64_t o0, int64_t o1, int64_t ty0,
                                int64_t ty1) {
  if (p.m == 2)
    wlanes::output<2>(p, o0, o1, ty0, ty1);
  else
    wlanes::output<4>(p, o0, o1, ty0, ty1);
}
