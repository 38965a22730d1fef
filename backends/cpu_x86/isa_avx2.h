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
  static V blendMask(V cond, V a, V b) { return _mm256_blendv_ps(b, a, cond); }
};

} // namespace tessel::x86
