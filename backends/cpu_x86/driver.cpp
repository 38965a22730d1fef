#include "driver.h"

namespace tessel::x86 {

bool vectorUnary(UnaryKind k) {
  switch (k) {
  case UnaryKind::Identity:
  case UnaryKind::Relu:
  case UnaryKind::LeakyRelu:
  case UnaryKind::Clip:
  case UnaryKind::Sigmoid:
  case UnaryKind::HardSigmoid:
  case UnaryKind::HardSwish:
  case UnaryKind::Tanh:
  case UnaryKind::Exp:
  case UnaryKind::Neg:
  case UnaryKind::Abs:
  case UnaryKind::Erf:
  case UnaryKind::Reciprocal: return true;
  default: return false;
  }
}

bool vectorBinary(BinaryKind k) {
  return k != BinaryKind::Pow;
}

bool vectorPostOps(const PostOps& ops) {
  for (const PostOp& op : ops)
    if (op.isBinary ? !vectorBinary(op.binary) : !vectorUnary(op.unary)) return false;
  return true;
}

EpiloguePlan::EpiloguePlan(const PostOps& ops, Spread channel, int biasInput, Spread biasSpread,
                           int64_t biasLd) {
  if (biasInput >= 0) {
    EpilogueOp bias;
    bias.isBinary = true;
    bias.op = static_cast<uint8_t>(BinaryKind::Add);
    bias.spread = biasSpread;
    bias.ld = biasLd;
    ops_.push_back(bias);
    operand_.push_back(biasInput);
    hasBias_ = true;
  }
  for (const PostOp& p : ops) {
    EpilogueOp e;
    e.isBinary = p.isBinary;
    e.op = p.isBinary ? static_cast<uint8_t>(p.binary) : static_cast<uint8_t>(p.unary);
    e.alpha = p.alpha;
    e.beta = p.beta;
    e.operandFirst = p.operandFirst;
    e.spread = p.broadcast == Broadcast::Scalar    ? Spread::Scalar
               : p.broadcast == Broadcast::Channel ? channel
                                                   : Spread::Full;
    ops_.push_back(e);
    operand_.push_back(p.isBinary ? p.operand : -1);
  }
}

void EpiloguePlan::resolve(std::span<const TensorArg> inputs, int64_t fullOffset, int64_t ld,
                           std::vector<EpilogueOp>* out) const {
  *out = ops_;
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (operand_[i] < 0) continue;
    EpilogueOp& e = (*out)[i];
    e.data = inputs[operand_[i]].hostData<float>();
    if (e.spread == Spread::Full && !(hasBias_ && i == 0)) { // a bias is the same for every output
      e.data += fullOffset;
      if (e.ld == 0) e.ld = ld;
    }
  }
}

void parallelFor(const ExecContext& ctx, int64_t tasks,
                 const std::function<void(int64_t, int)>& fn) {
  if (ctx.pool && ctx.threads > 1 && tasks > 1) {
    ctx.pool->parallelFor(tasks, ctx.threads, fn);
    return;
  }
  for (int64_t t = 0; t < tasks; ++t)
    fn(t, 0);
}

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

int64_t windowScratchFloats(const ConvGeometry& g) {
  const int64_t rows = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  const int64_t cols = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  // phases, per-column divisors (rounded to even), then one int64 tap offset per tap
  const int64_t phases = g.sw * rows * ceilDiv(cols, g.sw);
  return ((phases + 1) & ~int64_t{1}) + ((g.ow + 1) & ~int64_t{1}) + 2 * g.kh * g.kw;
}

} // namespace tessel::x86
