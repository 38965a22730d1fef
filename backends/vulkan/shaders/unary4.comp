// Unary over f32 four elements an invocation (vec4 loads and stores: on lavapipe a storage-buffer
// access walks the SIMD lanes one by one, so four floats per access move 2-3x faster), as
// unary.comp computes it. The host picks it when the count and both offsets are multiples of 4.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { vec4 y[]; };
layout(std430, binding = 1) readonly buffer In { vec4 x[]; };

layout(push_constant) uniform Params {
  uint yOffset; // elements, multiples of 4
  uint xOffset;
  uint count;
  uint kind;
  float alpha;
  float beta;
} p;

#include "unary.glsl"

void main() {
  const uint q = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (q * 4u >= p.count) return;
  const vec4 v = x[p.xOffset / 4u + q];
  y[p.yOffset / 4u + q] = vec4(unaryOf(p.kind, v.x, p.alpha, p.beta),
                               unaryOf(p.kind, v.y, p.alpha, p.beta),
                               unaryOf(p.kind, v.z, p.alpha, p.beta),
                               unaryOf(p.kind, v.w, p.alpha, p.beta));
}
