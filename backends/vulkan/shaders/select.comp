// Select (core/primitive.h, ONNX Where) of 4- or 8-byte elements (words moved, any dtype): y[i]
// = cond[ic] ? lhs[il] : rhs[ir] over the output's shape (rank at most 4), each operand read
// through its own strides (0 where it broadcasts), as backends/reference computes it. cond is
// bool: one byte an element, read from the words that hold it.
#version 450

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { uint y[]; };
layout(std430, binding = 1) readonly buffer Cond { uint c[]; };
layout(std430, binding = 2) readonly buffer Lhs { uint a[]; };
layout(std430, binding = 3) readonly buffer Rhs { uint b[]; };

layout(push_constant) uniform Params {
  uint off[4]; // words
  uint count, rank, words;
  uint dims[4];
  uint condStrides[4];
  uint lhsStrides[4];
  uint rhsStrides[4];
  uint condByte; // cond's first byte within its first word (a view may start mid-word)
} p;

void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (i >= p.count) return;
  uint rest = i, ic = 0u, il = 0u, ir = 0u;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const uint k = rest % p.dims[d];
    rest /= p.dims[d];
    ic += k * p.condStrides[d];
    il += k * p.lhsStrides[d];
    ir += k * p.rhsStrides[d];
  }
  const uint byteAt = p.off[1] * 4u + p.condByte + ic;
  const bool pick = ((c[byteAt / 4u] >> (8u * (byteAt % 4u))) & 0xffu) != 0u;
  const uint to = p.off[0] + i * p.words;
  if (pick) {
    y[to] = a[p.off[2] + il * p.words];
    if (p.words == 2u) y[to + 1u] = a[p.off[2] + il * p.words + 1u];
  } else {
    y[to] = b[p.off[3] + ir * p.words];
    if (p.words == 2u) y[to + 1u] = b[p.off[3] + ir * p.words + 1u];
  }
}
