#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

// Max and average pooling, plain NCHW or blocked, through the window kernel (channels in the
// vector lanes, a block of channels and a run of rows per task).
std::unique_ptr<PreparedKernel> preparePool(const KernelTable& table, const PrepareArgs& args);

// The scratch bytes its kernel needs per run at `threads` threads (PreparedKernel::workspaceBytes).
int64_t poolWorkspaceBytes(const KernelTable& table, const Primitive& p,
                           const std::vector<TensorDesc>& tensors, int threads);

// The window kernel's work in lane-FMAs with the tensors' layouts (the same model as a depthwise
// convolution's in conv.cpp).
double poolLaneFmas(const KernelTable& table, const Primitive& p,
                    const std::vector<TensorDesc>& tensors);

} // namespace tessel::x86
