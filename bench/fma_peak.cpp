// Prints the fp32 FMA peak of one core for each cpu_x86 ISA family this CPU runs, in GFLOP/s, as
// the backend itself measures it (BackendDescriptor::measuredPeakFlops): the ceiling kernel
// efficiencies are judged against, measured in the same run as they are.
// Usage: tessel_fma_peak  -> "avx2 <gflops>" and, where the CPU has it, "avx512 <gflops>"
#include "tessel/backends/cpu_x86.h"

#include <cstdio>

int main() {
  for (const char* family : {"avx2", "avx512"}) {
    tessel::BackendRegistry registry;
    if (!tessel::registerCpuX86BackendFamily(registry, family)) continue;
    const tessel::Backend* b = registry.find("cpu_x86");
    std::printf("%s %.1f\n", family, b->descriptor().measuredPeakFlops() / 1e9);
  }
  return 0;
}
