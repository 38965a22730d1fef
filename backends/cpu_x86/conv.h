#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

// conv2d kernel ids (KernelChoice::id); 0 lets the cost model choose.
enum class ConvVariant : uint32_t { Auto = 0, Gemm = 1, Winograd = 2, Depthwise = 3 };

bool convSupported(const Conv2dParams& p, const std::vector<const TensorDesc*>& tensors);
std::unique_ptr<PreparedKernel> prepareConv(const KernelTable& table, const PrepareArgs& args);

} // namespace tessel::x86
