// Elementwise (core/primitive.h): y = the post-op list applied to x, f32, the output viewed as
// [outer, channels, inner] for per-channel operands, as backends/reference/elementwise.cpp's
// runElementwise computes it (the output may be x itself).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
#include "operands.glsl" // b1 x; post-op operands after

layout(push_constant) uniform Params {
  uint off[8];
  uint count, channels, inner;
} p;

#include "unary.glsl"
#include "binary.glsl"
#include "postops.glsl"

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.count) return;
  y[p.off[0] + i] = postOps(b1[p.off[1] + i], i, i / p.inner % p.channels);
}
