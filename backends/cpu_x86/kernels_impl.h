// The cpu_x86 kernels, written once against a vector type I (isa_avx2.h, isa_avx512.h) and
// compiled once per ISA family in its own translation unit (family_avx2.cpp, family_avx512.cpp),
// inside a namespace of that family. Only plain loops and intrinsics here: no standard-library
// code that could be emitted with the family's flags and then shared with baseline code.
// Included after: the family's ISA header and `using I = <ISA struct>;`.

// In dependency order (each part uses the ones before it).
#include "vector_math_impl.h"
// GEMM microkernels and packers.
#include "gemm_impl.h"
// Depthwise and pooling.
#include "window_impl.h"
// Winograd transforms.
#include "winograd_impl.h"
// Reductions, the FMA probe.
#include "reduce_impl.h"

// The table of this family: MR x NV*W microkernels.
template <int MR, int NV> KernelTable makeTable(IsaFamily family) {
  static_assert(MR <= kMaxMr, "GemmTile::aoff buffers hold kMaxMr rows");
  KernelTable t;
  t.family = family;
  t.fmaProbe = &fmaProbe;
  t.vectorWidth = W;
  t.mr = MR;
  t.nr = NV * W;
  t.gemm = &gemmDispatch<MR, NV, false>;
  t.gemmDirect = &gemmDispatch<MR, NV, true>;
  t.packB = &packB<NV * W>;
  t.packBConv = &packBConv<NV * W>;
  t.packAConv = &packBConv<MR>; // the same layout: [k][width] with width = mr
  t.packA = &packA<MR>;
  t.packABlocked = &packABlocked<MR>;
  t.window = &window;
  t.windowDepthwiseFilled = &windowDepthwiseFilled;
  t.epilogueRow = &epilogueRow;
  t.transposeEpilogue = &transposeEpilogue;
  t.reduceRows = &reduceRows;
  t.reduceColumns = &reduceColumns;
  t.winogradLanesInput = &winogradLanesInput;
  t.winogradLanesOutput = &winogradLanesOutput;
  return t;
}
