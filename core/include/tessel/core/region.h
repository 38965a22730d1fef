// Region: one strided 3-D copy, the unit of every raster primitive (see ARCHITECTURE.md).
#pragma once

#include "tessel/core/status.h"

#include <array>
#include <cstdint>
#include <vector>

namespace tessel {

struct RegionView {
  int64_t offset = 0;              // in elements
  std::array<int64_t, 3> stride{}; // in elements, outermost first
  bool operator==(const RegionView&) const = default;
};

// dst[dst.offset + i*dst.stride[0] + j*dst.stride[1] + k*dst.stride[2]] =
// src_{source}[src.offset + i*src.stride[0] + ...] for (i, j, k) < size.
struct Region {
  int32_t source = 0; // which raster input the elements come from
  RegionView src;
  RegionView dst;
  std::array<int64_t, 3> size{1, 1, 1};
  bool operator==(const Region&) const = default;
};

// Smallest and largest element index a view reaches over `size` (meaningless for an empty
// view: skip those); false if a size is negative or the arithmetic overflows.
bool viewRange(const RegionView& v, const std::array<int64_t, 3>& size, int64_t* lo, int64_t* hi);

// Whether a view walks its `size` elements one after another from its offset.
bool viewContiguous(const RegionView& v, const std::array<int64_t, 3>& size);

// Checks that every element a region touches lies inside [0, srcCount) and [0, dstCount).
Status checkRegionBounds(const Region& r, int64_t srcCount, int64_t dstCount);

// Checks that bounds-checked regions write every one of dstCount elements (a raster without a
// fill: otherwise its output would keep whatever the arena held). Exact up to kCoverBitmapLimit
// elements (a bitmap); larger outputs must be dense, disjoint regions. Regions writing more than
// 8 times the output are refused (a run would do that work).
inline constexpr int64_t kCoverBitmapLimit = int64_t{1} << 28;
Status checkRegionsCover(const std::vector<Region>& regions, int64_t dstCount);

// True when bounds-checked regions write no destination element twice, shown cheaply (sorting,
// not pairs): their destinations form dense blocks (regions differing only in offset taken
// together, as the cover check does) that do not overlap. False says nothing either way.
bool regionsWriteOnceDense(const std::vector<Region>& regions);

// Number of int64 values one region flattens to (MLIR attribute and tests use this form).
inline constexpr int kRegionFlatSize = 12;
std::vector<int64_t> flattenRegions(const std::vector<Region>& regions);
Result<std::vector<Region>> unflattenRegions(const std::vector<int64_t>& flat);

} // namespace tessel
