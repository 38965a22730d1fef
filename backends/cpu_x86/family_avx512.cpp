// The AVX-512 family: kernels_impl.h with 16-lane vectors and a 12 x 32 microkernel. Compiled
// with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma; called only after cpuid says so.
#include "isa_avx2.h"
#include "isa_avx512.h"
#include "kernel_table.h"

#include <cstdint>

namespace tessel::x86 {
namespace avx512_family {
using I = Avx512;
#include "kernels_impl.h"
} // namespace avx512_family

const KernelTable& avx512Kernels() {
  static_assert(avx512_family::I::W == kAvx512Shape.vectorWidth);
  static const KernelTable table =
      avx512_family::makeTable<kAvx512Shape.mr, kAvx512Shape.nv>(kAvx512Shape.family);
  return table;
}

} // namespace tessel::x86
