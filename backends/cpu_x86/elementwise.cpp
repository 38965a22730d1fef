// Elementwise work as one engine: the output, viewed as [outer, channels, inner], is a post-op
// program applied to one input. unary is a one-op program; binary becomes one when an operand
// is laid out like the output (the other is then a scalar, a channel vector or dense).
#include "elementwise.h"

#include <algorithm>

namespace tessel::x86 {
namespace {

struct Program {
  int x = 0;            // the input the program starts from
  int64_t channels = 1; // output viewed as [outer, channels, inner]
  int64_t inner = 1;
  PostOps ops;
};

// How an operand with `strides` spreads over the output: scalar, one dim (a channel), dense.
bool spreadOf(const I64List& strides, const Shape& shape, Broadcast* how, int64_t* channels,
              int64_t* inner) {
  int used = -1, count = 0;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 1 && strides[i] != 0) {
      used = static_cast<int>(i);
      ++count;
    }
  if (count == 0) {
    *how = Broadcast::Scalar;
    return true;
  }
  if (stridesAreDense(strides, shape)) {
    *how = Broadcast::Full;
    return true;
  }
  if (count != 1 || strides[used] != 1) return false;
  *how = Broadcast::Channel;
  *channels = shape[used];
  *inner = 1;
  for (size_t i = used + 1; i < shape.size(); ++i)
    *inner *= shape[i];
  return true;
}

// The program of p, or false when the engine does not run it. Asked once per backend choice and
// once more to prepare: the check alone builds nothing (out null).
bool programOf(const Primitive& p, const std::vector<TensorDesc>& t, Program* out) {
  Program unused;
  const bool check = out == nullptr;
  if (check) out = &unused;
  const TensorDesc& y = t[p.outputs[0]];
  switch (p.kind()) {
  case PrimitiveKind::Unary: {
    const auto& u = p.as<UnaryParams>();
    if (!vectorUnary(u.kind)) return false;
    out->inner = y.numel();
    if (!check) out->ops = {PostOp::makeUnary(u.kind, u.alpha, u.beta)};
    return true;
  }
  case PrimitiveKind::Elementwise: {
    const auto& e = p.as<ElementwiseParams>();
    if (!vectorPostOps(e.postOps)) return false;
    out->channels = e.channels;
    out->inner = e.inner;
    if (!check) out->ops = e.postOps;
    return true;
  }
  case PrimitiveKind::Binary: {
    const auto& b = p.as<BinaryParams>();
    if (!vectorBinary(b.kind)) return false;
    const bool lhsDense = stridesAreDense(b.lhsStrides, y.shape);
    const bool rhsDense = stridesAreDense(b.rhsStrides, y.shape);
    if (!lhsDense && !rhsDense) return false;
    out->x = lhsDense ? 0 : 1;
    Broadcast how;
    if (!spreadOf(lhsDense ? b.rhsStrides : b.lhsStrides, y.shape, &how, &out->channels,
                  &out->inner))
      return false;
    if (how != Broadcast::Channel) out->inner = y.numel();
    if (!check) out->ops = {PostOp::makeBinary(b.kind, how, lhsDense ? 1 : 0, !lhsDense)};
    return true;
  }
  default: return false;
  }
}

const PostOps kNoOps;

class ElementwiseKernel final : public PreparedKernel {
public:
  // Only the plan run() uses is built (columns when the channel runs along the rows).
  ElementwiseKernel(const KernelTable& t, Program prog)
      : t_(t), prog_(std::move(prog)),
        rowPlan_(prog_.inner == 1 ? kNoOps : prog_.ops, Spread::Row, -1, Spread::Row),
        columnPlan_(prog_.inner == 1 ? prog_.ops : kNoOps, Spread::Column, -1, Spread::Column) {}

  // Each element is read before the element at its index is written.
  int inPlaceInput() const override { return prog_.x; }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    const int64_t n = out.desc->numel();
    if (n == 0) return Status::ok();
    const float* x = in[prog_.x].hostData<float>();
    float* y = out.mutableHostData<float>();
    const int64_t block = prog_.channels * prog_.inner;
    const int64_t outer = n / block;
    std::vector<EpilogueOp> ops;
    if (prog_.inner == 1) {
      // Rows of `channels` elements, the channel along the row.
      columnPlan_.resolve(in, 0, prog_.channels, &ops);
      const Epilogue ep{ops.data(), static_cast<int>(ops.size())};
      runRows(ctx, outer, prog_.channels, [&](int64_t row, int64_t c0, int64_t len) {
        const int64_t at = row * prog_.channels + c0;
        t_.epilogueRow(x + at, y + at, len, ep, row, c0);
      });
      return Status::ok();
    }
    for (int64_t o = 0; o < outer; ++o) {
      // Rows of `inner` elements, one channel each.
      rowPlan_.resolve(in, o * block, prog_.inner, &ops);
      const Epilogue ep{ops.data(), static_cast<int>(ops.size())};
      runRows(ctx, prog_.channels, prog_.inner, [&](int64_t c, int64_t i0, int64_t len) {
        const int64_t at = o * block + c * prog_.inner + i0;
        t_.epilogueRow(x + at, y + at, len, ep, c, i0);
      });
    }
    return Status::ok();
  }

private:
  // Splits rows x length into tasks of about 16K elements.
  template <typename F>
  void runRows(const ExecContext& ctx, int64_t rows, int64_t length, const F& f) const {
    constexpr int64_t kTask = 16384;
    const int64_t piece = std::min(length, std::max<int64_t>(kTask, 1));
    const int64_t pieces = ceilDiv(length, piece);
    const int64_t rowsPerTask = std::max<int64_t>(1, kTask / std::max<int64_t>(length, 1));
    const int64_t rowTasks = ceilDiv(rows, rowsPerTask);
    parallelFor(ctx, rowTasks * pieces, [&](int64_t task, int) {
      const int64_t rt = task / pieces, pc = task % pieces;
      const int64_t i0 = pc * piece, len = std::min(piece, length - i0);
      for (int64_t r = rt * rowsPerTask; r < std::min(rows, (rt + 1) * rowsPerTask); ++r)
        f(r, i0, len);
    });
  }

  const KernelTable& t_;
  Program prog_;
  EpiloguePlan rowPlan_, columnPlan_;
};

} // namespace

bool elementwiseSupported(const Primitive& p, const std::vector<TensorDesc>& tensors) {
  return programOf(p, tensors, nullptr);
}

std::unique_ptr<PreparedKernel> prepareElementwise(const KernelTable& table,
                                                   const PrepareArgs& args) {
  Program prog;
  if (!programOf(*args.primitive, *args.tensors, &prog)) return nullptr;
  return std::make_unique<ElementwiseKernel>(table, std::move(prog));
}

} // namespace tessel::x86
