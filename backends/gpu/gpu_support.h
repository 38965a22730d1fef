// What the GPU backends (vulkan, opencl) share about their kernels: which primitives those take,
// given a device's limits, and how a post-op list is encoded for them (the same codes in
// backends/vulkan/shaders/postops.glsl and backends/opencl/kernels.cl). Header-only: each backend
// is its own plugin library.
#pragma once

#include "tessel/core/primitive.h"
#include "tessel/core/status.h"
#include "tessel/runtime/backend.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

namespace tessel::gpu {

constexpr uint32_t kBindings = 8; // buffers per kernel: the output, then inputs in order
constexpr size_t kMaxPostOps = 8; // steps a kernel's compiled-in post-op list holds
constexpr int64_t kMaxElements = int64_t{1} << 31; // indices are 32-bit

// What a device allows a kernel.
struct Limits {
  int64_t maxTensorBytes = 0; // one tensor, as one binding reaches it
  // Iterations one invocation may loop (lavapipe ends a shader's loops after 65535 in all).
  int64_t maxLoop = std::numeric_limits<int64_t>::max();
  // A reduction's extent (a backend may reduce a long one in several passes).
  int64_t maxReduceExtent = std::numeric_limits<int64_t>::max();
  // Past this extent a reduction takes two passes, with a partial per chunk of it in 32-bit
  // indices (0: always one pass).
  int64_t reduceChunk = 0;
  // Workgroup layers of a conv2d (one per image, group and tile of up to 4 channels).
  int64_t maxConvLayers = std::numeric_limits<int64_t>::max();
};

inline bool fitsInt32(int64_t v) {
  return v > -(int64_t{1} << 31) && v < (int64_t{1} << 31);
}

// A plain tensor with 32-bit indices that one binding reaches.
inline bool reachable(const TensorDesc& d, const Limits& l) {
  return d.layout == Layout::Plain && d.numel() < kMaxElements && d.byteSize() <= l.maxTensorBytes;
}

inline bool plainF32(const TensorDesc& d, const Limits& l) {
  return d.dtype == DType::F32 && reachable(d, l);
}

// Every input and the output plain f32; at most kBindings tensors; a post-op list the kernels
// take (at most kMaxPostOps steps, no cast).
inline bool allF32WithPostOps(const Primitive& p, const std::vector<TensorDesc>& t,
                              const Limits& l) {
  if (p.inputs.size() + 1 > kBindings || !plainF32(t[p.outputs[0]], l)) return false;
  for (int32_t id : p.inputs)
    if (!plainF32(t[id], l)) return false;
  const PostOps* ops = postOpsOf(p);
  if (!ops) return true;
  if (ops->size() > kMaxPostOps) return false;
  for (const PostOp& op : *ops)
    if (op.isBinary ? !binaryInPostOps(op.binary) : op.unary == UnaryKind::Cast) return false;
  return true;
}

// One invocation walks k; strides in 32 bits.
inline bool matmulSupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const auto& m = p.as<MatMulParams>();
  if (m.k > l.maxLoop || !allF32WithPostOps(p, t, l)) return false;
  bool ok = m.batch * m.m * m.n < kMaxElements;
  for (int d = 0; d < 3; ++d)
    ok = ok && fitsInt32(m.aStrides[d]) && fitsInt32(m.bStrides[d]);
  for (int d = 0; d < 2 && m.hasBias; ++d)
    ok = ok && fitsInt32(m.biasStrides[d]);
  return ok;
}

// One invocation walks cg * kh * kw products; geometry in 32 bits.
inline bool conv2dSupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const auto& cp = p.as<Conv2dParams>();
  if (!allF32WithPostOps(p, t, l)) return false;
  const Shape& w = t[p.inputs[1]].shape;
  if (w.size() != 4 || w[1] * w[2] * w[3] > l.maxLoop) return false;
  const int64_t og = w[0] / cp.group;
  const int64_t tile = std::clamp<int64_t>(og, 1, 4);
  if (t[p.inputs[0]].shape[0] * cp.group * ((og + tile - 1) / tile) > l.maxConvLayers) return false;
  bool ok = true;
  for (int d = 0; d < 2; ++d)
    ok = ok && fitsInt32(cp.stride[d]) && fitsInt32(cp.dilation[d]) &&
         fitsInt32(cp.pads[d] + cp.stride[d] * t[p.outputs[0]].shape[2 + d] +
                   w[2 + d] * cp.dilation[d]);
  return ok;
}

