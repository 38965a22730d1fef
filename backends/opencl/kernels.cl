// The OpenCL backend's kernels (OpenCL C 1.2), one per primitive, each computing what the Vulkan
// backend's shader of the same name computes (backends/vulkan/shaders/*.comp) and, through it,
// the reference backend. The element functions are the Vulkan ones: the build puts kinds.glsl,
// unary.glsl and binary.glsl before this file, compiled as OpenCL C through the shims below.
//
// Every kernel takes the same arguments: eight buffers (b0 the output, b1... the primitive's
// inputs in order; unused ones repeat b0) and its parameters by value, whose first member is
// off[8], each buffer's first element. A post-op list is compiled in (-DPOST_COUNT=n and
// POST_CODEi, POST_ALPHAi, POST_BETAi as in shaders/postops.glsl): one program per list.

#define BUFFERS                                                                                \
  global float *b0, global const float *b1, global const float *b2, global const float *b3,    \
      global const float *b4, global const float *b5, global const float *b6,                  \
      global const float *b7
#define OPERANDS b1, b2, b3, b4, b5, b6, b7
#define OPERAND_PARAMS                                                                         \
  global const float *b1, global const float *b2, global const float *b3,                     \
      global const float *b4, global const float *b5, global const float *b6,                  \
      global const float *b7, const uint *off

#ifndef POST_COUNT
#define POST_COUNT 0
#endif

// Element i of input `operand` (buffer operand + 1).
float operandAt(uint operand, uint i, OPERAND_PARAMS) {
  switch (operand) {
  case 0u: return b1[off[1] + i];
  case 1u: return b2[off[2] + i];
  case 2u: return b3[off[3] + i];
  case 3u: return b4[off[4] + i];
  case 4u: return b5[off[5] + i];
  case 5u: return b6[off[6] + i];
  }
  return b7[off[7] + i];
}

float postOp(uint code, float alpha, float beta, float v, uint idx, uint channel,
             OPERAND_PARAMS) {
  if ((code & 0x100u) == 0u) return unaryOf(code & 0xffu, v, alpha, beta);
  const uint how = (code >> 9) & 3u;
  const float x = operandAt((code >> 11) & 7u,
                            how == BROADCAST_Scalar ? 0u : how == BROADCAST_Channel ? channel : idx,
                            b1, b2, b3, b4, b5, b6, b7, off);
  return (code & 0x4000u) != 0u ? binaryOf(code & 0xffu, x, v) : binaryOf(code & 0xffu, v, x);
}

#define POST_STEP(i)                                                                           \
  v = postOp(POST_CODE##i, POST_ALPHA##i, POST_BETA##i, v, idx, channel, b1, b2, b3, b4, b5, b6, \
             b7, off)

float postOps(float v, uint idx, uint channel, OPERAND_PARAMS) {
#if POST_COUNT > 0
  POST_STEP(0);
#endif
#if POST_COUNT > 1
  POST_STEP(1);
#endif
#if POST_COUNT > 2
  POST_STEP(2);
#endif
#if POST_COUNT > 3
  POST_STEP(3);
#endif
#if POST_COUNT > 4
  POST_STEP(4);
#endif
#if POST_COUNT > 5
  POST_STEP(5);
#endif
#if POST_COUNT > 6
  POST_STEP(6);
#endif
#if POST_COUNT > 7
  POST_STEP(7);
#endif
  return v;
}

typedef struct {
  uint off[8];
  uint count, kind;
  float alpha, beta;
} UnaryParams;

kernel void tessel_unary(BUFFERS, const UnaryParams p) {
  const uint i = get_global_id(0);
  if (i >= p.count) return;
  b0[p.off[0] + i] = unaryOf(p.kind, b1[p.off[1] + i], p.alpha, p.beta);
}

typedef struct {
  uint off[8];
  uint count, kind, rank;
  uint dims[6], aStrides[6], bStrides[6];
} BinaryParams;

kernel void tessel_binary(BUFFERS, const BinaryParams p) {
  const uint i = get_global_id(0);
  if (i >= p.count) return;
  uint rest = i, ia = 0u, ib = 0u;
  for (int d = (int)p.rank - 1; d >= 0; --d) {
    const uint c = rest % p.dims[d];
    rest /= p.dims[d];
    ia += c * p.aStrides[d];
    ib += c * p.bStrides[d];
  }
  b0[p.off[0] + i] = binaryOf(p.kind, b1[p.off[1] + ia], b2[p.off[2] + ib]);
}

