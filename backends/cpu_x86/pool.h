#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

// Max and average pooling on plain NCHW through the window kernel (channels in the
// vector lanes, a block of channels and a run of rows per task).
std::unique_ptr<PreparedKernel> preparePool(const KernelTable& table, const PrepareArgs& args);

} // namespace tessel::x86
