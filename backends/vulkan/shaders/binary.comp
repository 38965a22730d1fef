// y[i] = a[ia] kind b[ib] over f32 with numpy broadcasting: the output dense over `dims`, each
// operand read through its own strides per output dim (0 where it broadcasts), as
// backends/reference/elementwise.cpp computes it.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer InA { float a[]; };
layout(std430, binding = 2) readonly buffer InB { float b[]; };

layout(push_constant) uniform Params {
  uint yOffset;
  uint aOffset;
  uint bOffset;
  uint count;
  uint kind;
  uint rank;
  uint dims[6];
  uint aStrides[6];
  uint bStrides[6];
} p;

#include "binary.glsl"

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.count) return;
  uint rest = i, ia = 0u, ib = 0u;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const uint c = rest % p.dims[d];
    rest /= p.dims[d];
    ia += c * p.aStrides[d];
    ib += c * p.bStrides[d];
  }
  y[p.yOffset + i] = binaryOf(p.kind, a[p.aOffset + ia], b[p.bOffset + ib]);
}
