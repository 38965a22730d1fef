// Conv2d (core/primitive.h) over f32, NCHW input, OIHW weight, optional bias, then the post-op
// list, as backends/reference/conv2d.cpp computes it: direct, one invocation per tile of
// OC_TILE output channels (of one group) by PX_TILE adjacent pixels of one output row, so each
// input element read serves OC_TILE channels and each weight PX_TILE pixels. Neighbouring
// invocations take neighbouring tiles of the same row and share their weights. The tile and the
// kernel's size are specialization constants (one pipeline per shape of tile and kernel and per
// post-op list); an invocation walks cg * KH * KW products, at most 32768 (lavapipe ends a
// shader's loops after 65535 iterations).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
#include "operands.glsl" // b1 x, b2 weight, b3 bias when hasBias; post-op operands after

layout(push_constant) uniform Params {
  uint off[8];
  uint n, c, h, w, o, oh, ow;
  uint groups, cg, og;  // og output channels per group
  uint ocBlocks, pxBlocks; // tiles per group, tiles per output row
  int sh, sw, pt, pl, dh, dw;
  uint hasBias;
} p;

layout(constant_id = 25) const uint OC_TILE = 1u; // at most 4
layout(constant_id = 26) const uint PX_TILE = 1u; // at most 4
layout(constant_id = 27) const uint KH = 1u;
layout(constant_id = 28) const uint KW = 1u;

#include "unary.glsl"
#include "binary.glsl"
#include "postops.glsl"

void main() {
  const uint idx = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (idx >= p.n * p.groups * p.ocBlocks * p.oh * p.pxBlocks) return;
  uint r = idx;
  const uint xb = r % p.pxBlocks;
  r /= p.pxBlocks;
  const uint oy = r % p.oh;
  r /= p.oh;
  const uint ob = r % p.ocBlocks;
  r /= p.ocBlocks;
  const uint g = r % p.groups, b = r / p.groups;
  const uint ocEnd = (g + 1u) * p.og, oc0 = g * p.og + ob * OC_TILE, ox0 = xb * PX_TILE;
  const uint taps = KH * KW;
  // A tile's channels past its group's end repeat the last one (computed, never stored).
  uint wBase[4];
  float acc[4][4];
  for (uint j = 0u; j < OC_TILE; ++j) {
    const uint oc = min(oc0 + j, ocEnd - 1u);
    wBase[j] = p.off[2] + oc * p.cg * taps;
    const float bias = p.hasBias != 0u ? b3[p.off[3] + oc] : 0.0;
    for (uint q = 0u; q < PX_TILE; ++q)
      acc[j][q] = bias;
  }
  const int iy0 = int(oy) * p.sh - p.pt, ix0 = int(ox0) * p.sw - p.pl;
  const uint plane = p.h * p.w;
  uint xPlane = p.off[1] + (b * p.c + g * p.cg) * plane;
  for (uint ic = 0u; ic < p.cg; ++ic, xPlane += plane) {
    for (uint ky = 0u; ky < KH; ++ky) {
      const int iy = iy0 + int(ky) * p.dh;
      if (iy < 0 || iy >= int(p.h)) continue;
      const uint row = xPlane + uint(iy) * p.w;
      for (uint kx = 0u; kx < KW; ++kx) {
        float xv[4];
        for (uint q = 0u; q < PX_TILE; ++q) {
          const int ix = ix0 + int(q) * p.sw + int(kx) * p.dw;
          // The index stays inside the row whether or not the pixel is (padding reads 0).
          const float v = b1[row + uint(clamp(ix, 0, int(p.w) - 1))];
          xv[q] = ix >= 0 && ix < int(p.w) ? v : 0.0;
        }
        const uint tap = ic * taps + ky * KW + kx;
        for (uint j = 0u; j < OC_TILE; ++j) {
          const float wv = b2[wBase[j] + tap];
          for (uint q = 0u; q < PX_TILE; ++q)
            acc[j][q] += wv * xv[q];
        }
      }
    }
  }
  for (uint j = 0u; j < OC_TILE; ++j) {
    const uint oc = oc0 + j;
    if (oc >= ocEnd) break;
    for (uint q = 0u; q < PX_TILE; ++q) {
      const uint ox = ox0 + q;
      if (ox >= p.ow) break;
      const uint at = ((b * p.o + oc) * p.oh + oy) * p.ow + ox;
      y[p.off[0] + at] = postOps(acc[j][q], at, oc);
    }
  }
}
