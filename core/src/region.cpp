#include "tessel/core/region.h"

#include "tessel/core/checked_math.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace tessel {

bool viewContiguous(const RegionView& v, const std::array<int64_t, 3>& size) {
  return (size[2] <= 1 || v.stride[2] == 1) && (size[1] <= 1 || v.stride[1] == size[2]) &&
         (size[0] <= 1 || v.stride[0] == size[1] * size[2]);
}

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

namespace {

// Marks [begin, begin + n) in a bitmap of 64-bit words.
void markRange(std::vector<uint64_t>& bits, int64_t begin, int64_t n) {
  for (int64_t i = begin, end = begin + n; i < end;) {
    const int64_t word = i / 64, bit = i % 64;
    const int64_t take = std::min<int64_t>(64 - bit, end - i);
    const uint64_t mask = take == 64 ? ~uint64_t{0} : ((uint64_t{1} << take) - 1) << bit;
    bits[static_cast<size_t>(word)] |= mask;
    i += take;
  }
}

// Marks begin, begin + stride, ... (n of them; stride > 0): a word at a time when the stride
// divides 64 (the phases of an upsampling raster), else element by element.
void markStrided(std::vector<uint64_t>& bits, int64_t begin, int64_t stride, int64_t n) {
  if (stride == 1) return markRange(bits, begin, n);
  if (64 % stride != 0) {
    for (int64_t k = 0; k < n; ++k) {
      const int64_t at = begin + k * stride;
      bits[static_cast<size_t>(at / 64)] |= uint64_t{1} << (at % 64);
    }
    return;
  }
  uint64_t pattern = 0; // bits 0, stride, 2 * stride, ... of a word
  for (int64_t b = 0; b < 64; b += stride)
    pattern |= uint64_t{1} << b;
  const int64_t last = begin + (n - 1) * stride;
  for (int64_t word = begin / 64; word <= last / 64; ++word) {
    // The positions of this word congruent to begin (mod stride), inside [begin, last].
    uint64_t mask = pattern << (begin % stride);
    if (word == begin / 64) mask &= ~uint64_t{0} << (begin % 64);
    if (word == last / 64 && last % 64 != 63) mask &= (uint64_t{1} << (last % 64 + 1)) - 1;
    bits[static_cast<size_t>(word)] |= mask;
  }
}

// Regions that differ only in their destination offset (the phases of an upsampling or a
// space-to-depth raster) form one block when the offsets are a product of arithmetic
// progressions: {0, 1, 160, 161} is {0, 1} + {0, 160}, two more axes (stride 1 and 160, two
// each). Returns the progressions' (step, count), innermost first, or false.
bool offsetAxes(std::vector<int64_t> offsets, std::vector<std::pair<int64_t, int64_t>>* axes) {
  while (offsets.size() > 1) {
    const int64_t step = offsets[1] - offsets[0];
    size_t run = 1;
    while (run < offsets.size() && offsets[run] == offsets[0] + static_cast<int64_t>(run) * step)
      ++run;
    if (offsets.size() % run != 0) return false;
    std::vector<int64_t> bases;
    for (size_t b = 0; b < offsets.size(); b += run) {
      for (size_t i = 0; i < run; ++i)
        if (offsets[b + i] != offsets[b] + static_cast<int64_t>(i) * step) return false;
      bases.push_back(offsets[b]);
    }
    axes->emplace_back(step, static_cast<int64_t>(run));
    offsets = std::move(bases);
  }
  return true;
}

// The output spans of regions grouped into dense blocks (each element of a block reached once,
// the block spanning exactly its volume), or false when the regions are not such blocks.
bool denseSpans(const std::vector<Region>& regions,
                std::vector<std::pair<int64_t, int64_t>>* spans) {
  // Dense: the axes of more than one element, by stride, each exactly as long as the ones
  // inside it (so no element is reached twice), spanning exactly the volume. `axes` holds the
  // axes of the offsets (none for one region); [lo, hi] grows by the walk's reach.
  using Axes = std::vector<std::pair<int64_t, int64_t>>; // stride, size
  Axes axes;                                             // reused by every block
  const Axes kNoPhases;
  const auto block = [&](const std::array<int64_t, 3>& size, const std::array<int64_t, 3>& stride,
                         const Axes& phases, int64_t lo, int64_t hi) {
    axes.assign(phases.begin(), phases.end());
    for (int a = 0; a < 3; ++a) {
      if (size[a] > 1) axes.emplace_back(stride[a], size[a]);
      hi += (size[a] - 1) * stride[a];
    }
    std::sort(axes.begin(), axes.end());
    int64_t inner = 1;
    for (const auto& [s, n] : axes) {
      if (s != inner) return false;
      inner *= n;
    }
    if (hi - lo + 1 != inner) return false;
    spans->emplace_back(lo, hi);
    return true;
  };
  // Each region's destination walked forwards (a negative stride from its other end), grouped
  // by sizes and strides. Grouping is a linear search over at most a few dozen groups (the
  // phases of one raster); regions past them are blocks of their own.
  constexpr size_t kMaxGroups = 64;
  struct Walk {
    std::array<int64_t, 3> size, stride;
    std::vector<int64_t> offsets;
  };
  std::vector<Walk> walks;
  for (const Region& r : regions) {
    if (r.size[0] * r.size[1] * r.size[2] == 0) continue;
    std::array<int64_t, 3> stride = r.dst.stride;
    int64_t offset = r.dst.offset;
    for (int a = 0; a < 3; ++a) {
      if (r.size[a] == 1) stride[a] = 0; // an axis of one element walks nowhere
      if (stride[a] < 0) {
        offset += (r.size[a] - 1) * stride[a];
        stride[a] = -stride[a];
      }
    }
    auto same = [&](const Walk& w) { return w.size == r.size && w.stride == stride; };
    auto it = std::find_if(walks.begin(), walks.end(), same);
    if (it != walks.end()) {
      it->offsets.push_back(offset);
    } else if (walks.size() < kMaxGroups) {
      walks.push_back(Walk{r.size, stride, {offset}});
    } else if (!block(r.size, stride, kNoPhases, offset, offset)) {
      return false;
    }
  }
  // A group as one block (its offsets a product of progressions); failing that (regions apart,
  // not interleaved), each region as a block of its own.
  for (Walk& w : walks) {
    std::vector<int64_t>& offsets = w.offsets;
    std::sort(offsets.begin(), offsets.end());
    Axes phases;
    if (offsets.size() > 1 && offsetAxes(offsets, &phases) &&
        block(w.size, w.stride, phases, offsets.front(), offsets.back()))
      continue;
    for (int64_t offset : offsets)
      if (!block(w.size, w.stride, kNoPhases, offset, offset)) return false;
  }
  return true;
}

} // namespace

