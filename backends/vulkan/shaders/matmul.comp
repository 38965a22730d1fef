// MatMul (core/primitive.h) over f32: one invocation per output element, the operands read
// through their strides (batch, row, column; 0 where they broadcast), the bias through its own,
// then the post-op list with n as the channel, as backends/reference/matmul.cpp computes it. k
// is at most 32768 (lavapipe ends a shader's loops after 65535 iterations).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "kinds.glsl"

layout(local_size_x = 256) in;
#include "operands.glsl" // b1 a, b2 b, b3 bias when hasBias; post-op operands after

layout(push_constant) uniform Params {
  uint off[8];
  uint batch, m, n, k;
  int aStrides[3];
  int bStrides[3];
  int biasStrides[2];
  uint hasBias;
} p;

#include "unary.glsl"
#include "binary.glsl"
#include "postops.glsl"

void main() {
  const uint idx = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (idx >= p.batch * p.m * p.n) return;
  const uint j = idx % p.n, rest = idx / p.n;
  const uint i = rest % p.m, t = rest / p.m;
  float acc = p.hasBias != 0u
                  ? b3[int(p.off[3]) + int(i) * p.biasStrides[0] + int(j) * p.biasStrides[1]]
                  : 0.0;
  const int aBase = int(p.off[1]) + int(t) * p.aStrides[0] + int(i) * p.aStrides[1];
  const int bBase = int(p.off[2]) + int(t) * p.bStrides[0] + int(j) * p.bStrides[2];
  for (uint kk = 0u; kk < p.k; ++kk)
    acc += b1[aBase + int(kk) * p.aStrides[2]] * b2[bBase + int(kk) * p.bStrides[1]];
  y[p.off[0] + idx] = postOps(acc, idx, j);
}
