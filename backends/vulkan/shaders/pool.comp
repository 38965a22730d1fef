// Pool (core/primitive.h) over f32 NCHW, as backends/reference/pool.cpp computes it: one
// invocation per output element walks the part of its window inside the input (padding
// contributes nothing; an average divides by that part's size, or with countIncludePad by the
// window clipped to the padded input). The window is at most 32768 elements (lavapipe ends a
// shader's loops after 65535 iterations).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };

layout(push_constant) uniform Params {
  uint yOffset;
  uint xOffset;
  uint planes, h, w, oh, ow;
  int kh, kw, sh, sw, pt, pl, pb, pr;
  uint kind, countIncludePad;
} p;

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.planes * p.oh * p.ow) return;
  const uint ox = i % p.ow, oy = i / p.ow % p.oh, plane = i / (p.ow * p.oh);
  const int y0 = int(oy) * p.sh - p.pt, x0 = int(ox) * p.sw - p.pl;
  const int ky0 = max(0, -y0), ky1 = min(p.kh, int(p.h) - y0);
  const int kx0 = max(0, -x0), kx1 = min(p.kw, int(p.w) - x0);
  const uint base = p.xOffset + plane * p.h * p.w;
  float best = uintBitsToFloat(0xff800000u); // -infinity
  float sum = 0.0;
  for (int ky = ky0; ky < ky1; ++ky) {
    const uint row = base + uint(y0 + ky) * p.w;
    for (int kx = kx0; kx < kx1; ++kx) {
      const float v = x[row + uint(x0 + kx)];
      best = max(best, v);
      sum += v;
    }
  }
  float r = best;
  if (p.kind == POOL_Avg) {
    int window = max(ky1 - ky0, 0) * max(kx1 - kx0, 0);
    if (p.countIncludePad != 0u) {
      const int ye = min(y0 + p.kh, int(p.h) + p.pb), xe = min(x0 + p.kw, int(p.w) + p.pr);
      window = (ye - y0) * (xe - x0);
    }
    r = window > 0 ? sum / float(window) : 0.0;
  }
  y[p.yOffset + i] = r;
}
