// Gather (core/primitive.h) of 4- or 8-byte elements (words moved, any dtype) by i32 or i64
// indices, as backends/reference computes it: with the data viewed as [outer, extent, inner] and
// the output as [outer, count, inner], out[o, j, k] = data[o, idx[j], k] (with `elements`, one
// index per output element: idx[o, j, k]); a negative index counts from the end. An index
// outside [-extent, extent) writes zeros and raises the stream's fault word (binding 7), which
// fails the run when the stream is waited on.
#version 450

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { uint y[]; };
layout(std430, binding = 1) readonly buffer Data { uint x[]; };
layout(std430, binding = 2) readonly buffer Indices { uint ix[]; };
layout(std430, binding = 7) buffer Fault { uint fault[]; };

layout(push_constant) uniform Params {
  uint off[8]; // words
  uint outer, extent, inner, count;
  uint words;    // per element: 1 or 2
  uint wide;     // i64 indices (two words each)
  uint elements; // one index per output element
} p;

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.outer * p.count * p.inner) return;
  const uint k = i % p.inner, j = i / p.inner % p.count, o = i / (p.inner * p.count);
  const uint at = p.elements != 0u ? i : j;
  const uint lo = p.wide != 0u ? ix[p.off[2] + 2u * at] : ix[p.off[2] + at];
  const uint hi = p.wide != 0u ? ix[p.off[2] + 2u * at + 1u] : (int(lo) < 0 ? 0xffffffffu : 0u);
  int row = -1;
  if (hi == 0u && lo < p.extent) row = int(lo);
  if (hi == 0xffffffffu && int(lo) < 0 && int(lo) + int(p.extent) >= 0) row = int(lo) + int(p.extent);
  const uint to = p.off[0] + i * p.words;
  if (row < 0) {
    fault[p.off[7]] = 1u;
    y[to] = 0u;
    if (p.words == 2u) y[to + 1u] = 0u;
    return;
  }
  const uint from = p.off[1] + ((o * p.extent + uint(row)) * p.inner + k) * p.words;
  y[to] = x[from];
  if (p.words == 2u) y[to + 1u] = x[from + 1u];
}
