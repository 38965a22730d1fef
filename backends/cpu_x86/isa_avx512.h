// 16-lane float vectors with AVX-512 F/DQ/BW/VL: the operations kernels_impl.h is written against.
#pragma once

#include <immintrin.h>

namespace tessel::x86 {

struct Avx512 {
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V loadPartial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void storePartial(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  static V neg(V a) { return _mm512_xor_ps(_mm512_set1_ps(-0.f), a); }
  static V round(V a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static V ge(V a, V b) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ),
                               _mm512_castsi512_ps(_mm512_set1_epi32(-1)));
  }
  static V pow2(V n) { return _mm512_scalef_ps(_mm512_set1_ps(1.f), n); }
  // a where cond (all ones) else b
  static V blendMask(V cond, V a, V b) {
    const __mmask16 m = _mm512_movepi32_mask(_mm512_castps_si512(cond));
    return _mm512_mask_blend_ps(m, b, a);
  }
};

} // namespace tessel::x86
