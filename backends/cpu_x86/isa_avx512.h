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
  // p[0], p[2], ..., p[2W - 2]: reads 2W floats
  static V loadEven(const float* p) {
    const __m512i idx =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p + 16));
  }
  // r[i][j] <- r[j][i] for the 16 x 16 matrix whose rows are r[0..15]: 4 x 4 transposes
  // inside each 128-bit lane, then two rounds of lane shuffles.
  __attribute__((always_inline)) static inline void transpose(V* r) {
    V u[16];
    for (int g = 0; g < 4; ++g) {
      const V t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
      const V t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
      const V t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
      const V t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
      // u[4g + m], 128-bit lane L: column 4L + m of rows 4g..4g+3
      u[4 * g] = _mm512_shuffle_ps(t0, t2, 0x44);
      u[4 * g + 1] = _mm512_shuffle_ps(t0, t2, 0xEE);
      u[4 * g + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
      u[4 * g + 3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    }
    for (int m = 0; m < 4; ++m) {
      const V a = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88); // lanes 0, 2 of rows 0-7
      const V b = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD); // lanes 1, 3
      const V c = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
      const V d = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
      r[m] = _mm512_shuffle_f32x4(a, c, 0x88);
      r[8 + m] = _mm512_shuffle_f32x4(a, c, 0xDD);
      r[4 + m] = _mm512_shuffle_f32x4(b, d, 0x88);
      r[12 + m] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
  }
  // a where cond (all ones) else b
  static V blendMask(V cond, V a, V b) {
    const __mmask16 m = _mm512_movepi32_mask(_mm512_castps_si512(cond));
    return _mm512_mask_blend_ps(m, b, a);
  }
};

} // namespace tessel::x86