// Raster moves words (offsets in words): an element is 1 or 2 of them.
typedef struct {
  uint off[8];
  uint count, words;
  int srcOffset, dstOffset;
  int srcStride[3], dstStride[3];
  uint size1, size2, fill, fillLo, fillHi;
} RasterParams;

kernel void tessel_raster(BUFFERS, const RasterParams p) {
  const uint i = get_global_id(0);
  if (i >= p.count) return;
  global uint *y = (global uint *)b0;
  global const uint *x = (global const uint *)b1;
  if (p.fill != 0u) {
    const uint at = p.off[0] + i * p.words;
    y[at] = p.fillLo;
    if (p.words == 2u) y[at + 1u] = p.fillHi;
    return;
  }
  const uint k = i % p.size2, rest = i / p.size2;
  const uint j = rest % p.size1, l = rest / p.size1;
  const int s = p.srcOffset + (int)l * p.srcStride[0] + (int)j * p.srcStride[1] +
                (int)k * p.srcStride[2];
  const int d = p.dstOffset + (int)l * p.dstStride[0] + (int)j * p.dstStride[1] +
                (int)k * p.dstStride[2];
  const uint from = p.off[1] + (uint)s * p.words, to = p.off[0] + (uint)d * p.words;
  y[to] = x[from];
  if (p.words == 2u) y[to + 1u] = x[from + 1u];
}

typedef struct {
  uint off[8];
  uint outer, extent, inner, kind, selectLast;
} ReduceParams;

kernel void tessel_reduce(BUFFERS, const ReduceParams p) {
  const uint i = get_global_id(0);
  if (i >= p.outer * p.inner) return;
  global uint *y = (global uint *)b0;
  const uint o = i / p.inner, k = i % p.inner;
  const uint base = p.off[1] + o * p.extent * p.inner + k;
  if (p.kind == REDUCE_ArgMax || p.kind == REDUCE_ArgMin) {
    const bool most = p.kind == REDUCE_ArgMax;
    uint best = 0u;
    float bestValue = b1[base];
    for (uint e = 1u; e < p.extent; ++e) {
      const float v = b1[base + e * p.inner];
      const bool better = most ? v > bestValue : v < bestValue;
      if (better || (p.selectLast != 0u && v == bestValue)) {
        best = e;
        bestValue = v;
      }
    }
    y[p.off[0] + 2u * i] = best;
    y[p.off[0] + 2u * i + 1u] = 0u;
    return;
  }
  float sum = 0.0f, carry = 0.0f, prod = 1.0f;
  float best = p.kind == REDUCE_Max ? -INFINITY : INFINITY;
  for (uint e = 0u; e < p.extent; ++e) {
    const float v = b1[base + e * p.inner];
    const float t = v - carry, s = sum + t; // Kahan
    carry = (s - sum) - t;
    sum = s;
    prod *= v;
    best = p.kind == REDUCE_Max ? (best < v ? v : best) : (v < best ? v : best);
  }
  float r = sum;
  if (p.kind == REDUCE_Mean) r = sum / (float)p.extent;
  if (p.kind == REDUCE_Prod) r = prod;
  if (p.kind == REDUCE_Max || p.kind == REDUCE_Min) r = best;
  ((global float *)b0)[p.off[0] + i] = r;
}

typedef struct {
  uint off[8];
  uint batch, m, n, k;
  int aStrides[3], bStrides[3], biasStrides[2];
  uint hasBias;
} MatMulParams;

kernel void tessel_matmul(BUFFERS, const MatMulParams p) {
  const uint idx = get_global_id(0);
  if (idx >= p.batch * p.m * p.n) return;
  const uint j = idx % p.n, rest = idx / p.n;
  const uint i = rest % p.m, t = rest / p.m;
  float acc = p.hasBias != 0u ? b3[(int)p.off[3] + (int)i * p.biasStrides[0] +
                                   (int)j * p.biasStrides[1]]
                              : 0.0f;
  const int aBase = (int)p.off[1] + (int)t * p.aStrides[0] + (int)i * p.aStrides[1];
  const int bBase = (int)p.off[2] + (int)t * p.bStrides[0] + (int)j * p.bStrides[2];
  for (uint kk = 0u; kk < p.k; ++kk)
    acc += b1[aBase + (int)kk * p.aStrides[2]] * b2[bBase + (int)kk * p.bStrides[1]];
  b0[p.off[0] + idx] = postOps(acc, idx, j, b1, b2, b3, b4, b5, b6, b7, p.off);
}

