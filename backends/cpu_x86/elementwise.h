#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

// unary, binary (when one operand is dense like the output and the other a scalar, a channel
// vector or dense) and elementwise primitives, all as a post-op program over one input.
bool elementwiseSupported(const Primitive& p, const std::vector<TensorDesc>& tensors);
std::unique_ptr<PreparedKernel> prepareElementwise(const KernelTable& table,
                                                   const PrepareArgs& args);

} // namespace tessel::x86
