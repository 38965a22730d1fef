// Which elementwise work may ride on the primitive producing its input as post-ops, and how
// hardswish spelled out is recognized: the rules shared by the compiler's pass
// (ir/lib/FuseElementwise.cpp, over MLIR) and the fusion of plans made at run time
// (graph/src/fuse.cpp, over a Program), so both fuse exactly the same forms.
#pragma once

#include "tessel/core/primitive.h"
#include "tessel/core/tensor_desc.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <vector>

namespace tessel {

// The channel dim of a producer's result: conv2d's C, matmul's n when it is the last dim.
inline std::optional<size_t> postOpChannelDim(const Primitive& p, const Shape& out) {
  if (p.kind() == PrimitiveKind::Conv2d)
    return out.size() == 4 ? std::optional<size_t>(1) : std::nullopt;
  if (p.kind() == PrimitiveKind::MatMul && !out.empty() && out.back() == p.as<MatMulParams>().n)
    return out.size() - 1;
  return std::nullopt;
}

inline bool allZeroStrides(const I64List& s) {
  return std::all_of(s.begin(), s.end(), [](int64_t v) { return v == 0; });
}

// How a binary reads its other operand (strides over the producer's result `out`), if a post-op
// can: a scalar, a dense tensor of the result's shape, or one value per channel.
inline std::optional<Broadcast> postOpSpread(const I64List& strides, const Shape& out,
                                             std::optional<size_t> channel) {
  if (allZeroStrides(strides)) return Broadcast::Scalar;
  if (stridesAreDense(strides, out)) return Broadcast::Full;
  if (!channel) return std::nullopt;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] > 1 && strides[i] != (i == *channel ? 1 : 0)) return std::nullopt;
  return Broadcast::Channel;
}

// A unary a post-op can carry (a cast changes the type; an identity is nothing to carry).
inline bool unaryInPostOps(UnaryKind k) {
  return k != UnaryKind::Cast && k != UnaryKind::Identity;
}

// Hardswish pieces: x * clip(x + 3, 0, 6) / 6, or x * hardsigmoid(x) with slope 1/6 and
// offset 1/2. `k` is a binary's scalar constant operand.
inline bool dividesBySix(BinaryKind kind, float k) {
  return (kind == BinaryKind::Div && k == 6.f) ||
         (kind == BinaryKind::Mul && std::fabs(k - 1.f / 6) < 1e-7f);
}
inline bool addsThree(BinaryKind kind, float k) {
  return kind == BinaryKind::Add && k == 3.f;
}
inline bool clipsZeroToSix(const UnaryParams& u) {
  return u.kind == UnaryKind::Clip && u.alpha == 0.f && u.beta == 6.f;
}
inline bool isHardSigmoidSixth(const UnaryParams& u) {
  return u.kind == UnaryKind::HardSigmoid && std::fabs(u.alpha - 1.f / 6) < 1e-6f &&
         std::fabs(u.beta - 0.5f) < 1e-6f;
}

// The post-op that carries binary `b` reading the producer's result `out` (as its left operand
// when producerIsLhs) and another operand, or none when it cannot ride (a comparison, the
// result not read densely, a broadcast the kernels do not take). `operand` is the input index
// the other operand will have on the producer.
inline std::optional<PostOp> binaryPostOp(const Primitive& producer, const BinaryParams& b,
                                          bool producerIsLhs, const Shape& out, int32_t operand) {
  if (!binaryInPostOps(b.kind)) return std::nullopt; // comparisons, logic, remainders
  const I64List& own = producerIsLhs ? b.lhsStrides : b.rhsStrides;
  const I64List& other = producerIsLhs ? b.rhsStrides : b.lhsStrides;
  auto spread = postOpSpread(other, out, postOpChannelDim(producer, out));
  if (!stridesAreDense(own, out) || !spread) return std::nullopt;
  const bool commutative = b.kind == BinaryKind::Add || b.kind == BinaryKind::Mul ||
                           b.kind == BinaryKind::Max || b.kind == BinaryKind::Min;
  return PostOp::makeBinary(b.kind, *spread, operand, !producerIsLhs && !commutative);
}

// Folds the leading post-ops of a conv2d that scale or shift by constants (a batch norm after
// the convolution, a learnable scale and shift) into its weights ([o][perOut]) and bias ([o]):
// y = (W x + b) * s + t = (W s) x + (b s + t). constant(k): the f32 values of input k when it
// is a constant (empty otherwise). Returns how many post-ops were folded (the rest stay).
template <typename ConstantOf>
size_t foldLeadingAffine(const PostOps& ops, int64_t o, std::vector<float>& weights,
                         std::vector<float>& bias, ConstantOf&& constant) {
  const int64_t perOut = o > 0 ? static_cast<int64_t>(weights.size()) / o : 0;
  size_t folded = 0;
  for (; folded < ops.size(); ++folded) {
    const PostOp& step = ops[folded];
    if (!step.isBinary || step.operandFirst || step.broadcast == Broadcast::Full) break;
    const bool scale = step.binary == BinaryKind::Mul || step.binary == BinaryKind::Div;
    if (!scale && step.binary != BinaryKind::Add && step.binary != BinaryKind::Sub) break;
    const std::span<const float> values = constant(step.operand);
    const bool perChannel = step.broadcast == Broadcast::Channel;
    if (values.empty() || (perChannel && static_cast<int64_t>(values.size()) != o)) break;
    const auto at = [&](int64_t ch) { return values[perChannel ? static_cast<size_t>(ch) : 0]; };
    bool byZero = false; // x / 0 stays as written
    for (int64_t ch = 0; ch < o && step.binary == BinaryKind::Div; ++ch)
      byZero = byZero || at(ch) == 0.f;
    if (byZero) break;
    for (int64_t ch = 0; ch < o; ++ch) {
      const float v = at(ch);
      float* w = weights.data() + ch * perOut;
      switch (step.binary) {
      case BinaryKind::Mul:
        for (int64_t i = 0; i < perOut; ++i)
          w[i] *= v;
        bias[static_cast<size_t>(ch)] *= v;
        break;
      case BinaryKind::Div:
        for (int64_t i = 0; i < perOut; ++i)
          w[i] /= v;
        bias[static_cast<size_t>(ch)] /= v;
        break;
      case BinaryKind::Add: bias[static_cast<size_t>(ch)] += v; break;
      default: bias[static_cast<size_t>(ch)] -= v; break;
      }
    }
  }
  return folded;
}

} // namespace tessel
