#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

bool matmulSupported(const MatMulParams& p);
std::unique_ptr<PreparedKernel> prepareMatMul(const KernelTable& table, const PrepareArgs& args);

} // namespace tessel::x86
