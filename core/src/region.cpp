#include "tessel/core/region.h"

#include "tessel/core/checked_math.h"

#include <string>

namespace tessel {
namespace {

// Smallest and largest element index a view reaches over `size`; false if a size is negative.
bool viewRange(const RegionView& v, const std::array<int64_t, 3>& size, int64_t* lo, int64_t* hi) {
  *lo = *hi = v.offset;
  for (int i = 0; i < 3; ++i) {
    if (size[i] < 0) return false;
    if (size[i] == 0) return true;
    int64_t reach = 0;
    if (!checkedMulAdd(size[i] - 1, v.stride[i], &reach)) return false;
    if (__builtin_add_overflow(reach > 0 ? *hi : *lo, reach, reach > 0 ? hi : lo)) return false;
  }
  return true;
}

} // namespace

Status checkRegionBounds(const Region& r, int64_t srcCount, int64_t dstCount) {
  if (r.size[0] == 0 || r.size[1] == 0 || r.size[2] == 0) return Status::ok();
  // A destination element is written at most once per region: more is a repeat, not a copy.
  int64_t volume = 0;
  if (!checkedProduct({r.size[0], r.size[1], r.size[2]}, &volume) || volume > dstCount)
    return corrupt("region copies more elements than its destination holds");
  int64_t lo = 0, hi = 0;
  if (!viewRange(r.src, r.size, &lo, &hi) || lo < 0 || hi >= srcCount)
    return corrupt("region reads outside its source (" + std::to_string(srcCount) + " elements)");
  if (!viewRange(r.dst, r.size, &lo, &hi) || lo < 0 || hi >= dstCount)
    return corrupt("region writes outside its destination (" + std::to_string(dstCount) +
                   " elements)");
  return Status::ok();
}

std::vector<int64_t> flattenRegions(const std::vector<Region>& regions) {
  std::vector<int64_t> flat;
  flat.reserve(regions.size() * kRegionFlatSize);
  for (const Region& r : regions) {
    flat.push_back(r.source);
    flat.push_back(r.src.offset);
    flat.insert(flat.end(), r.src.stride.begin(), r.src.stride.end());
    flat.push_back(r.dst.offset);
    flat.insert(flat.end(), r.dst.stride.begin(), r.dst.stride.end());
    flat.insert(flat.end(), r.size.begin(), r.size.end());
  }
  return flat;
}

Result<std::vector<Region>> unflattenRegions(const std::vector<int64_t>& flat) {
  if (flat.size() % kRegionFlatSize != 0)
    return corrupt("region list length " + std::to_string(flat.size()) + " is not a multiple of " +
                   std::to_string(kRegionFlatSize));
  std::vector<Region> regions(flat.size() / kRegionFlatSize);
  for (size_t i = 0; i < regions.size(); ++i) {
    const int64_t* f = &flat[i * kRegionFlatSize];
    Region& r = regions[i];
    if (f[0] < 0 || f[0] > (1 << 20)) return corrupt("region source index out of range");
    r.source = static_cast<int32_t>(f[0]);
    r.src.offset = f[1];
    r.src.stride = {f[2], f[3], f[4]};
    r.dst.offset = f[5];
    r.dst.stride = {f[6], f[7], f[8]};
    r.size = {f[9], f[10], f[11]};
  }
  return regions;
}

} // namespace tessel