// Direct convolution: a work-item computes C (1 or 4) output channels of one pixel, so each input
// element it reads serves C channels; with C = 4 a group's channel count is a multiple of 4.
typedef struct {
  uint off[8];
  uint n, c, h, w, o, oh, ow, groups, cg, og, kh, kw;
  int sh, sw, pt, pl, dh, dw;
  uint hasBias;
} Conv2dParams;

#define MAX_CONV_CHANNELS 4

void convChannels(BUFFERS, const Conv2dParams *p, const uint C) {
  const uint idx = get_global_id(0);
  const uint blocks = p->o / C;
  if (idx >= p->n * blocks * p->oh * p->ow) return;
  const uint ox = idx % p->ow, oy = idx / p->ow % p->oh, oc0 = idx / (p->ow * p->oh) % blocks * C;
  const uint b = idx / (p->ow * p->oh * blocks), g = oc0 / p->og;
  const uint taps = p->kh * p->kw, step = p->cg * taps; // weights of one channel
  float acc[MAX_CONV_CHANNELS];
  for (uint j = 0u; j < C; ++j)
    acc[j] = p->hasBias != 0u ? b3[p->off[3] + oc0 + j] : 0.0f;
  const int iy0 = (int)oy * p->sh - p->pt, ix0 = (int)ox * p->sw - p->pl;
  const uint plane = p->h * p->w;
  for (uint ic = 0u; ic < p->cg; ++ic) {
    global const float *xp = b1 + p->off[1] + (b * p->c + g * p->cg + ic) * plane;
    global const float *wp = b2 + p->off[2] + (oc0 * p->cg + ic) * taps;
    for (uint ky = 0u; ky < p->kh; ++ky) {
      const int iy = iy0 + (int)ky * p->dh;
      if (iy < 0 || iy >= (int)p->h) continue;
      for (uint kx = 0u; kx < p->kw; ++kx) {
        const int ix = ix0 + (int)kx * p->dw;
        if (ix < 0 || ix >= (int)p->w) continue;
        const float v = xp[(uint)iy * p->w + (uint)ix];
        const uint t = ky * p->kw + kx;
        for (uint j = 0u; j < C; ++j)
          acc[j] += v * wp[j * step + t];
      }
    }
  }
  for (uint j = 0u; j < C; ++j) {
    const uint at = ((b * p->o + oc0 + j) * p->oh + oy) * p->ow + ox;
    b0[p->off[0] + at] = postOps(acc[j], at, oc0 + j, b1, b2, b3, b4, b5, b6, b7, p->off);
  }
}

kernel void tessel_conv2d(BUFFERS, const Conv2dParams p) {
  convChannels(b0, b1, b2, b3, b4, b5, b6, b7, &p, 1u);
}

kernel void tessel_conv2d_c4(BUFFERS, const Conv2dParams p) {
  convChannels(b0, b1, b2, b3, b4, b5, b6, b7, &p, 4u);
}

typedef struct {
  uint off[8];
  uint planes, h, w, oh, ow;
  int kh, kw, sh, sw, pt, pl, pb, pr;
  uint kind, countIncludePad;
} PoolParams;

