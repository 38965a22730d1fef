#pragma once

#include "driver.h"

#include <memory>
#include <optional>
#include <span>

namespace tessel::x86 {

// One kernel for a chain of primitives (Backend::prepareChain), or null when none applies.
// Kernels: a pointwise convolution followed by a depthwise one (an inverted residual block's
// expand and depthwise halves), run in bands of rows so the expanded tensor never leaves the
// cache. Every primitive of the chain is supported on its own (the caller checks). Whether it
// runs fused is the search's choice (BackendDescriptor::chainCandidate).
// Whether a chain of these primitives' kinds could be one kernel (a cheap look before the
// backend checks each primitive it runs): a 1x1 convolution into a depthwise one.
bool mayChain(std::span<const PrepareArgs> chain);
// The fused kernel for these primitives as they are laid out, if there is one (weights taken as
// constant: the candidate's constantInputs say which must be), and, for a chain it offers one
// for (the caller asks first), its cost model's work in lane-FMAs (conv.cpp's units).
std::optional<KernelCandidate> chainCandidate(const KernelTable& table,
                                              std::span<const Primitive* const> chain,
                                              const std::vector<TensorDesc>& tensors);
double chainLaneFmas(const KernelTable& table, std::span<const Primitive* const> chain,
                     const std::vector<TensorDesc>& tensors, int threads);
// The fused kernel's scratch per run at `threads` threads (its PreparedKernel::workspaceBytes);
// 0 for a chain chainCandidate offers none for.
int64_t chainWorkspaceBytes(const KernelTable& table, std::span<const Primitive* const> chain,
                            const std::vector<TensorDesc>& tensors, int threads);
std::unique_ptr<PreparedKernel> prepareChain(const KernelTable& table,
                                             std::span<const PrepareArgs> chain);

} // namespace tessel::x86
