#ifndef TESSEL_OPS_TD
#define TESSEL_OPS_TD

include "tessel/ir/TesselDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

def Tessel_ConstantOp : Tessel_Op<"constant", [Pure, ConstantLike, AllTypesMatch<["value", "result"]>]> {
  let summary = "a constant tensor";
  let description = [{
    Weights and folded values. Example:
    `%w = tessel.constant dense<1.0> : tensor<8x3x3x3xf32>`
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$value attr-dict";
  let builders = [OpBuilder<(ins "::mlir::ElementsAttr":$value), [{
    build($_builder, $_state, value.getType(), value);
  }]>];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def Tessel_AbsentOp : Tessel_Op<"absent", [Pure]> {
  let summary = "marks an ONNX optional input that is not given";
  let description = [{ `%none = tessel.absent : none` }];
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// High-level ops: one per line of decompose/include/tessel/decompose/onnx_ops.def
//===----------------------------------------------------------------------===//

class Tessel_HighLevelOp<string onnxName, string opSummary>
    : Tessel_Op<"onnx." # onnxName, [Pure]> {
  let summary = opSummary;
  let description = [{
    The ONNX operator of the same name, with ONNX semantics: operands in ONNX order (an absent
    optional input is a `tessel.absent` value), ONNX attributes as MLIR attributes, the node name
    as the location. `tessel-decompose` rewrites it into primitives and leaves none behind.
    Example: `%y = tessel.onnx.Relu(%x) : (tensor<1x8xf32>) -> tensor<1x8xf32>`
  }];
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$outputs);
  let assemblyFormat = "`(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)";
}

include "tessel/ir/HighLevelOps.td"

//===----------------------------------------------------------------------===//
// Primitives: generated from core/include/tessel/core/primitives.def (PrimitiveOps.td.in), their
// documentation in PrimitiveDocs.td. Their verifiers run the same validation the runtime applies
// to artifacts (tessel::validatePrimitive).
//===----------------------------------------------------------------------===//

include "tessel/ir/PrimitiveDocs.td"

class Tessel_PrimitiveOp<string mnemonic, PrimitiveDoc doc> : Tessel_Op<mnemonic, [Pure]> {
  let summary = doc.summary;
  let description = doc.description;
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, $result)";
  let hasVerifier = 1;
  let hasFolder = doc.folder;
}

include "tessel/ir/PrimitiveOps.td"

#endif
