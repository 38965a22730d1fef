// 8-lane float vectors with AVX2 + FMA: the operations kernels_impl.h is written against.
#pragma once

#include <immintrin.h>

namespace tessel::x86 {

struct Avx2 {
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V loadPartial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void storePartial(float* p, V v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
  static V neg(V a) { return _mm256_xor_ps(_mm256_set1_ps(-0.f), a); }
  static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // a where the sign bit of s is set, else b
  static V select(V s, V a, V b) { return _mm256_blendv_ps(b, a, s); }
  static V ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  // 2^n for integral-valued n in [-126, 127]
  static V pow2(V n) {
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  // p[0], p[2], ..., p[2W - 2]: reads 2W floats
  static V loadEven(const float* p) {
    const V t = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xD8));
  }
  // r[i][j] <- r[j][i] for the 8 x 8 matrix whose rows are r[0..7].
  __attribute__((always_inline)) static inline void transpose(V* r) {
    V u[8];
    for (int g = 0; g < 2; ++g) {
      const V t0 = _mm256_unpacklo_ps(r[4 * g], r[4 * g + 1]);
      const V t1 = _mm256_unpackhi_ps(r[4 * g], r[4 * g + 1]);
      const V t2 = _mm256_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
      const V t3 = _mm256_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
      // u[4g + m], 128-bit lane L: column 4L + m of rows 4g..4g+3
      u[4 * g] = _mm256_shuffle_ps(t0, t2, 0x44);
      u[4 * g + 1] = _mm256_shuffle_ps(t0, t2, 0xEE);
      u[4 * g + 2] = _mm256_shuffle_ps(t1, t3, 0x44);
      u[4 * g + 3] = _mm256_shuffle_ps(t1, t3, 0xEE);
    }
    for (int m = 0; m < 4; ++m) {
      r[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
      r[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
    }
  }
  static V blendMask(V cond, V a, V b) { return _mm256_blendv_ps(b, a, cond); }
};

} // namespace tessel::x86
