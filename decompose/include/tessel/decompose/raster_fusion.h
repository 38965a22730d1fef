// Algebra on rasters, MLIR-free: composing a raster that reads another raster's output, and
// recognising identity rasters (which become views). Used by the tessel-fuse-raster pass.
#pragma once

#include "tessel/core/primitive.h"

#include <optional>
#include <vector>

namespace tessel::decompose {

// A raster that copies all `count` elements of its single source in order: a view.
bool isIdentityRaster(const RasterParams& r, int64_t srcCount, int64_t dstCount);

// `consumer` reads (among other sources) the output of `producer`, a raster with one source, no
// fill, whose regions cover its output (`producerCount` elements) exactly once. Returns the
// consumer's regions rewritten to read the producer's source instead, for every region whose
// source is `consumerSource`, or nullopt when some region cannot be expressed that way.
std::optional<std::vector<Region>> composeRegions(const RasterParams& producer,
                                                  int64_t producerCount,
                                                  const RasterParams& consumer,
                                                  int32_t consumerSource);

} // namespace tessel::decompose