kernel void tessel_pool(BUFFERS, const PoolParams p) {
  const uint i = get_global_id(0);
  if (i >= p.planes * p.oh * p.ow) return;
  const uint ox = i % p.ow, oy = i / p.ow % p.oh, plane = i / (p.ow * p.oh);
  const int y0 = (int)oy * p.sh - p.pt, x0 = (int)ox * p.sw - p.pl;
  const int ky0 = max(0, -y0), ky1 = min(p.kh, (int)p.h - y0);
  const int kx0 = max(0, -x0), kx1 = min(p.kw, (int)p.w - x0);
  const uint base = p.off[1] + plane * p.h * p.w;
  float best = -INFINITY, sum = 0.0f;
  for (int ky = ky0; ky < ky1; ++ky) {
    const uint row = base + (uint)(y0 + ky) * p.w;
    for (int kx = kx0; kx < kx1; ++kx) {
      const float v = b1[row + (uint)(x0 + kx)];
      best = max(best, v);
      sum += v;
    }
  }
  float r = best;
  if (p.kind == POOL_Avg) {
    int window = max(ky1 - ky0, 0) * max(kx1 - kx0, 0);
    if (p.countIncludePad != 0u) {
      const int ye = min(y0 + p.kh, (int)p.h + p.pb), xe = min(x0 + p.kw, (int)p.w + p.pr);
      window = (ye - y0) * (xe - x0);
    }
    r = window > 0 ? sum / (float)window : 0.0f;
  }
  b0[p.off[0] + i] = r;
}

typedef struct {
  uint off[8];
  uint count, channels, inner;
} ElementwiseParams;

kernel void tessel_elementwise(BUFFERS, const ElementwiseParams p) {
  const uint i = get_global_id(0);
  if (i >= p.count) return;
  b0[p.off[0] + i] =
      postOps(b1[p.off[1] + i], i, i / p.inner % p.channels, b1, b2, b3, b4, b5, b6, b7, p.off);
}

// Gather of 4- or 8-byte elements (words moved) by i32 or i64 indices; an index outside
// [-extent, extent) writes zeros and raises the stream's fault word (b7).
typedef struct {
  uint off[8];
  uint outer, extent, inner, count, words, wide, elements;
} GatherParams;

kernel void tessel_gather(BUFFERS, const GatherParams p) {
  const uint i = get_global_id(0);
  if (i >= p.outer * p.count * p.inner) return;
  global uint *y = (global uint *)b0;
  global const uint *x = (global const uint *)b1;
  global const uint *ix = (global const uint *)b2;
  const uint k = i % p.inner, j = i / p.inner % p.count, o = i / (p.inner * p.count);
  const uint at = p.elements != 0u ? i : j;
  const uint lo = p.wide != 0u ? ix[p.off[2] + 2u * at] : ix[p.off[2] + at];
  const uint hi = p.wide != 0u ? ix[p.off[2] + 2u * at + 1u] : ((int)lo < 0 ? 0xffffffffu : 0u);
  int row = -1;
  if (hi == 0u && lo < p.extent) row = (int)lo;
  if (hi == 0xffffffffu && (int)lo < 0 && (int)lo + (int)p.extent >= 0)
    row = (int)lo + (int)p.extent;
  const uint to = p.off[0] + i * p.words;
  if (row < 0) {
    ((global uint *)b7)[p.off[7]] = 1u;
    y[to] = 0u;
    if (p.words == 2u) y[to + 1u] = 0u;
    return;
  }
  const uint from = p.off[1] + ((o * p.extent + (uint)row) * p.inner + k) * p.words;
  y[to] = x[from];
  if (p.words == 2u) y[to + 1u] = x[from + 1u];
}

// Select (ONNX Where) of 4- or 8-byte elements, rank at most 4; cond is one byte an element.
typedef struct {
  uint off[8];
  uint count, rank, words;
  uint dims[4], condStrides[4], lhsStrides[4], rhsStrides[4];
  uint condByte; // cond's first byte within its first word (a view may start mid-word)
} SelectParams;

kernel void tessel_select(BUFFERS, const SelectParams p) {
  const uint i = get_global_id(0);
  if (i >= p.count) return;
  uint rest = i, ic = 0u, il = 0u, ir = 0u;
  for (int d = (int)p.rank - 1; d >= 0; --d) {
    const uint k = rest % p.dims[d];
    rest /= p.dims[d];
    ic += k * p.condStrides[d];
    il += k * p.lhsStrides[d];
    ir += k * p.rhsStrides[d];
  }
  global uint *y = (global uint *)b0;
  const bool pick = ((global const uchar *)b1)[p.off[1] * 4u + p.condByte + ic] != 0;
  global const uint *from = pick ? (global const uint *)b2 + p.off[2] + il * p.words
                                 : (global const uint *)b3 + p.off[3] + ir * p.words;
  const uint to = p.off[0] + i * p.words;
  y[to] = from[0];
  if (p.words == 2u) y[to + 1u] = from[1];
}