// One invocation walks its window.
inline bool poolSupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const auto& pp = p.as<PoolParams>();
  if (!plainF32(t[p.inputs[0]], l) || !plainF32(t[p.outputs[0]], l)) return false;
  bool ok = pp.kernel[0] * pp.kernel[1] <= l.maxLoop;
  for (int d = 0; d < 2; ++d)
    ok = ok && fitsInt32(pp.stride[d]) && fitsInt32(pp.pads[d]) && fitsInt32(pp.pads[d + 2]) &&
         fitsInt32(pp.stride[d] * t[p.outputs[0]].shape[2 + d] + pp.kernel[d]);
  return ok;
}

// f32 in; f32 out, or i64 indices for argmax and argmin; an empty extent only where the
// reference gives a value (sums 0, products 1, extremes infinite; arg reductions need one).
inline bool reduceSupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const auto& r = p.as<ReduceParams>();
  const TensorDesc& x = t[p.inputs[0]];
  const TensorDesc& y = t[p.outputs[0]];
  const bool arg = reduceGivesIndex(r.kind);
  if (x.dtype != DType::F32 || y.dtype != (arg ? DType::I64 : DType::F32)) return false;
  if (!reachable(x, l) || !reachable(y, l) || (arg && r.extent == 0)) return false;
  const int64_t chunks = l.reduceChunk > 0 && r.extent > l.reduceChunk
                             ? (r.extent + l.reduceChunk - 1) / l.reduceChunk
                             : 1;
  return r.outer * r.inner < kMaxElements && r.extent <= l.maxReduceExtent &&
         r.outer * r.inner * chunks < kMaxElements;
}

// Rasters move 4- or 8-byte elements; offsets, strides and sizes in 32 bits.
inline bool rasterSupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const TensorDesc& out = t[p.outputs[0]];
  const size_t elem = dtypeSize(out.dtype);
  if ((elem != 4 && elem != 8) || !reachable(out, l)) return false;
  for (int32_t id : p.inputs)
    if (t[id].dtype != out.dtype || !reachable(t[id], l)) return false;
  for (const Region& g : p.as<RasterParams>().regions) {
    bool ok = fitsInt32(g.src.offset) && fitsInt32(g.dst.offset);
    for (int a = 0; a < 3; ++a)
      ok = ok && fitsInt32(g.src.stride[a]) && fitsInt32(g.dst.stride[a]) && fitsInt32(g.size[a]);
    if (!ok) return false;
  }
  return true;
}

// The arithmetic kinds binaryOf computes (the post-ops' and fmod), numpy broadcasting to rank 6.
inline bool binarySupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const auto& b = p.as<BinaryParams>();
  const Shape& out = t[p.outputs[0]].shape;
  const bool kind = binaryInPostOps(b.kind) || b.kind == BinaryKind::FMod;
  if (!kind || !allF32WithPostOps(p, t, l) || out.size() > 6) return false;
  for (size_t d = 0; d < out.size(); ++d)
    if (b.lhsStrides[d] < 0 || b.rhsStrides[d] < 0 || b.lhsStrides[d] >= kMaxElements ||
        b.rhsStrides[d] >= kMaxElements)
      return false;
  return true;
}

// Elements of 4 or 8 bytes (words moved) by i32 or i64 indices.
inline bool gatherSupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const auto& g = p.as<GatherParams>();
  const TensorDesc& data = t[p.inputs[0]];
  const TensorDesc& idx = t[p.inputs[1]];
  const TensorDesc& out = t[p.outputs[0]];
  const size_t elem = dtypeSize(out.dtype);
  if ((elem != 4 && elem != 8) || data.dtype != out.dtype) return false;
  if (idx.dtype != DType::I32 && idx.dtype != DType::I64) return false;
  return reachable(data, l) && reachable(idx, l) && reachable(out, l) &&
         out.numel() * static_cast<int64_t>(elem / 4) < kMaxElements &&
         data.numel() * static_cast<int64_t>(elem / 4) < kMaxElements && g.extent < kMaxElements;
}

// Elements of 4 or 8 bytes chosen by a bool condition, numpy broadcasting to rank 4.
inline bool selectSupported(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  const auto& s = p.as<SelectParams>();
  const TensorDesc& out = t[p.outputs[0]];
  const size_t elem = dtypeSize(out.dtype);
  if ((elem != 4 && elem != 8) || out.shape.size() > 4 || t[p.inputs[0]].dtype != DType::Bool)
    return false;
  if (t[p.inputs[1]].dtype != out.dtype || t[p.inputs[2]].dtype != out.dtype) return false;
  for (int32_t id : p.inputs)
    if (!reachable(t[id], l) || t[id].numel() * static_cast<int64_t>(elem / 4) >= kMaxElements)
      return false;
  if (!reachable(out, l) || out.numel() * static_cast<int64_t>(elem / 4) >= kMaxElements)
    return false;
  for (size_t d = 0; d < out.shape.size(); ++d)
    for (const I64List* st : {&s.condStrides, &s.lhsStrides, &s.rhsStrides})
      if ((*st)[d] < 0 || (*st)[d] >= kMaxElements) return false;
  return true;
}

