#include "kernels.h"

#include <algorithm>
#include <limits>

namespace tessel::reference {

Status runReduce(const ReduceParams& p, Inputs in, const TensorView& out) {
  const float* x = static_cast<const float*>(in[0].data);
  float* y = static_cast<float*>(out.data);
  if (p.outer == 0 || p.inner == 0) return Status::ok(); // nothing to write
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < p.inner; ++i) {
      double acc = 0;
      float best = p.kind == ReduceKind::Max ? -std::numeric_limits<float>::infinity()
                                             : std::numeric_limits<float>::infinity();
      for (int64_t e = 0; e < p.extent; ++e) {
        const float v = x[(o * p.extent + e) * p.inner + i];
        acc += v;
        best = p.kind == ReduceKind::Max ? std::max(best, v) : std::min(best, v);
      }
      float r = static_cast<float>(acc);
      if (p.kind == ReduceKind::Mean) r = static_cast<float>(acc / static_cast<double>(p.extent));
      if (p.kind == ReduceKind::Max || p.kind == ReduceKind::Min) r = best;
      y[o * p.inner + i] = r;
    }
  }
  return Status::ok();
}

} // namespace tessel::reference
