// Reduce (core/primitive.h) over the middle of [outer, extent, inner], f32 in: one invocation
// per output element, as backends/reference/reduce.cpp computes it. An invocation walks the
// whole extent, which the backend keeps at most 32768 (lavapipe stops a shader's loops after
// 65535 iterations in all). Sums and means accumulate
// with compensation (the reference's are in double), extremes keep the first of equals (the
// last with selectLast for argmax and argmin, whose i64 output is two words an element).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { uint y[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };

layout(push_constant) uniform Params {
  uint yOffset; // words
  uint xOffset;
  uint outer;
  uint extent;
  uint inner;
  uint kind;
  uint selectLast;
} p;

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.outer * p.inner) return;
  const uint o = i / p.inner, k = i % p.inner;
  const uint base = p.xOffset + o * p.extent * p.inner + k;
  if (p.kind == REDUCE_ArgMax || p.kind == REDUCE_ArgMin) {
    const bool most = p.kind == REDUCE_ArgMax;
    uint best = 0u;
    float bestValue = x[base];
    for (uint e = 1u; e < p.extent; ++e) {
      const float v = x[base + e * p.inner];
      const bool better = most ? v > bestValue : v < bestValue;
      if (better || (p.selectLast != 0u && v == bestValue)) {
        best = e;
        bestValue = v;
      }
    }
    y[p.yOffset + 2u * i] = best;
    y[p.yOffset + 2u * i + 1u] = 0u;
    return;
  }
  float sum = 0.0, carry = 0.0, prod = 1.0;
  float best = p.kind == REDUCE_Max ? uintBitsToFloat(0xff800000u) : uintBitsToFloat(0x7f800000u);
  for (uint e = 0u; e < p.extent; ++e) {
    const float v = x[base + e * p.inner];
    const float t = v - carry, s = sum + t; // Kahan
    carry = (s - sum) - t;
    sum = s;
    prod *= v;
    best = p.kind == REDUCE_Max ? (best < v ? v : best) : (v < best ? v : best);
  }
  float r = sum;
  if (p.kind == REDUCE_Mean) r = sum / float(p.extent);
  if (p.kind == REDUCE_Prod) r = prod;
  if (p.kind == REDUCE_Max || p.kind == REDUCE_Min) r = best;
  y[p.yOffset + i] = floatBitsToUint(r);
}
