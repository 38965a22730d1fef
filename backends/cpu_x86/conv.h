#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

bool convSupported(const Conv2dParams& p, const std::vector<const TensorDesc*>& tensors);
std::unique_ptr<PreparedKernel> prepareConv(const KernelTable& table, const PrepareArgs& args);

} // namespace tessel::x86
