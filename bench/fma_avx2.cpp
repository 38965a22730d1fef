// The avx2 half of tessel_fma_peak: 12 independent FMA chains in registers, enough to cover
// the latency of every FMA pipe. Compiled with this family's flags only.
#include <immintrin.h>

static volatile float fmaPeakSink;
static volatile float fmaPeakSeed = 0.5f;

#define TESSEL_FMA12(x, y)                                                                         \
  a0 = _mm256_fmadd_ps(a0, x, y), a1 = _mm256_fmadd_ps(a1, x, y), a2 = _mm256_fmadd_ps(a2, x, y),  \
  a3 = _mm256_fmadd_ps(a3, x, y), a4 = _mm256_fmadd_ps(a4, x, y), a5 = _mm256_fmadd_ps(a5, x, y),  \
  a6 = _mm256_fmadd_ps(a6, x, y), a7 = _mm256_fmadd_ps(a7, x, y), a8 = _mm256_fmadd_ps(a8, x, y),  \
  a9 = _mm256_fmadd_ps(a9, x, y), a10 = _mm256_fmadd_ps(a10, x, y),                                \
  a11 = _mm256_fmadd_ps(a11, x, y)

double fmaPeakAvx2(long iterations) {
  // Distinct starting values from a volatile: the compiler may neither merge the chains nor
  // fold them.
  const float seed = fmaPeakSeed;
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 1), a2 = _mm256_set1_ps(seed + 2),
         a3 = _mm256_set1_ps(seed + 3), a4 = _mm256_set1_ps(seed + 4),
         a5 = _mm256_set1_ps(seed + 5), a6 = _mm256_set1_ps(seed + 6),
         a7 = _mm256_set1_ps(seed + 7), a8 = _mm256_set1_ps(seed + 8),
         a9 = _mm256_set1_ps(seed + 9), a10 = _mm256_set1_ps(seed + 10),
         a11 = _mm256_set1_ps(seed + 11);
  const __m256 x = _mm256_set1_ps(fmaPeakSeed * 1.998f), y = _mm256_set1_ps(fmaPeakSeed * 2e-4f);
  for (long i = 0; i < iterations; ++i) {
    TESSEL_FMA12(x, y);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  fmaPeakSink = out[0];
  return 2.0 * 8 * 12 * static_cast<double>(iterations);
}
