// Reductions and the FMA probe of the cpu_x86 kernels.
// Part of the cpu_x86 kernels: included by kernels_impl.h inside a family's namespace (see there).

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
