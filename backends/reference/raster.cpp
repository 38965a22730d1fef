#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace tessel::reference {
namespace {

template <typename T> void copyRegion(const Region& r, const void* src, void* dst) {
  if (r.size[0] == 0 || r.size[1] == 0 || r.size[2] == 0) return;
  const T* s = static_cast<const T*>(src);
  T* d = static_cast<T*>(dst);
  for (int64_t i = 0; i < r.size[0]; ++i)
    for (int64_t j = 0; j < r.size[1]; ++j)
      for (int64_t k = 0; k < r.size[2]; ++k)
        d[r.dst.offset + i * r.dst.stride[0] + j * r.dst.stride[1] + k * r.dst.stride[2]] =
            s[r.src.offset + i * r.src.stride[0] + j * r.src.stride[1] + k * r.src.stride[2]];
}

} // namespace

Status runRaster(const RasterParams& p, Inputs in, const TensorView& out) {
  const size_t elem = dtypeSize(out.desc->dtype);
  const int64_t count = out.desc->numel();
  if (p.fill) {
    uint8_t value[8];
    storeDouble(out.desc->dtype, *p.fill, value);
    auto* d = static_cast<uint8_t*>(out.data);
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(d + i * elem, value, elem);
  }
  for (const Region& r : p.regions) {
    const void* src = in[r.source].data;
    switch (elem) {
    case 1: copyRegion<uint8_t>(r, src, out.data); break;
    case 2: copyRegion<uint16_t>(r, src, out.data); break;
    case 4: copyRegion<uint32_t>(r, src, out.data); break;
    case 8: copyRegion<uint64_t>(r, src, out.data); break;
    default: return internalError("raster of element size " + std::to_string(elem));
    }
  }
  return Status::ok();
}

// One row copy per (outer, index), or one element per index with `elements`: the plainest
// reading of the gather's definition.
Status runGather(const GatherParams& p, Inputs in, const TensorView& out) {
  const size_t elem = dtypeSize(out.desc->dtype), row = static_cast<size_t>(p.inner) * elem;
  const int64_t count = in[1].desc->numel();
  const bool wide = in[1].desc->dtype == DType::I64;
  const auto* src = static_cast<const char*>(in[0].data);
  auto* dst = static_cast<char*>(out.data);
  if (p.elements) {
    const int64_t perOuter = p.outer * p.inner == 0 ? 0 : count / p.outer; // count * inner
    for (int64_t q = 0; q < count; ++q) {
      TESSEL_ASSIGN_OR_RETURN(int64_t r, gatherRow(gatherIndexAt(in[1].data, wide, q), p.extent));
      const int64_t o = q / perOuter, k = q % p.inner;
      std::memcpy(dst + static_cast<size_t>(q) * elem,
                  src + static_cast<size_t>((o * p.extent + r) * p.inner + k) * elem, elem);
    }
    return Status::ok();
  }
  for (int64_t j = 0; j < count; ++j) {
    TESSEL_ASSIGN_OR_RETURN(int64_t r, gatherRow(gatherIndexAt(in[1].data, wide, j), p.extent));
    for (int64_t o = 0; o < p.outer; ++o)
      std::memcpy(dst + static_cast<size_t>(o * count + j) * row,
                  src + static_cast<size_t>(o * p.extent + r) * row, row);
  }
  return Status::ok();
}

// The data copied, then each index's rows written (or combined, combineElements) in order.
Status runScatter(const ScatterParams& p, Inputs in, const TensorView& out) {
  const DType t = out.desc->dtype;
  const size_t elem = dtypeSize(t), row = static_cast<size_t>(p.inner) * elem;
  const int64_t count = in[1].desc->numel();
  const bool wide = in[1].desc->dtype == DType::I64;
  const auto* upd = static_cast<const char*>(in[2].data);
  auto* dst = static_cast<char*>(out.data);
  if (dst != in[0].data && out.desc->numel() > 0)
    std::memcpy(dst, in[0].data, static_cast<size_t>(out.desc->numel()) * elem);
  for (int64_t j = 0; j < count; ++j) {
    TESSEL_ASSIGN_OR_RETURN(int64_t r, gatherRow(gatherIndexAt(in[1].data, wide, j), p.extent));
    for (int64_t o = 0; o < p.outer; ++o) {
      char* at = dst + static_cast<size_t>(o * p.extent + r) * row;
      const char* from = upd + static_cast<size_t>(o * count + j) * row;
      if (p.reduce)
        TESSEL_RETURN_IF_ERROR(combineElements(t, p.kind, at, from, p.inner));
      else
        std::memcpy(at, from, row);
    }
  }
  return Status::ok();
}

namespace {

// Positions of row (o, :, i) ordered by value (largest or smallest first; NaN largest; ties by
// position), the first k written.
template <typename T> void topkOf(const TopKParams& p, const T* x, int64_t* out) {
  std::vector<int64_t> order(static_cast<size_t>(p.extent));
  const auto larger = [](T a, T b) { // a ranks above b among the largest
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a)) return !std::isnan(b);
      if (std::isnan(b)) return false;
    }
    return a > b;
  };
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* row = x + o * p.extent * p.inner + i;
      std::iota(order.begin(), order.end(), int64_t{0});
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        const T va = row[a * p.inner], vb = row[b * p.inner];
        return p.largest ? larger(va, vb) : larger(vb, va);
      });
      for (int64_t j = 0; j < p.k; ++j)
        out[(o * p.k + j) * p.inner + i] = order[j];
    }
}

} // namespace

Status runTopK(const TopKParams& p, Inputs in, const TensorView& out) {
  auto* y = static_cast<int64_t*>(out.data);
  switch (in[0].desc->dtype) {
  case DType::F32: topkOf(p, static_cast<const float*>(in[0].data), y); break;
  case DType::F64: topkOf(p, static_cast<const double*>(in[0].data), y); break;
  case DType::I32: topkOf(p, static_cast<const int32_t*>(in[0].data), y); break;
  case DType::I64: topkOf(p, static_cast<const int64_t*>(in[0].data), y); break;
  default: return unsupported("topk on " + std::string(dtypeName(in[0].desc->dtype)));
  }
  return Status::ok();
}

// Walks the output in row-major order, carrying the three operands' offsets along.
Status runSelect(const SelectParams& p, Inputs in, const TensorView& out) {
  const Shape& shape = out.desc->shape;
  const int64_t total = out.desc->numel();
  if (total == 0) return Status::ok();
  const size_t elem = dtypeSize(out.desc->dtype);
  const auto* cond = static_cast<const uint8_t*>(in[0].data);
  const auto* lhs = static_cast<const char*>(in[1].data);
  const auto* rhs = static_cast<const char*>(in[2].data);
  auto* dst = static_cast<char*>(out.data);
  Shape idx(shape.size(), 0);
  int64_t oc = 0, ol = 0, orr = 0;
  for (int64_t i = 0; i < total; ++i) {
    const char* from =
        cond[oc] ? lhs + static_cast<size_t>(ol) * elem : rhs + static_cast<size_t>(orr) * elem;
    std::memcpy(dst + static_cast<size_t>(i) * elem, from, elem);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) {
        oc += p.condStrides[d], ol += p.lhsStrides[d], orr += p.rhsStrides[d];
        break;
      }
      oc -= (shape[d] - 1) * p.condStrides[d];
      ol -= (shape[d] - 1) * p.lhsStrides[d];
      orr -= (shape[d] - 1) * p.rhsStrides[d];
      idx[d] = 0;
    }
  }
  return Status::ok();
}

} // namespace tessel::reference
