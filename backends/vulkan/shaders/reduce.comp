// Reduce (core/primitive.h) over the middle of [outer, extent, inner], f32 in, as
// backends/reference/reduce.cpp computes it. Sums and means accumulate with compensation (the
// reference's are in double), extremes keep the first of equals (the last with selectLast for
// argmax and argmin, whose i64 output is two words an element).
//
// An invocation walks at most 32768 elements (lavapipe stops a shader's loops after 65535
// iterations in all). phase 0: one invocation per output walks the whole extent (at most that
// long). A longer extent takes two dispatches: phase 1, one invocation per (outer, chunk,
// inner) reduces `chunk` elements into the partials (binding 2: values, binding 3: where an
// arg reduction found them); phase 2, one invocation per output combines its `chunks` partials
// with the same rules.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { uint y[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(std430, binding = 2) buffer PartialValues { float pv[]; };
layout(std430, binding = 3) buffer PartialIndices { uint pi[]; };

layout(push_constant) uniform Params {
  uint off[4]; // words
  uint outer, extent, inner, kind, selectLast;
  uint chunk, chunks, phase;
} p;

bool isArg() {
  return p.kind == REDUCE_ArgMax || p.kind == REDUCE_ArgMin;
}

// Whether v (at a later position) replaces best.
bool replaces(float v, float best) {
  if (isArg()) {
    const bool better = p.kind == REDUCE_ArgMax ? v > best : v < best;
    return better || (p.selectLast != 0u && v == best);
  }
  return p.kind == REDUCE_Max ? best < v : v < best;
}

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  const uint parts = p.phase == 1u ? p.chunks : 1u;
  if (i >= p.outer * parts * p.inner) return;
  const uint k = i % p.inner, c = i / p.inner % parts, o = i / (p.inner * parts);
  // What this invocation walks: x from begin to end (phases 0 and 1), or the partials.
  uint begin = 0u, end = p.extent;
  if (p.phase == 1u) {
    begin = c * p.chunk;
    end = min(p.extent, begin + p.chunk);
  }
  if (p.phase == 2u) end = p.chunks;
  const uint base = p.phase == 2u ? p.off[2] + o * p.chunks * p.inner + k
                                  : p.off[1] + o * p.extent * p.inner + k;
  float sum = 0.0, carry = 0.0, prod = 1.0;
  // Extremes start past every number (an empty extent gives -inf for max, +inf for min).
  float best = isArg()                ? 0.0
               : p.kind == REDUCE_Max ? uintBitsToFloat(0xff800000u)
                                      : uintBitsToFloat(0x7f800000u);
  uint at = 0u;
  for (uint e = begin; e < end; ++e) {
    const float v = p.phase == 2u ? pv[base + e * p.inner] : x[base + e * p.inner];
    const float t = v - carry, s = sum + t; // Kahan
    carry = (s - sum) - t;
    sum = s;
    prod *= v;
    if (isArg()) {
      if (e == begin || replaces(v, best)) {
        best = v;
        at = p.phase == 2u ? pi[p.off[3] + o * p.chunks * p.inner + e * p.inner + k] : e;
      }
    } else if ((p.kind == REDUCE_Max || p.kind == REDUCE_Min) && replaces(v, best)) {
      best = v;
    }
  }
  float r = sum;
  if (p.kind == REDUCE_Prod) r = prod;
  if (p.kind == REDUCE_Max || p.kind == REDUCE_Min || isArg()) r = best;
  if (p.phase == 1u) {
    pv[p.off[2] + i] = r;
    pi[p.off[3] + i] = at;
    return;
  }
  if (isArg()) {
    y[p.off[0] + 2u * i] = at;
    y[p.off[0] + 2u * i + 1u] = 0u;
    return;
  }
  if (p.kind == REDUCE_Mean) r = sum / float(p.extent);
  y[p.off[0] + i] = floatBitsToUint(r);
}
