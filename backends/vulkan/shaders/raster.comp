// Raster (core/primitive.h): one region's elements copied from an input to the output, each
// element one or two 32-bit words (4- and 8-byte types); or, in fill mode, `count` elements of
// the output set to one value. As backends/reference/raster.cpp, one dispatch per region.
#version 450

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { uint y[]; };
layout(std430, binding = 1) readonly buffer In { uint x[]; };

layout(push_constant) uniform Params {
  uint yOffset; // words
  uint xOffset;
  uint count;   // elements of the region, or of the fill
  uint words;   // per element: 1 or 2
  int srcOffset; // elements
  int dstOffset;
  int srcStride[3];
  int dstStride[3];
  uint size1;
  uint size2;
  uint fill;    // 1: fill mode
  uint fillLo;  // the fill value's words
  uint fillHi;
} p;

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.count) return;
  if (p.fill != 0u) {
    const uint at = p.yOffset + i * p.words;
    y[at] = p.fillLo;
    if (p.words == 2u) y[at + 1u] = p.fillHi;
    return;
  }
  const uint k = i % p.size2, rest = i / p.size2;
  const uint j = rest % p.size1, l = rest / p.size1;
  const int s = p.srcOffset + int(l) * p.srcStride[0] + int(j) * p.srcStride[1] +
                int(k) * p.srcStride[2];
  const int d = p.dstOffset + int(l) * p.dstStride[0] + int(j) * p.dstStride[1] +
                int(k) * p.dstStride[2];
  const uint from = p.xOffset + uint(s) * p.words, to = p.yOffset + uint(d) * p.words;
  y[to] = x[from];
  if (p.words == 2u) y[to + 1u] = x[from + 1u];
}
