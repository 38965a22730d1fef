#include "driver.h"

#include <algorithm>

namespace tessel::x86 {

FastEpilogue decodeEpilogue(const Epilogue* ep, bool columns, bool rowResidual) {
  FastEpilogue f;
  if (!ep) {
    f.usable = true;
    return f;
  }
  int i = 0;
  const auto scalarOp = [&](int at, BinaryKind kind) {
    return at < ep->count && ep->ops[at].isBinary && ep->ops[at].spread == Spread::Scalar &&
           ep->ops[at].op == static_cast<uint8_t>(kind);
  };
  const auto addOf = [&](int at, Spread spread) {
    return at < ep->count && ep->ops[at].isBinary && ep->ops[at].spread == spread &&
           ep->ops[at].op == static_cast<uint8_t>(BinaryKind::Add) && !ep->ops[at].operandFirst;
  };
  if (columns) {
    if (addOf(i, Spread::Column)) f.colAdd = ep->ops[i++].data;
    if (addOf(i, Spread::Full)) {
      f.residual = true;
      ++i;
    }
  } else {
    if (addOf(i, Spread::Row)) f.rowAdd = ep->ops[i++].data;
    if (rowResidual && addOf(i, Spread::Full)) {
      f.residual = true;
      ++i;
    }
  }
  if (i < ep->count && !ep->ops[i].isBinary) {
    const auto u = static_cast<UnaryKind>(ep->ops[i].op);
    const int act = u == UnaryKind::Relu          ? 1
                    : u == UnaryKind::Clip        ? 2
                    : u == UnaryKind::HardSwish   ? 3
                    : u == UnaryKind::HardSigmoid ? 4
                    : u == UnaryKind::LeakyRelu   ? 5
                                                  : 0;
    if (act) {
      f.act = act;
      f.alpha = ep->ops[i].alpha;
      f.beta = ep->ops[i].beta;
      ++i;
    }
  }
  if (scalarOp(i, BinaryKind::Mul)) {
    f.affine = true;
    f.scale = ep->ops[i++].data[0];
  }
  if (scalarOp(i, BinaryKind::Add)) {
    f.affine = true;
    f.shift = ep->ops[i++].data[0];
  }
  f.usable = i == ep->count;
  return f;
}

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
  return binaryInPostOps(k) && k != BinaryKind::Pow;
}

bool vectorPostOps(const PostOps& ops) {
  for (const PostOp& op : ops)
    if (op.isBinary ? !vectorBinary(op.binary) : !vectorUnary(op.unary)) return false;
  return true;
}

EpiloguePlan::EpiloguePlan(const PostOps& ops, Spread channel, int biasInput, Spread biasSpread,
                           int64_t biasLd) {
  ops_.reserve(ops.size() + (biasInput >= 0 ? 1 : 0));
  operand_.reserve(ops_.capacity());
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
      const TensorDesc* d = inputs[operand_[i]].desc;
      e.block = d ? layoutBlock(d->layout) : 0;
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
  return a / b + (a % b != 0); // no overflow near INT64_MAX (dims of empty tensors may be huge)
}

WindowStrip windowStrip(const ConvGeometry& g, int lanes) {
  WindowStrip s;
  const int64_t window = (g.kh - 1) * g.dh + 1;
  s.cols = (ceilDiv(std::max<int64_t>(g.ow, 1), lanes) * lanes - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  const int64_t fit = 24 * 1024 / (s.cols * lanes); // input rows in 96 KiB
  s.rows = fit > window ? (fit - window) / g.sh + 1 : 1;
  s.rows = std::clamp<int64_t>(s.rows, 1, std::max<int64_t>(g.oh, 1));
  s.inRows = (s.rows - 1) * g.sh + window;
  // the strip, then the weights and tap offsets (windowTapFloats)
  s.floats = ceilDiv(s.inRows * s.cols * lanes, 16) * 16 + windowTapFloats(g, lanes);
  return s;
}

int64_t windowWorkspaceBytes(const KernelTable& t, const ConvGeometry& g, int threads) {
  return std::max(threads, 1) * windowStrip(g, t.vectorWidth).floats * 4;
}

void runWindow(const ExecContext& ctx, const KernelTable& t, const WindowBlock& block,
               int64_t channels, float* ws) {
  const ConvGeometry& g = block.g;
  if (channels == 0 || g.oh == 0 || g.ow == 0) return;
  const int lanes = t.vectorWidth;
  const WindowStrip strip = windowStrip(g, lanes);
  // A blocked output's last block is written whole: groups of lanes past the channels store
  // zeros.
  const int64_t blocks = ceilDiv(storedChannels(channels, block.yBlock), lanes);
  // Runs of rows as well when there are too few channel blocks for a few tasks per thread.
  const int64_t chunks =
      std::min(ceilDiv(g.oh, strip.rows), ceilDiv(4 * std::max(ctx.threads, 1), blocks));
  const int64_t rowsPerChunk = ceilDiv(g.oh, std::max<int64_t>(chunks, 1));
  const int64_t taps = g.kh * g.kw;
  parallelFor(ctx, blocks * chunks, [&](int64_t task, int slot) {
    const int64_t b = task / chunks, chunk = task % chunks, c0 = b * lanes;
    WindowBlock w = block;
    w.g.x = g.x + laneOffset(g.block, g.h * g.w, c0, 0);
    if (w.weight) w.weight += c0 * taps;
    w.channels = static_cast<int>(std::clamp<int64_t>(channels - c0, 0, lanes));
    w.oy0 = chunk * rowsPerChunk;
    w.oy1 = std::min(g.oh, w.oy0 + rowsPerChunk);
    w.strip = strip;
    w.scratch = ws + slot * strip.floats;
    w.channel = block.channel + c0;
    if (w.oy0 < w.oy1) t.window(w);
  });
}

} // namespace tessel::x86
