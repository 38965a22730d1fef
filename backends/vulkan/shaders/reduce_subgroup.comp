// Reduce (core/primitive.h) over the middle of [outer, extent, inner], f32, for sum, mean and
// prod, as backends/reference/reduce.cpp computes them, with subgroup operations: a workgroup per
// output, its 256 invocations striding over the extent (each with a compensated sum of its
// share), each subgroup combining its invocations' results with one subgroupAdd (subgroupMul),
// invocation 0 the subgroups' through shared memory. For few outputs over long extents, where
// reduce.comp's one invocation per output (or per chunk of 32768) leaves the device idle. An
// invocation walks ceil(extent / 256) elements, at most 32768 (lavapipe ends a shader's loops
// after 65535 iterations).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };

layout(push_constant) uniform Params {
  uint off[2]; // words
  uint outer, extent, inner, kind;
} p;

shared float partial[256]; // a subgroup's result (at most 256 subgroups)

void main() {
  const uint o = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (o >= p.outer * p.inner) return; // the whole workgroup: no barrier is left waiting
  const uint k = o % p.inner, r = o / p.inner;
  const uint base = p.off[1] + r * p.extent * p.inner + k;
  const bool prod = p.kind == REDUCE_Prod;
  float sum = 0.0, carry = 0.0, product = 1.0;
  for (uint e = gl_LocalInvocationID.x; e < p.extent; e += 256u) {
    const float v = x[base + e * p.inner];
    const float t = v - carry, s = sum + t; // Kahan
    carry = (s - sum) - t;
    sum = s;
    product *= v;
  }
  const float mine = prod ? subgroupMul(product) : subgroupAdd(sum);
  if (subgroupElect()) partial[gl_SubgroupID] = mine;
  barrier();
  if (gl_LocalInvocationID.x != 0u) return;
  float total = prod ? 1.0 : 0.0;
  for (uint s = 0u; s < gl_NumSubgroups; ++s)
    total = prod ? total * partial[s] : total + partial[s];
  if (p.kind == REDUCE_Mean) total /= float(p.extent);
  y[p.off[0] + o] = total;
}
