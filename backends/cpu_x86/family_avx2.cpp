// The AVX2 + FMA family: kernels_impl.h with 8-lane vectors and a 6 x 16 microkernel. Compiled
// with -mavx2 -mfma (backends/cpu_x86/CMakeLists.txt); called only after cpuid says so.
#include "isa_avx2.h"
#include "kernel_table.h"

#include <cstdint>

namespace tessel::x86 {
namespace avx2_family {
using I = Avx2;
#include "kernels_impl.h"
} // namespace avx2_family

const KernelTable& avx2Kernels() {
  static_assert(avx2_family::I::W == kAvx2Shape.vectorWidth);
  static const KernelTable table =
      avx2_family::makeTable<kAvx2Shape.mr, kAvx2Shape.nv>(kAvx2Shape.family);
  return table;
}

} // namespace tessel::x86