// Whether the GPU kernels take primitive p on a device with limits l.
inline bool supports(const Primitive& p, const std::vector<TensorDesc>& t, const Limits& l) {
  switch (p.kind()) {
  case PrimitiveKind::Raster: return rasterSupported(p, t, l);
  case PrimitiveKind::Reduce: return reduceSupported(p, t, l);
  case PrimitiveKind::MatMul: return matmulSupported(p, t, l);
  case PrimitiveKind::Conv2d: return conv2dSupported(p, t, l);
  case PrimitiveKind::Pool: return poolSupported(p, t, l);
  case PrimitiveKind::Elementwise: return allF32WithPostOps(p, t, l);
  case PrimitiveKind::Unary:
    return allF32WithPostOps(p, t, l) && p.as<UnaryParams>().kind != UnaryKind::Cast;
  case PrimitiveKind::Binary: return binarySupported(p, t, l);
  case PrimitiveKind::Gather: return gatherSupported(p, t, l);
  case PrimitiveKind::Select: return selectSupported(p, t, l);
  default: return false;
  }
}

// A post-op list as the kernels compile it in: its length, then kMaxPostOps codes, alphas (as
// float bits) and betas. A code's bits: 0-7 the unary or binary kind, 8 set for a binary step,
// 9-10 the operand's broadcast, 11-13 the operand (an input index), 14 the operand comes first.
constexpr size_t kPostOpWords = 1 + 3 * kMaxPostOps;
inline std::vector<uint32_t> encodePostOps(const PostOps& ops) {
  std::vector<uint32_t> words(kPostOpWords, 0);
  words[0] = static_cast<uint32_t>(ops.size());
  for (size_t i = 0; i < ops.size() && i < kMaxPostOps; ++i) {
    const PostOp& op = ops[i];
    words[1 + i] = op.isBinary ? static_cast<uint32_t>(op.binary) | 0x100u |
                                     static_cast<uint32_t>(op.broadcast) << 9 |
                                     static_cast<uint32_t>(op.operand) << 11 |
                                     (op.operandFirst ? 0x4000u : 0)
                               : static_cast<uint32_t>(op.unary);
    words[1 + kMaxPostOps + i] = std::bit_cast<uint32_t>(op.alpha);
    words[1 + 2 * kMaxPostOps + i] = std::bit_cast<uint32_t>(op.beta);
  }
  return words;
}

// A GPU backend's per-process context (its device, queues, programs), made by `create` on the
// first call and kept for the life of the process; every later caller gets the same one, or the
// same error when it could not be made (a failed context's handles are left to the process's
// end). One per context type, hence per plugin.
template <typename Context> Result<Context*> processContext(Status (*create)(Context&)) {
  static Context* made = nullptr;
  static Status why;
  static std::once_flag once;
  std::call_once(once, [create] {
    auto* c = new Context();
    why = create(*c);
    if (why.isOk()) made = c;
  });
  if (!made) return why;
  return made;
}

// A launch's fixed cost plus the longer of its bytes at a modest bandwidth and `workSeconds`,
// the time its arithmetic takes on the device.
inline double launchSeconds(const Primitive& p, const std::vector<TensorDesc>& t,
                            double workSeconds) {
  return 20e-6 + std::max(primitiveBytes(p, t) / 20e9, workSeconds);
}

// launchSeconds with the arithmetic at the device's nominal rate (flopsPerSecond): the GPU
// backends' estimate where they know nothing finer (measurement refines it: docs/search.md).
inline double roughSeconds(const Primitive& p, const std::vector<TensorDesc>& t,
                           double flopsPerSecond) {
  return launchSeconds(p, t, primitiveFlops(p, t) / flopsPerSecond);
}

// A nominal arithmetic rate by kind of device, until the device is measured (the search issue):
// a CPU running the GPU API (lavapipe, PoCL: about 20 GFLOP/s measured on resnet18's convs), an
// integrated GPU, a discrete one.
enum class DeviceKind : uint8_t { Cpu, Integrated, Discrete };
inline double nominalFlops(DeviceKind kind) {
  return kind == DeviceKind::Cpu ? 20e9 : kind == DeviceKind::Integrated ? 500e9 : 5e12;
}

} // namespace tessel::gpu