bool regionsWriteOnceDense(const std::vector<Region>& regions) {
  std::vector<std::pair<int64_t, int64_t>> spans;
  if (!denseSpans(regions, &spans)) return false;
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first <= spans[i - 1].second) return false;
  return true;
}

Status checkRegionsCover(const std::vector<Region>& regions, int64_t dstCount) {
  if (dstCount <= 0) return Status::ok();
  // Regions are bounds-checked already (each volume <= dstCount, so no sum below overflows).
  int64_t total = 0;
  for (const Region& r : regions)
    total += r.size[0] * r.size[1] * r.size[2];
  const auto of = [&] { return " of its " + std::to_string(dstCount) + " output elements"; };
  if (total < dstCount)
    return corrupt("raster without fill writes at most " + std::to_string(total) + of());
  // The check walks what a run walks: a raster writing its output many times over is refused.
  if (total / 8 > dstCount)
    return corrupt("raster regions write " + std::to_string(total) +
                   " elements, more than 8 times" + of());
  // First as dense, disjoint blocks that add up (cheap: a run over the regions, not the
  // elements); failing that, a bitmap of the elements, for outputs small enough for one.
  std::vector<std::pair<int64_t, int64_t>> spans;
  Status dense = Status::ok();
  if (!denseSpans(regions, &spans))
    dense = unsupported("raster without fill over " + std::to_string(dstCount) +
                        " elements: its cover cannot be verified (a region is not dense)");
  if (dense.isOk()) {
    std::sort(spans.begin(), spans.end());
    int64_t next = 0;
    for (const auto& [lo, hi] : spans) {
      if (lo != next) {
        dense = corrupt("raster without fill leaves output element " + std::to_string(next) +
                        " unwritten or writes it twice");
        break;
      }
      next = hi + 1;
    }
    if (dense.isOk() && next != dstCount)
      dense = corrupt("raster without fill leaves its last elements unwritten");
    if (dense.isOk()) return dense;
  }
  if (dstCount > kCoverBitmapLimit) return dense; // too large for a bitmap
  std::vector<uint64_t> bits(static_cast<size_t>((dstCount + 63) / 64), 0);
  for (const Region& r : regions) {
    if (r.size[0] == 0 || r.size[1] == 0 || r.size[2] == 0) continue;
    for (int64_t i = 0; i < r.size[0]; ++i)
      for (int64_t j = 0; j < r.size[1]; ++j) {
        const int64_t row = r.dst.offset + i * r.dst.stride[0] + j * r.dst.stride[1];
        const int64_t step = r.dst.stride[2], n = r.size[2];
        if (step > 0)
          markStrided(bits, row, step, n);
        else if (step < 0)
          markStrided(bits, row + (n - 1) * step, -step, n);
        else
          markStrided(bits, row, 1, 1);
      }
  }
  for (int64_t w = 0; w < static_cast<int64_t>(bits.size()); ++w) {
    const int64_t valid = std::min<int64_t>(64, dstCount - w * 64);
    const uint64_t full = valid == 64 ? ~uint64_t{0} : (uint64_t{1} << valid) - 1;
    if (bits[static_cast<size_t>(w)] != full)
      return corrupt(
          "raster without fill leaves output element " +
          std::to_string(w * 64 + __builtin_ctzll(~bits[static_cast<size_t>(w)] & full)) +
          " unwritten" + " (" + std::to_string(dstCount) + " elements)");
  }
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
