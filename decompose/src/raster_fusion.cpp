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

} // namespace tessel::decompose
