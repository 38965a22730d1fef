#include "tessel/decompose/raster_fusion.h"

#include <cstdlib>

namespace tessel::decompose {
namespace {

// True when the view walks a dense row-major block of `size` starting at 0.
bool isDenseFromZero(const RegionView& v, const std::array<int64_t, 3>& size) {
  if (v.offset != 0) return false;
  int64_t expect = 1;
  for (int i = 2; i >= 0; --i) {
    if (size[i] > 1 && v.stride[i] != expect) return false;
    expect *= size[i];
  }
  return true;
}

int64_t volume(const std::array<int64_t, 3>& s) {
  return s[0] * s[1] * s[2];
}

} // namespace

bool isIdentityRaster(const RasterParams& r, int64_t srcCount, int64_t dstCount) {
  if (r.fill || r.regions.size() != 1 || srcCount != dstCount) return false;
  const Region& g = r.regions[0];
  return g.source == 0 && volume(g.size) == dstCount && isDenseFromZero(g.dst, g.size) &&
         isDenseFromZero(g.src, g.size);
}

std::optional<std::vector<Region>> composeRegions(const RasterParams& producer,
                                                  int64_t producerCount,
                                                  const RasterParams& consumer,
                                                  int32_t consumerSource) {
  if (producer.fill || producer.regions.size() != 1) return std::nullopt;
  const Region& p = producer.regions[0];
  if (volume(p.size) != producerCount || !isDenseFromZero(p.dst, p.size)) return std::nullopt;
  const std::array<int64_t, 3> dense{p.size[1] * p.size[2], p.size[2], 1};

  std::vector<Region> out;
  out.reserve(consumer.regions.size());
  for (Region c : consumer.regions) {
    if (c.source != consumerSource) {
      out.push_back(c);
      continue;
    }
    if (volume(c.size) == 0) continue;
    // Where the consumer starts, as a producer index.
    std::array<int64_t, 3> start{};
    int64_t rest = c.src.offset;
    if (rest < 0 || rest >= producerCount) return std::nullopt;
    for (int d = 0; d < 3; ++d) {
      start[d] = rest / dense[d];
      rest %= dense[d];
    }
    std::array<int64_t, 3> hi = start, lo = start;
    RegionView src;
    for (int i = 0; i < 3; ++i) {
      const int64_t s = c.src.stride[i];
      if (c.size[i] == 1 || s == 0) {
        src.stride[i] = 0;
        continue;
      }
      int mapped = -1;
      for (int d = 2; d >= 0 && mapped < 0; --d)
        if (std::llabs(s) % dense[d] == 0 && std::llabs(s) / dense[d] < p.size[d]) mapped = d;
      if (mapped < 0) return std::nullopt;
      const int64_t q = s / dense[mapped];
      (q > 0 ? hi : lo)[mapped] += (c.size[i] - 1) * q;
      src.stride[i] = q * p.src.stride[mapped];
    }
    for (int d = 0; d < 3; ++d)
      if (lo[d] < 0 || hi[d] >= p.size[d]) return std::nullopt;
    src.offset = p.src.offset;
    for (int d = 0; d < 3; ++d)
      src.offset += start[d] * p.src.stride[d];
    c.source = consumerSource;
    c.src = src;
    out.push_back(c);
  }
  return out;
}

namespace {

struct Block {
  int64_t begin, end; // producer elements [begin, end)
  Region region;      // the producer region writing it
};

// The smallest and largest source index a region reads.
std::pair<int64_t, int64_t> srcSpan(const Region& r) {
  int64_t lo = r.src.offset, hi = r.src.offset;
  for (int i = 0; i < 3; ++i) {
    const int64_t reach = (r.size[i] - 1) * r.src.stride[i];
    (reach > 0 ? hi : lo) += reach;
  }
  return {lo, hi};
}

const Block* blockOf(const std::vector<Block>& blocks, const Region& r) {
  const auto [lo, hi] = srcSpan(r);
  for (const Block& b : blocks)
    if (lo >= b.begin && hi < b.end) return &b;
  return nullptr;
}

// `c` (reading the producer) split into pieces that each lie within one block: itself, or its
// slices along the first dim that makes every slice fit. Empty when none does.
std::vector<Region> piecesWithinBlocks(const std::vector<Block>& blocks, const Region& c,
                                       size_t budget) {
  if (blockOf(blocks, c)) return {c};
  for (int d = 0; d < 3; ++d) {
    if (c.size[d] <= 1 || static_cast<size_t>(c.size[d]) > budget) continue;
    std::vector<Region> pieces;
    for (int64_t j = 0; j < c.size[d]; ++j) {
      Region piece = c;
      piece.size[d] = 1;
      piece.src.offset += j * c.src.stride[d];
      piece.dst.offset += j * c.dst.stride[d];
      if (!blockOf(blocks, piece)) break;
      pieces.push_back(piece);
    }
    if (pieces.size() == static_cast<size_t>(c.size[d])) return pieces;
  }
  return {};
}

} // namespace

std::optional<std::vector<Region>>
composeThroughBlocks(const RasterParams& producer, int64_t producerCount,
                     const RasterParams& consumer, int32_t consumerSource,
                     const std::vector<int32_t>& sourceIndex, size_t maxRegions) {
  if (producer.fill || producer.regions.empty()) return std::nullopt;
  std::vector<Block> blocks;
  int64_t covered = 0;
  for (const Region& r : producer.regions) {
    const int64_t n = volume(r.size);
    if (n == 0) continue;
    RegionView zero = r.dst;
    zero.offset = 0;
    if (!isDenseFromZero(zero, r.size) || r.dst.offset < 0 || r.dst.offset + n > producerCount ||
        r.source < 0 || static_cast<size_t>(r.source) >= sourceIndex.size())
      return std::nullopt;
    blocks.push_back({r.dst.offset, r.dst.offset + n, r});
    covered += n;
  }
  if (covered != producerCount) return std::nullopt;
  for (size_t i = 0; i < blocks.size(); ++i)
    for (size_t j = i + 1; j < blocks.size(); ++j)
      if (blocks[i].begin < blocks[j].end && blocks[j].begin < blocks[i].end) return std::nullopt;

  std::vector<Region> out;
  for (const Region& c : consumer.regions) {
    if (c.source != consumerSource) {
      out.push_back(c);
      continue;
    }
    if (volume(c.size) == 0) continue;
    const std::vector<Region> pieces =
        piecesWithinBlocks(blocks, c, maxRegions > out.size() ? maxRegions - out.size() : 0);
    if (pieces.empty()) return std::nullopt;
    for (Region piece : pieces) {
      const Block& b = *blockOf(blocks, piece);
      // The block as a one-region producer of its own elements.
      RasterParams single;
      single.regions = {b.region};
      single.regions[0].source = 0;
      single.regions[0].dst.offset = 0;
      piece.src.offset -= b.begin;
      piece.source = 0;
      RasterParams one;
      one.regions = {piece};
      auto composed = composeRegions(single, b.end - b.begin, one, 0);
      if (!composed || composed->size() != 1) return std::nullopt;
      Region r = (*composed)[0];
      r.source = sourceIndex[b.region.source];
      out.push_back(r);
    }
    if (out.size() > maxRegions) return std::nullopt;
  }
  return out;
}

} // namespace tessel::decompose
