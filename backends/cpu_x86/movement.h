#pragma once

#include "driver.h"

#include <memory>

namespace tessel::x86 {

// Rasters of any dtype and layout (regions copy runs with memcpy, broadcasts with fills) and f32
// reductions, split across the thread pool.
std::unique_ptr<PreparedKernel> prepareRaster(const KernelTable& table, const PrepareArgs& args);
// Gathers of any dtype: rows copied in parallel after every index is checked.
std::unique_ptr<PreparedKernel> prepareGather(const KernelTable& table, const PrepareArgs& args);
// Selects (Where) of any dtype: rows of the output split across the pool.
std::unique_ptr<PreparedKernel> prepareSelect(const KernelTable& table, const PrepareArgs& args);
// Reductions: plain tensors, or a 4-D input blocked in the family's vector width reduced over
// its planes (a global pooling) into a plain output (reduceLayoutsFit).
std::unique_ptr<PreparedKernel> prepareReduce(const KernelTable& table, const PrepareArgs& args);
bool reduceLayoutsFit(const KernelTable& table, const Primitive& p,
                      const std::vector<TensorDesc>& t);

} // namespace tessel::x86
