// Fused chains timed in sessions (internal; docs/search.md, Fused chains timed in a session).
#pragma once

#include "tessel/runtime/prepared_model.h"
#include "tessel/runtime/profile_cache.h"

#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace tessel::detail {

// The fused chains `chains` (first primitive, count) of `model` timed in sessions: the model as
// planned against the same plan with those chains' primitives unfused (the same kernels,
// layouts and other chains, prepared here), `runs` profiled runs of each in turn after one warm
// run of each. Per chain, the least times of its step and of the steps that read its output
// (search::outputReaders), fused, and of its primitives' steps and the same readers, unfused; a
// reader inside another of `chains` is left out (its step differs between the two). A kernel
// timed alone cannot see what it does to the kernel after it: mobilenet_v2's first fused
// pointwise-depthwise chain measured faster alone than its two kernels, and in a session it
// made the pointwise convolution after it 1.8x slower.
Result<std::vector<ProfileCache::ChainSession>>
timeChainsInSession(const std::shared_ptr<const PreparedModel>& model,
                    std::span<const std::pair<size_t, size_t>> chains,
                    const BackendRegistry& registry, const PrepareOptions& options, int runs);

} // namespace tessel::detail
