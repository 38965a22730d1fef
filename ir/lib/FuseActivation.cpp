// tessel-fuse-activation: a unary function that alone consumes a conv2d or matmul becomes the
// last of its post-ops (relu, clip, sigmoid, ...; chains fuse one by one).
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELFUSEACTIVATION
#include "tessel/ir/Passes.h.inc"

namespace {

// The unary op that alone consumes `op`'s result and can ride on it, or null.
UnaryOp fusibleUser(mlir::Operation* op) {
  if (!op->getResult(0).hasOneUse()) return {};
  auto act = llvm::dyn_cast<UnaryOp>(*op->getResult(0).getUsers().begin());
  if (!act || act.getType() != op->getResult(0).getType()) return {};
  auto params = primitiveFromOp(act);
  if (!params.isOk()) return {};
  const UnaryKind k = params->as<UnaryParams>().kind;
  return k == UnaryKind::Cast || k == UnaryKind::Identity ? UnaryOp() : act;
}

struct TesselFuseActivation : impl::TesselFuseActivationBase<TesselFuseActivation> {
  void runOnOperation() override {
    std::vector<mlir::Operation*> producers;
    getOperation().walk([&](mlir::Operation* op) {
      if (llvm::isa<Conv2dOp, MatMulOp>(op)) producers.push_back(op);
    });
    for (mlir::Operation* op : producers) {
      while (UnaryOp act = fusibleUser(op)) {
        auto params = primitiveFromOp(act);
        if (!params.isOk()) break;
        const auto& u = params->as<UnaryParams>();
        llvm::SmallVector<mlir::Attribute> ops;
        if (auto list = op->getAttrOfType<mlir::ArrayAttr>("post_ops"))
          ops.assign(list.begin(), list.end());
        mlir::Builder b(op->getContext());
        ops.push_back(b.getStringAttr(formatPostOp(PostOp::makeUnary(u.kind, u.alpha, u.beta))));
        op->setAttr("post_ops", b.getArrayAttr(ops));
        act.getResult().replaceAllUsesWith(op->getResult(0));
        act->erase();
      }
    }
  }
};

} // namespace
} // namespace tessel::ir
