// Measures the fp32 FMA peak of one core for each x86 ISA family this CPU runs, in GFLOP/s:
// the ceiling kernel efficiencies are judged against, measured in the same run as they are.
// Usage: tessel_fma_peak  -> "avx2 <gflops>" and, where the CPU has it, "avx512 <gflops>"
#include <chrono>
#include <cpuid.h>
#include <cstdio>

double fmaPeakAvx2(long iterations);
double fmaPeakAvx512(long iterations);

namespace {

bool hasAvx512() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & (1u << 16)) && (b & (1u << 17));
}

bool hasAvx2() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 12))) return false;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 5));
}

template <typename F> double best(F f) {
  double top = 0;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double flops = f(20'000'000);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (flops / dt.count() > top) top = flops / dt.count();
  }
  return top / 1e9;
}

} // namespace

int main() {
  if (hasAvx2()) std::printf("avx2 %.1f\n", best(fmaPeakAvx2));
  if (hasAvx512()) std::printf("avx512 %.1f\n", best(fmaPeakAvx512));
  return 0;
}
