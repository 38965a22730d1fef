#include "kernels.h"

#include <algorithm>

namespace tessel::reference {
namespace {

// f32, or f64 (the exact integer products of the quantized rules; post-ops need f32).
template <typename T> void convOf(const Conv2dParams& p, Inputs in, const TensorView& out) {
  const Shape& xs = in[0].desc->shape;
  const Shape& ws = in[1].desc->shape;
  const Shape& ys = out.desc->shape;
  const int64_t n = xs[0], c = xs[1], h = xs[2], w = xs[3];
  const int64_t o = ws[0], cg = ws[1], kh = ws[2], kw = ws[3];
  const int64_t oh = ys[2], ow = ys[3], og = o / p.group;
  const T* x = static_cast<const T*>(in[0].data);
  const T* wt = static_cast<const T*>(in[1].data);
  const T* bias = p.hasBias ? static_cast<const T*>(in[2].data) : nullptr;
  T* y = static_cast<T*>(out.data);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      const int64_t g = oc / og;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          T acc = bias ? bias[oc] : T(0);
          for (int64_t ic = 0; ic < cg; ++ic) {
            const T* xp = x + (b * c + g * cg + ic) * h * w;
            const T* wp = wt + (oc * cg + ic) * kh * kw;
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t iy = oy * p.stride[0] - p.pads[0] + ky * p.dilation[0];
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t ix = ox * p.stride[1] - p.pads[1] + kx * p.dilation[1];
                if (ix < 0 || ix >= w) continue;
                acc += xp[iy * w + ix] * wp[ky * kw + kx];
              }
            }
          }
          y[((b * o + oc) * oh + oy) * ow + ox] = acc;
        }
    }
}

} // namespace

Status runConv2d(const Conv2dParams& p, Inputs in, const TensorView& out) {
  if (out.desc->dtype == DType::F64) {
    convOf<double>(p, in, out);
    return Status::ok();
  }
  convOf<float>(p, in, out);
  applyPostOps(p.postOps, in, out.desc->shape[1], out.desc->shape[2] * out.desc->shape[3],
               static_cast<float*>(out.data), out.desc->numel());
  return Status::ok();
}

} // namespace tessel::reference
