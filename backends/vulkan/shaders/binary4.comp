// Binary over f32 four consecutive output elements an invocation (see unary4.comp), as
// binary.comp computes it. The host picks it when the output's last dim is a multiple of 4 and
// each operand either broadcasts along it (stride 0: one float for the four) or runs along it
// (stride 1, its other strides and its offset multiples of 4: one vec4). Each operand is bound
// twice: as floats (bindings 1, 2) and as vec4 (bindings 3, 4).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { vec4 y[]; };
layout(std430, binding = 1) readonly buffer InA { float a[]; };
layout(std430, binding = 2) readonly buffer InB { float b[]; };
layout(std430, binding = 3) readonly buffer InA4 { vec4 a4[]; };
layout(std430, binding = 4) readonly buffer InB4 { vec4 b4[]; };

layout(push_constant) uniform Params {
  uint off[5]; // elements: y, a, b, a again, b again
  uint count, kind, rank;
  uint dims[6];
  uint aStrides[6];
  uint bStrides[6];
} p;

#include "binary.glsl"

void main() {
  const uint q = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  const uint i = q * 4u;
  if (i >= p.count) return;
  uint rest = i, ia = 0u, ib = 0u;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const uint c = rest % p.dims[d];
    rest /= p.dims[d];
    ia += c * p.aStrides[d];
    ib += c * p.bStrides[d];
  }
  const uint last = p.rank - 1u;
  const vec4 va = p.aStrides[last] == 1u ? a4[(p.off[3] + ia) / 4u] : vec4(a[p.off[1] + ia]);
  const vec4 vb = p.bStrides[last] == 1u ? b4[(p.off[4] + ib) / 4u] : vec4(b[p.off[2] + ib]);
  y[(p.off[0] + i) / 4u] = vec4(binaryOf(p.kind, va.x, vb.x), binaryOf(p.kind, va.y, vb.y),
                                binaryOf(p.kind, va.z, vb.z), binaryOf(p.kind, va.w, vb.w));
}
