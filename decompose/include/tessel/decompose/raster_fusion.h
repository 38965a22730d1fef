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

// The same for a producer with several regions, each writing one contiguous block of its output
// (a concat; the regions cover the output exactly once): every consumer region reading the
// producer, whole or split along one of its dims, must lie within single blocks; each piece is
// composed with its block's region and reads that region's source, renumbered through
// `sourceIndex` (producer source -> consumer source index). Pieces are capped at `maxRegions`.
std::optional<std::vector<Region>>
composeThroughBlocks(const RasterParams& producer, int64_t producerCount,
                     const RasterParams& consumer, int32_t consumerSource,
                     const std::vector<int32_t>& sourceIndex, size_t maxRegions = 256);

} // namespace tessel::decompose
