// Conv2d (core/primitive.h) over f32, NCHW input, OIHW weight, optional bias, then the post-op
// list, as backends/reference/conv2d.cpp computes it: direct. A workgroup takes OC_TILE output
// channels (of one group; workgroup z, so every weight an invocation reads is the same for the
// whole workgroup: a GPU broadcasts it, lavapipe loads it once for all lanes) and 64 tiles of
// PX_TILE adjacent pixels of an output row (workgroups x and y); an invocation accumulates its
// OC_TILE x PX_TILE outputs, so each input element it reads serves OC_TILE channels. The tile
// and the kernel's size are specialization constants (one pipeline per shape of tile and
// kernel and per post-op list); an invocation walks cg * KH * KW products, at most 32768
// (lavapipe ends a shader's loops after 65535 iterations).
//
// Compiled twice: plain, every tensor a storage buffer; and with TEXELS (conv2d_texels), the
// input read as a uniform texel buffer of float (binding 8) and the
// weights from the kernel's own copy, packed [group][block of 4 channels][cg][KH][KW][4]
// (a group's blocks padded to whole tiles, channels past its end zero) as a uniform texel buffer of vec4 (binding 9), one fetch giving four
// channels' weights. Texel fetches go through a device's texture path (lavapipe: vectorised,
// where a storage buffer load walks its lanes one by one); OC_TILE is then 4 or 8.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 64) in;
#include "operands.glsl" // b1 x, b2 weight, b3 bias when hasBias; post-op operands after

layout(push_constant) uniform Params {
  uint off[8];
  uint n, c, h, w, o, oh, ow;
  uint groups, cg, og;  // og output channels per group
  uint ocBlocks, pxBlocks; // channel tiles per group, pixel tiles per output row
  int sh, sw, pt, pl, dh, dw;
  uint hasBias;
  uint packedBlocks; // TEXELS: 4-channel blocks per group in the packed weights
  uint xTexel;       // TEXELS: x's first element in its texel view
} p;

#ifdef TEXELS
layout(binding = 8) uniform samplerBuffer xs;
layout(binding = 9) uniform samplerBuffer packed;
layout(binding = 10) uniform samplerBuffer xs4; // X4: the input as vec4 texels
#endif

layout(constant_id = 25) const uint OC_TILE = 1u; // at most 8
layout(constant_id = 26) const uint PX_TILE = 1u; // at most 4
layout(constant_id = 27) const uint KH = 1u;
layout(constant_id = 28) const uint KW = 1u;
// TEXELS, pointwise (1x1, stride 1, no padding) over rows of whole vec4, PX_TILE 4: one fetch of
// the input gives the tile's four pixels (binding 10).
layout(constant_id = 29) const bool X4 = false;

#include "unary.glsl"
#include "binary.glsl"
#include "postops.glsl"

void main() {
  const uint tile = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 64u +
                    gl_LocalInvocationID.x;
  if (tile >= p.oh * p.pxBlocks) return;
  const uint xb = tile % p.pxBlocks, oy = tile / p.pxBlocks;
  const uint ob = gl_WorkGroupID.z % p.ocBlocks, rest = gl_WorkGroupID.z / p.ocBlocks;
  const uint g = rest % p.groups, b = rest / p.groups;
  const uint ocEnd = (g + 1u) * p.og, oc0 = g * p.og + ob * OC_TILE, ox0 = xb * PX_TILE;
  const uint taps = KH * KW;
  // A tile's channels past its group's end repeat the last one (computed, never stored).
  uint wBase[8];
  float acc[8][4];
  for (uint j = 0u; j < OC_TILE; ++j) {
    const uint oc = min(oc0 + j, ocEnd - 1u);
    wBase[j] = p.off[2] + oc * p.cg * taps;
    const float bias = p.hasBias != 0u ? b3[p.off[3] + oc] : 0.0;
    for (uint q = 0u; q < PX_TILE; ++q)
      acc[j][q] = bias;
  }
#ifdef TEXELS
  // The first texel of this tile's weights: 4-channel tiles of the group, OC_TILE / 4 of them.
  const uint packedBase = (g * p.packedBlocks + ob * (OC_TILE / 4u)) * p.cg * taps;
#endif
  const int iy0 = int(oy) * p.sh - p.pt, ix0 = int(ox0) * p.sw - p.pl;
  const uint plane = p.h * p.w;
#ifdef TEXELS
  uint xPlane = p.xTexel + (b * p.c + g * p.cg) * plane;
#else
  uint xPlane = p.off[1] + (b * p.c + g * p.cg) * plane;
#endif
#ifdef TEXELS
  // Without branches: where each kernel row and column of each pixel reads (clamped inside the
  // input) and whether it lies inside (padding reads 0), worked out once for all channels.
  uint rowAt[KH];
  bool rowIn[KH];
  for (uint ky = 0u; ky < KH; ++ky) {
    const int iy = iy0 + int(ky) * p.dh;
    rowIn[ky] = iy >= 0 && iy < int(p.h);
    rowAt[ky] = uint(clamp(iy, 0, int(p.h) - 1)) * p.w;
  }
  uint colAt[KW * PX_TILE];
  bool colIn[KW * PX_TILE];
  for (uint kx = 0u; kx < KW; ++kx)
    for (uint q = 0u; q < PX_TILE; ++q) {
      const int ix = ix0 + int(q) * p.sw + int(kx) * p.dw;
      colIn[kx * PX_TILE + q] = ix >= 0 && ix < int(p.w);
      colAt[kx * PX_TILE + q] = uint(clamp(ix, 0, int(p.w) - 1));
    }
  const uint blockStride = p.cg * taps;
  if (X4) {
    const uint at = xPlane + oy * p.w + ox0; // a multiple of 4
    for (uint ic = 0u; ic < p.cg; ++ic) {
      const vec4 x4 = texelFetch(xs4, int((at + ic * plane) / 4u));
      const float xv[4] = float[4](x4.x, x4.y, x4.z, x4.w);
      for (uint j = 0u; j < OC_TILE; j += 4u) {
        const vec4 wv = texelFetch(packed, int(packedBase + j / 4u * blockStride + ic));
        for (uint q = 0u; q < 4u; ++q) {
          acc[j][q] += wv.x * xv[q];
          acc[j + 1u][q] += wv.y * xv[q];
          acc[j + 2u][q] += wv.z * xv[q];
          acc[j + 3u][q] += wv.w * xv[q];
        }
      }
    }
  } else
  for (uint ic = 0u; ic < p.cg; ++ic, xPlane += plane) {
    for (uint ky = 0u; ky < KH; ++ky) {
      const uint row = xPlane + rowAt[ky];
      for (uint kx = 0u; kx < KW; ++kx) {
        float xv[4];
        for (uint q = 0u; q < PX_TILE; ++q) {
          const float v = texelFetch(xs, int(row + colAt[kx * PX_TILE + q])).x;
          xv[q] = rowIn[ky] && colIn[kx * PX_TILE + q] ? v : 0.0;
        }
        const uint tap = ic * taps + ky * KW + kx;
        for (uint j = 0u; j < OC_TILE; j += 4u) {
          const vec4 wv = texelFetch(packed, int(packedBase + j / 4u * blockStride + tap));
          for (uint q = 0u; q < PX_TILE; ++q) {
            acc[j][q] += wv.x * xv[q];
            acc[j + 1u][q] += wv.y * xv[q];
            acc[j + 2u][q] += wv.z * xv[q];
            acc[j + 3u][q] += wv.w * xv[q];
          }
        }
      }
    }
  }
#else
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
#endif
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
