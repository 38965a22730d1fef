// tessel-fold-constants: primitives over constants become constants.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tessel/frontend/graph.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

#include <deque>

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELFOLDCONSTANTS
#include "tessel/ir/Passes.h.inc"

namespace {

// Evaluates one primitive op whose operands are all constants; nullopt when it should stay.
Result<std::optional<mlir::DenseElementsAttr>> evaluate(mlir::Operation* op, int64_t maxElements) {
  auto resultType = op->getResult(0).getType().dyn_cast<mlir::RankedTensorType>();
  if (!resultType || !resultType.hasStaticShape() || resultType.getNumElements() > maxElements)
    return std::optional<mlir::DenseElementsAttr>();
  decompose::Lowering low;
  low.numInputs = static_cast<int>(op->getNumOperands());
  low.numOutputs = 1;
  std::deque<std::vector<uint8_t>> scratch;
  std::vector<const void*> data;
  int64_t inElements = 0;
  for (mlir::Value v : op->getOperands()) {
    auto c = v.getDefiningOp<ConstantOp>();
    if (!c) return std::optional<mlir::DenseElementsAttr>();
    inElements += v.getType().cast<mlir::RankedTensorType>().getNumElements();
  }
  if (!frontend::worthFolding(resultType.getNumElements(), inElements))
    return std::optional<mlir::DenseElementsAttr>();
  for (mlir::Value v : op->getOperands()) {
    auto c = v.getDefiningOp<ConstantOp>();
    TESSEL_ASSIGN_OR_RETURN(TensorDesc desc, fromMlirType(v.getType()));
    TESSEL_ASSIGN_OR_RETURN(const void* bytes, constantData(c, &scratch.emplace_back()));
    low.tensors.push_back(desc);
    data.push_back(bytes);
  }
  TESSEL_ASSIGN_OR_RETURN(TensorDesc outDesc, fromMlirType(resultType));
  low.tensors.push_back(outDesc);
  TESSEL_ASSIGN_OR_RETURN(Primitive prim, primitiveFromOp(op));
  low.primitives.push_back(std::move(prim));
  TESSEL_ASSIGN_OR_RETURN(auto outs, frontend::evaluateLowering(low, data));
  return std::optional<mlir::DenseElementsAttr>(makeDenseAttr(resultType, outs[0]->data()));
}

struct TesselFoldConstants : impl::TesselFoldConstantsBase<TesselFoldConstants> {
  using Base::Base;
  void runOnOperation() override {
    std::vector<mlir::Operation*> prims;
    getOperation().walk([&](mlir::Operation* op) {
      if (isPrimitiveOp(op) && op->getNumOperands() > 0) prims.push_back(op);
    });
    for (mlir::Operation* op : prims) {
      auto folded = evaluate(op, maxElements);
      if (!folded.isOk()) {
        op->emitError() << "cannot fold: " << folded.status().message();
        return signalPassFailure();
      }
      if (!folded->has_value()) continue;
      mlir::OpBuilder b(op);
      auto c = b.create<ConstantOp>(op->getLoc(), **folded);
      op->getResult(0).replaceAllUsesWith(c.getResult());
      op->erase();
    }
  }
};

} // namespace
} // namespace tessel::ir
