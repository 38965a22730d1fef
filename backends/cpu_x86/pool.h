#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

// Max and average pooling on plain NCHW through the window kernel, one plane per task.
std::unique_ptr<PreparedKernel> preparePool(const KernelTable& table, const PrepareArgs& args);

} // namespace tessel::x86
