// tessel-fold-affine: the leading post-ops of a conv2d that scale or shift by constants (a
// batch-norm after the convolution, a learnable scale and shift) fold into its constant weights
// and bias, so the kernel runs with a plain bias: y = (W x + b) * s + t = (W s) x + (b s + t).
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tessel/core/fusion_rules.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELFOLDAFFINE
#include "tessel/ir/Passes.h.inc"

namespace {

// The f32 values of a constant operand, or none.
std::optional<std::vector<float>> constantFloats(mlir::Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  if (!c) return std::nullopt;
  auto t = v.getType().dyn_cast<mlir::RankedTensorType>();
  if (!t || !t.getElementType().isF32() || !t.hasStaticShape()) return std::nullopt;
  std::vector<uint8_t> scratch;
  auto data = constantData(c, &scratch);
  if (!data.isOk()) return std::nullopt;
  const auto* f = static_cast<const float*>(*data);
  return std::vector<float>(f, f + t.getNumElements());
}

mlir::Value makeConstant(mlir::OpBuilder& b, mlir::Location loc, mlir::RankedTensorType type,
                         const std::vector<float>& values) {
  return b.create<ConstantOp>(loc, makeDenseAttr(type, values.data())).getResult();
}

// Folds what it can of `op`'s leading post-ops; the replacement op, or null.
mlir::Operation* foldLeadingAffine(mlir::Operation* op) {
  auto prim = primitiveFromOp(op);
  if (!prim.isOk() || prim->kind() != PrimitiveKind::Conv2d) return nullptr;
  auto& p = std::get<Conv2dParams>(prim->params);
  auto weights = constantFloats(op->getOperand(1));
  if (!weights || p.postOps.empty()) return nullptr;
  const auto wType = op->getOperand(1).getType().cast<mlir::RankedTensorType>();
  const int64_t o = wType.getShape()[0];
  std::vector<float> bias(static_cast<size_t>(o), 0.f);
  if (p.hasBias) {
    auto b = constantFloats(op->getOperand(2));
    if (!b || static_cast<int64_t>(b->size()) != o) return nullptr;
    bias = *b;
  }
  std::vector<std::vector<float>> held; // operands' values, alive for the fold
  const size_t folded =
      foldLeadingAffine(p.postOps, o, *weights, bias, [&](int32_t k) -> std::span<const float> {
        auto values = constantFloats(op->getOperand(static_cast<unsigned>(k)));
        if (!values) return {};
        held.push_back(std::move(*values));
        return held.back();
      });
  if (folded == 0) return nullptr;
  mlir::OpBuilder b(op);
  llvm::SmallVector<mlir::Value> operands{op->getOperand(0),
                                          makeConstant(b, op->getLoc(), wType, *weights)};
  operands.push_back(makeConstant(b, op->getLoc(),
                                  mlir::RankedTensorType::get({o}, wType.getElementType()), bias));
  // The remaining post-ops keep their operands, renumbered after the new bias.
  PostOps rest(p.postOps.begin() + static_cast<std::ptrdiff_t>(folded), p.postOps.end());
  for (PostOp& step : rest) {
    if (!step.isBinary) continue;
    operands.push_back(op->getOperand(step.operand));
    step.operand = static_cast<int32_t>(operands.size() - 1);
  }
  p.hasBias = true;
  p.postOps = std::move(rest);
  mlir::Operation* replacement =
      buildPrimitiveOp(b, op->getLoc(), *prim, operands, op->getResult(0).getType());
  if (!replacement) return nullptr;
  op->getResult(0).replaceAllUsesWith(replacement->getResult(0));
  op->erase();
  return replacement;
}

struct TesselFoldAffine : impl::TesselFoldAffineBase<TesselFoldAffine> {
  void runOnOperation() override {
    std::vector<mlir::Operation*> convs;
    getOperation().walk([&](Conv2dOp op) { convs.push_back(op); });
    for (mlir::Operation* op : convs)
      foldLeadingAffine(op);
  }
};

} // namespace
} // namespace tessel::ir
