#include "kernels.h"

#include <algorithm>
#include <limits>

namespace tessel::reference {

namespace {

// The index of the extreme along the extent: strictly better replaces, equal replaces only with
// selectLast; NaN is never better (the first element stays when all are NaN).
template <typename T> void argReduce(const ReduceParams& p, const T* x, int64_t* y) {
  const bool max = p.kind == ReduceKind::ArgMax;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      int64_t best = 0;
      T bestValue = x[o * p.extent * p.inner + i];
      for (int64_t e = 1; e < p.extent; ++e) {
        const T v = x[(o * p.extent + e) * p.inner + i];
        const bool better = max ? v > bestValue : v < bestValue;
        if (better || (p.selectLast && v == bestValue)) {
          best = e;
          bestValue = v;
        }
      }
      y[o * p.inner + i] = best;
    }
}

// Sums, means and products accumulate in double; extremes keep T.
template <typename T> void reduceValues(const ReduceParams& p, const T* x, T* y) {
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < p.inner; ++i) {
      double acc = p.kind == ReduceKind::Prod ? 1 : 0;
      T best = p.kind == ReduceKind::Max ? -std::numeric_limits<T>::infinity()
                                         : std::numeric_limits<T>::infinity();
      for (int64_t e = 0; e < p.extent; ++e) {
        const T v = x[(o * p.extent + e) * p.inner + i];
        acc = p.kind == ReduceKind::Prod ? acc * v : acc + v;
        best = p.kind == ReduceKind::Max ? std::max(best, v) : std::min(best, v);
      }
      T r = static_cast<T>(acc);
      if (p.kind == ReduceKind::Mean) r = static_cast<T>(acc / static_cast<double>(p.extent));
      if (p.kind == ReduceKind::Max || p.kind == ReduceKind::Min) r = best;
      y[o * p.inner + i] = r;
    }
  }
}

} // namespace

Status runReduce(const ReduceParams& p, Inputs in, const TensorView& out) {
  if (reduceGivesIndex(p.kind)) {
    if (p.outer == 0 || p.inner == 0) return Status::ok();
    auto* y = static_cast<int64_t*>(out.data);
    switch (in[0].desc->dtype) {
    case DType::F32: argReduce(p, static_cast<const float*>(in[0].data), y); break;
    case DType::I32: argReduce(p, static_cast<const int32_t*>(in[0].data), y); break;
    case DType::I64: argReduce(p, static_cast<const int64_t*>(in[0].data), y); break;
    default:
      return unsupported(std::string(reduceName(p.kind)) + " of " +
                         std::string(dtypeName(in[0].desc->dtype)));
    }
    return Status::ok();
  }
  if (p.outer == 0 || p.inner == 0) return Status::ok(); // nothing to write
  if (in[0].desc->dtype == DType::F64)
    reduceValues(p, static_cast<const double*>(in[0].data), static_cast<double*>(out.data));
  else
    reduceValues(p, static_cast<const float*>(in[0].data), static_cast<float*>(out.data));
  return Status::ok();
}

} // namespace tessel::reference
