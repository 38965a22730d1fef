// y[i] = kind(x[i]; alpha, beta) over f32, as backends/reference/elementwise.cpp's unaryOf. The
// kinds' numbers come from core/include/tessel/core/unary.def (kinds.glsl, generated).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };

layout(push_constant) uniform Params {
  uint yOffset; // elements
  uint xOffset;
  uint count;
  uint kind;
  float alpha;
  float beta;
} p;

#include "unary.glsl"

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.count) return;
  y[p.yOffset + i] = unaryOf(p.kind, x[p.xOffset + i], p.alpha, p.beta);
}
