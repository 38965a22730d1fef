#pragma once

#include "driver.h"

#include <memory>
#include <span>

namespace tessel::x86 {

// One kernel for a chain of primitives (Backend::prepareChain), or null when none applies or
// it would not pay. Kernels: a pointwise convolution followed by a depthwise one (an inverted
// residual block's expand and depthwise halves), run in bands of rows so the expanded tensor
// never leaves the cache. Every primitive of the chain is supported on its own (the caller
// checks).
// Whether a chain of these primitives' kinds could be one kernel (a cheap look before the
// backend checks each primitive it runs): a 1x1 convolution into a depthwise one.
bool mayChain(std::span<const PrepareArgs> chain);
std::unique_ptr<PreparedKernel> prepareChain(const KernelTable& table,
                                             std::span<const PrepareArgs> chain);

} // namespace tessel::x86
