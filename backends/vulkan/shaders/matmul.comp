// MatMul (core/primitive.h) without post-ops, f32: one invocation per output element, the
// operands read through their strides (batch, row, column; 0 where they broadcast), the bias
// through its own, as backends/reference/matmul.cpp computes it. k is at most 32768 (lavapipe
// ends a shader's loops after 65535 iterations).
#version 450

layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer InA { float a[]; };
layout(std430, binding = 2) readonly buffer InB { float b[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };

layout(push_constant) uniform Params {
  uint yOffset;
  uint aOffset;
  uint bOffset;
  uint biasOffset;
  uint batch;
  uint m;
  uint n;
  uint k;
  int aStrides[3];
  int bStrides[3];
  int biasStrides[2];
  uint hasBias;
} p;

void main() {
  const uint idx = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
  if (idx >= p.batch * p.m * p.n) return;
  const uint j = idx % p.n, rest = idx / p.n;
  const uint i = rest % p.m, t = rest / p.m;
  float acc = p.hasBias != 0u
                  ? bias[p.biasOffset + int(i) * p.biasStrides[0] + int(j) * p.biasStrides[1]]
                  : 0.0;
  const int aBase = int(p.aOffset) + int(t) * p.aStrides[0] + int(i) * p.aStrides[1];
  const int bBase = int(p.bOffset) + int(t) * p.bStrides[0] + int(j) * p.bStrides[2];
  for (uint kk = 0u; kk < p.k; ++kk)
    acc += a[aBase + int(kk) * p.aStrides[2]] * b[bBase + int(kk) * p.bStrides[1]];
  y[p.yOffset + idx] = acc;
}
