// Turns an N-D strided copy into the fewest 3-D regions: the one place rasters are built from
// shapes, used by every movement rule (transpose, slice, concat, pad, resize, broadcast).
#pragma once

#include "tessel/core/region.h"
#include "tessel/core/tensor_desc.h"

#include <vector>

namespace tessel::decompose {

struct StridedView {
  int64_t offset = 0;
  Shape strides; // one per dim of the copied shape, in elements
};

// The most regions one raster may hold: a rule that would emit more (a Tile, a Gather or a
// resize phase per region past it) fails, naming the count, before building them (a 200-byte
// model once asked the converter for gigabytes of regions).
inline constexpr size_t kMaxRasterRegions = size_t{1} << 18;

// Appends regions copying every index of `shape` from src to dst (source index `source`);
// refused, appending nothing, when the raster would pass kMaxRasterRegions.
Status appendStridedCopy(std::vector<Region>* regions, int32_t source, const StridedView& src,
                         const StridedView& dst, const Shape& shape);

} // namespace tessel::decompose
