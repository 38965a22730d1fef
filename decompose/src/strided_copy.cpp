#include "tessel/decompose/strided_copy.h"

namespace tessel::decompose {

Status appendStridedCopy(std::vector<Region>* regions, int32_t source, const StridedView& src,
                         const StridedView& dst, const Shape& shape) {
  // Callers check their shapes; an overflowing one here is refused, never multiplied below.
  TESSEL_RETURN_IF_ERROR(elementCount(shape).status());
  Shape size, ss, ds;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return Status::ok();
    if (shape[i] == 1) continue;
    // Merge with the previous kept dim when both views are contiguous across the pair.
    int64_t srcSpan = 0, dstSpan = 0;
    if (!size.empty() && !__builtin_mul_overflow(src.strides[i], shape[i], &srcSpan) &&
        !__builtin_mul_overflow(dst.strides[i], shape[i], &dstSpan) && ss.back() == srcSpan &&
        ds.back() == dstSpan) {
      size.back() *= shape[i];
      ss.back() = src.strides[i];
      ds.back() = dst.strides[i];
      continue;
    }
    size.push_back(shape[i]);
    ss.push_back(src.strides[i]);
    ds.push_back(dst.strides[i]);
  }
  while (size.size() < 3) {
    size.insert(size.begin(), 1);
    ss.insert(ss.begin(), 0);
    ds.insert(ds.begin(), 0);
  }
  const size_t lead = size.size() - 3;
  // One region per index of the leading dims: counted before any is built.
  size_t count = 1;
  for (size_t i = 0; i < lead; ++i) {
    if (static_cast<size_t>(size[i]) > kMaxRasterRegions ||
        count * static_cast<size_t>(size[i]) > kMaxRasterRegions)
      return unsupported("a raster of more than " + std::to_string(kMaxRasterRegions) +
                         " regions (a copy this rule cannot express compactly)");
    count *= static_cast<size_t>(size[i]);
  }
  if (regions->size() + count > kMaxRasterRegions)
    return unsupported("a raster of more than " + std::to_string(kMaxRasterRegions) +
                       " regions (a copy this rule cannot express compactly)");
  Shape idx(lead, 0);
  while (true) {
    Region r;
    r.source = source;
    r.src.offset = src.offset;
    r.dst.offset = dst.offset;
    for (size_t i = 0; i < lead; ++i) {
      r.src.offset += idx[i] * ss[i];
      r.dst.offset += idx[i] * ds[i];
    }
    for (int i = 0; i < 3; ++i) {
      r.size[i] = size[lead + i];
      r.src.stride[i] = ss[lead + i];
      r.dst.stride[i] = ds[lead + i];
    }
    regions->push_back(r);
    size_t d = lead;
    while (d > 0) {
      if (++idx[d - 1] < size[d - 1]) break;
      idx[d - 1] = 0;
      --d;
    }
    if (d == 0) return Status::ok();
  }
}

} // namespace tessel::decompose
