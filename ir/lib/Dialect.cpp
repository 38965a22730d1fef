#include "mlir/IR/DialectImplementation.h"
#include "tessel/ir/PrimitiveConversion.h"
#include "tessel/ir/TesselDialect.cpp.inc"
#include "tessel/ir/TesselDialect.h"

#define GET_OP_CLASSES
#include "tessel/ir/TesselOps.cpp.inc"

namespace tessel::ir {

void TesselDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "tessel/ir/TesselOps.cpp.inc"
      >();
}

mlir::Operation* TesselDialect::materializeConstant(mlir::OpBuilder& builder, mlir::Attribute value,
                                                    mlir::Type type, mlir::Location loc) {
  auto elements = value.dyn_cast<mlir::ElementsAttr>();
  if (!elements || elements.getType() != type) return nullptr;
  return builder.create<ConstantOp>(loc, elements);
}

namespace {

// Every primitive op verifies through the runtime's own validation of primitives.
mlir::LogicalResult verifyPrimitive(mlir::Operation* op) {
  auto prim = primitiveFromOp(op);
  if (!prim.isOk()) return op->emitOpError(prim.status().message());
  std::vector<TensorDesc> descs;
  for (mlir::Type t : op->getOperandTypes()) {
    auto d = fromMlirType(t);
    if (!d.isOk()) return op->emitOpError(d.status().message());
    descs.push_back(*d);
  }
  auto out = fromMlirType(op->getResult(0).getType());
  if (!out.isOk()) return op->emitOpError(out.status().message());
  descs.push_back(*out);
  Status s = validatePrimitive(*prim, descs);
  if (!s.isOk()) return op->emitOpError(s.message());
  return mlir::success();
}

} // namespace

mlir::OpFoldResult ConstantOp::fold(FoldAdaptor) {
  return getValue();
}

mlir::LogicalResult ConstantOp::verify() {
  if (getValue().getType() != getResult().getType())
    return emitOpError("value type differs from the result type");
  return mlir::success();
}

mlir::OpFoldResult ViewOp::fold(FoldAdaptor adaptor) {
  if (getNumOperands() != 1) return {};
  mlir::Value input = getInputs()[0];
  if (input.getType() == getResult().getType()) return input;
  if (auto dense = llvm::dyn_cast_or_null<mlir::DenseElementsAttr>(adaptor.getInputs()[0]))
    return dense.reshape(getResult().getType().cast<mlir::ShapedType>());
  if (auto inner = input.getDefiningOp<ViewOp>(); inner && inner->getNumOperands() == 1) {
    getOperation()->setOperand(0, inner->getOperand(0));
    return getResult();
  }
  return {};
}

#define TESSEL_PRIMITIVE(name, mnemonic)                                                           \
  mlir::LogicalResult name##Op::verify() {                                                         \
    return verifyPrimitive(*this);                                                                 \
  }
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE

} // namespace tessel::ir
