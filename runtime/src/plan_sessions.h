// A plan timed in sessions against a variant of itself (internal; docs/search.md, Fused chains
// timed in a session, and Kernels decided in a session).
#pragma once

#include "tessel/runtime/prepared_model.h"
#include "tessel/runtime/profile_cache.h"

#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace tessel::detail {

// The chains `chains` (first primitive, count; disjoint, each with a fused kernel of its
// backend) timed in sessions: `model`'s plan (its kernels, layouts and the fused chains that
// overlap none of them) prepared twice, with `chains` fused and without, `runs` profiled runs of
// each in turn after one warm run of each. Per chain, the least times of its step and of the
// steps that read its output (search::outputReaders), fused (`first`), and of its primitives'
// steps and the same readers, unfused (`second`; zeros where the backend declined the fused
// kernel); a reader inside another of `chains` is left out (its step differs between the two).
// A kernel timed alone cannot see what it does to the kernel after it: mobilenet_v2's first
// pointwise-depthwise chain measured faster alone than its two kernels on one day and slower on
// another, while in a session it made the pointwise convolution after it 1.8x slower on the
// first and gained 0.2 ms on the second.
Result<std::vector<ProfileCache::SessionPair>>
timeChainsInSession(const PreparedModel& model, std::span<const std::pair<size_t, size_t>> chains,
                    const BackendRegistry& registry, const PrepareOptions& options, int runs);

// Another kernel for a primitive the plan runs alone (on the same backend, its operands laid
// out alike).
struct KernelSwap {
  size_t primitive = 0;
  KernelChoice choice;
};

// The swaps `swaps` (of primitives none of which reads another's output, nor shares a reader
// with another) timed in sessions: `model`'s plan prepared as it is and with every swap's
// kernel in place of the plan's, `runs` profiled runs of each in turn after one warm run of
// each. Per swap, the least times of the primitive's step and of the steps that read its output,
// with the plan's kernel (`first`) and with the swap's (`second`); zeros where the backend
// prepared another kernel than the one asked for.
Result<std::vector<ProfileCache::SessionPair>>
timeKernelsInSession(const PreparedModel& model, std::span<const KernelSwap> swaps,
                     const BackendRegistry& registry, const PrepareOptions& options, int runs);

} // namespace tessel::detail
