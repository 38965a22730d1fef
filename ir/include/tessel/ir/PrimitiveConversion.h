// Between primitive ops and tessel::Primitive (core), in both directions: the decompose pass
// builds ops from rule output, the verifiers, the folder and the emitter read them back.
#pragma once

#include "mlir/IR/Builders.h"
#include "tessel/core/primitive.h"
#include "tessel/ir/TesselDialect.h"

namespace tessel::ir {

mlir::Type toMlirType(mlir::MLIRContext* ctx, const TensorDesc& desc);
Result<TensorDesc> fromMlirType(mlir::Type type);
Result<DType> dtypeFromElementType(mlir::Type t);

// True for the ops listed in primitives.def.
bool isPrimitiveOp(mlir::Operation* op);
// Params of a primitive op with inputs numbered 0..n-1 and the output n.
Result<Primitive> primitiveFromOp(mlir::Operation* op);
// Creates the op for `p` (its input ids are ignored: `inputs` are the operands).
mlir::Operation* buildPrimitiveOp(mlir::OpBuilder& b, mlir::Location loc, const Primitive& p,
                                  mlir::ValueRange inputs, mlir::Type resultType);

// Dense row-major bytes of a constant: the attribute's own storage where it already has that
// layout (valid while the context lives), else expanded into *scratch (splats, booleans).
Result<const void*> constantData(ConstantOp op, std::vector<uint8_t>* scratch);
mlir::DenseElementsAttr makeDenseAttr(mlir::RankedTensorType type, const void* bytes);

} // namespace tessel::ir
