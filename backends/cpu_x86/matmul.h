#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

bool matmulSupported(const MatMulParams& p);
// The scratch bytes a matmul kernel needs per run (its PreparedKernel::workspaceBytes): a's
// panels of one batch, and b's panels unless b is constant (packed at load).
int64_t matmulWorkspaceBytes(const KernelTable& table, const MatMulParams& p, bool bConstant);
std::unique_ptr<PreparedKernel> prepareMatMul(const KernelTable& table, const PrepareArgs& args);

} // namespace tessel::x86
