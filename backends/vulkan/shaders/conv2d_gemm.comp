// Conv2d (core/primitive.h) over f32, NCHW input, OIHW weight, optional bias, then the post-op
// list, as backends/reference/conv2d.cpp computes it: as an implicit GEMM with shared-memory
// tiles. Per image and group, out[m][n] = sum over k of w[m][k] * col[k][n], m an output channel
// of the group, n an output pixel (row-major over the output plane), k = (input channel, kernel
// row, kernel column), col the input under each pixel's window (0 in the padding), never
// materialized. A workgroup of 256 computes a 64 x 64 tile of out (workgroup z: image, group,
// tile of channels; x and y: tiles of pixels): each step it stages 16 k of the weights and of col
// in shared memory as vec4 (every invocation loading four of each), then each invocation
// accumulates its 4 channels x 4 pixels from one vec4 of each per k, so each value loaded from
// memory serves 64 products. KH and KW are specialization constants (25 and 26 unused). A kernel
// walks ceil(cg * KH * KW / 16) steps. On lavapipe, where a shared load is a loop over the lanes
// and a barrier ends a coroutine, it takes 2.5-4.5x the direct kernel's time; it is the form
// GPUs with fast shared memory are built for.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
#include "operands.glsl" // b1 x, b2 weight, b3 bias when hasBias; post-op operands after

layout(push_constant) uniform Params {
  uint off[8];
  uint n, c, h, w, o, oh, ow;
  uint groups, cg, og;     // og output channels per group
  uint ocBlocks, pxBlocks; // 64-channel tiles per group, 64-pixel tiles per output plane
  int sh, sw, pt, pl, dh, dw;
  uint hasBias;
  uint packedBlocks, xTexel; // unused here (the texel variant's)
} p;

layout(constant_id = 27) const uint KH = 1u;
layout(constant_id = 28) const uint KW = 1u;

#include "unary.glsl"
#include "binary.glsl"
#include "postops.glsl"

const uint TILE = 64u, STEP = 16u;
// Four channels or four pixels a vec4: an invocation's four of each come in one load apiece.
shared vec4 ws[STEP][TILE / 4u]; // [k][channels / 4]
shared vec4 cs[STEP][TILE / 4u]; // [k][pixels / 4]

void main() {
  const uint tile = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (tile >= p.pxBlocks) return; // the whole workgroup: no barrier is left waiting
  const uint ob = gl_WorkGroupID.z % p.ocBlocks, rest = gl_WorkGroupID.z / p.ocBlocks;
  const uint g = rest % p.groups, b = rest / p.groups;
  const uint lid = gl_LocalInvocationID.x, tx = lid % 16u, ty = lid / 16u;
  const uint m0 = ob * TILE, n0 = tile * TILE;
  const uint taps = KH * KW, kTotal = p.cg * taps, pixels = p.oh * p.ow, plane = p.h * p.w;
  const uint wBase = p.off[2] + g * p.og * kTotal;
  const uint xBase = p.off[1] + (b * p.c + g * p.cg) * plane;
  // Each step this invocation stages k row lk: the weights of channels m0 + 4 tx .. + 3 and col
  // at pixels n0 + 4 tx .. + 3, whose window origins are fixed for the whole walk.
  const uint lk = ty;
  int iy0[4], ix0[4];
  bool pixIn[4], wIn[4];
  for (uint q = 0u; q < 4u; ++q) {
    const uint pix = n0 + 4u * tx + q;
    pixIn[q] = pix < pixels;
    iy0[q] = int(pixIn[q] ? pix / p.ow : 0u) * p.sh - p.pt;
    ix0[q] = int(pixIn[q] ? pix % p.ow : 0u) * p.sw - p.pl;
    wIn[q] = m0 + 4u * tx + q < p.og;
  }
  vec4 acc[4]; // acc[q]: pixel 4 tx + q's four channels 4 ty .. + 3
  for (uint q = 0u; q < 4u; ++q)
    acc[q] = vec4(0.0);
  for (uint k0 = 0u; k0 < kTotal; k0 += STEP) {
    const uint k = k0 + lk;
    const bool kIn = k < kTotal;
    const uint ic = k / taps, tap = k % taps;
    const int dy = int(tap / KW) * p.dh, dx = int(tap % KW) * p.dw;
    vec4 wv, cv;
    for (uint q = 0u; q < 4u; ++q) {
      wv[q] = wIn[q] && kIn ? b2[wBase + (m0 + 4u * tx + q) * kTotal + k] : 0.0;
      const int iy = iy0[q] + dy, ix = ix0[q] + dx;
      const bool inside =
          pixIn[q] && kIn && iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
      cv[q] = inside ? b1[xBase + ic * plane + uint(iy) * p.w + uint(ix)] : 0.0;
    }
    ws[lk][tx] = wv;
    cs[lk][tx] = cv;
    barrier();
    for (uint kk = 0u; kk < STEP; ++kk) {
      const vec4 a = ws[kk][ty], v = cs[kk][tx];
      acc[0] += a * v.x;
      acc[1] += a * v.y;
      acc[2] += a * v.z;
      acc[3] += a * v.w;
    }
    barrier();
  }
  for (uint i = 0u; i < 4u; ++i) {
    const uint m = m0 + 4u * ty + i;
    if (m >= p.og) break;
    const uint oc = g * p.og + m;
    const float bias = p.hasBias != 0u ? b3[p.off[3] + oc] : 0.0;
    for (uint q = 0u; q < 4u; ++q) {
      const uint n = n0 + 4u * tx + q;
      if (n >= pixels) break;
      const uint at = (b * p.o + oc) * pixels + n;
      y[p.off[0] + at] = postOps(acc[q][i] + bias, at, oc);
    }
  }
}
