#include "kernels.h"

#include <algorithm>
#include <limits>

namespace tessel::reference {

Status runPool(const PoolParams& p, Inputs in, const TensorView& out) {
  const Shape& xs = in[0].desc->shape;
  const Shape& ys = out.desc->shape;
  const int64_t planes = xs[0] * xs[1], h = xs[2], w = xs[3], oh = ys[2], ow = ys[3];
  const float* x = static_cast<const float*>(in[0].data);
  float* y = static_cast<float*>(out.data);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t y0 = oy * p.stride[0] - p.pads[0], x0 = ox * p.stride[1] - p.pads[1];
        float best = -std::numeric_limits<float>::infinity();
        double sum = 0;
        int64_t count = 0;
        // Only the part of the window inside the input: padding contributes nothing.
        const int64_t ky0 = std::max<int64_t>(0, -y0), ky1 = std::min(p.kernel[0], h - y0);
        const int64_t kx0 = std::max<int64_t>(0, -x0), kx1 = std::min(p.kernel[1], w - x0);
        for (int64_t ky = ky0; ky < ky1; ++ky)
          for (int64_t kx = kx0; kx < kx1; ++kx) {
            const int64_t iy = y0 + ky, ix = x0 + kx;
            const float v = x[(pl * h + iy) * w + ix];
            best = std::max(best, v);
            sum += v;
            ++count;
          }
        float r = best;
        if (p.kind == PoolKind::Avg) {
          // count_include_pad counts the window clipped to the padded input, not the ceil overhang.
          int64_t window = count;
          if (p.countIncludePad) {
            const int64_t ye = std::min(y0 + p.kernel[0], h + p.pads[2]);
            const int64_t xe = std::min(x0 + p.kernel[1], w + p.pads[3]);
            window = (ye - y0) * (xe - x0);
          }
          r = window ? static_cast<float>(sum / static_cast<double>(window)) : 0.f;
        }
        y[(pl * oh + oy) * ow + ox] = r;
      }
  return Status::ok();
}

} // namespace tessel::reference
