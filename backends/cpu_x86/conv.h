#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

// conv2d kernel ids (KernelChoice::id); 0 lets the cost model choose.
// GemmTransposed puts output channels in the vector lanes and output positions in the rows:
// for small outputs (7x7) whose positions fill few lanes. WinogradLanes2/4 are Winograd F(2,3) /
// F(4,3) the same way round: channels in the lanes of the transforms and of the GEMMs, tiles in
// the rows, for outputs of few tiles.
enum class ConvVariant : uint32_t {
  Auto = 0,
  Gemm = 1,
  Winograd = 2,
  Depthwise = 3,
  GemmTransposed = 4,
  WinogradLanes2 = 5,
  WinogradLanes4 = 6,
};

bool convSupported(const Conv2dParams& p, const std::vector<const TensorDesc*>& tensors);
std::unique_ptr<PreparedKernel> prepareConv(const KernelTable& table, const PrepareArgs& args);

} // namespace tessel::x86
