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
// Primitives: one per line of core/include/tessel/core/primitives.def. Their verifiers run the
// same validation the runtime applies to artifacts (tessel::validatePrimitive).
//===----------------------------------------------------------------------===//

class Tessel_PrimitiveOp<string mnemonic> : Tessel_Op<mnemonic, [Pure]> {
  let results = (outs AnyRankedTensor:$result);
  let hasVerifier = 1;
}

def Tessel_RasterOp : Tessel_PrimitiveOp<"raster"> {
  let summary = "copies elements from sources to the result through strided 3-D regions";
  let description = [{
    `regions` holds 12 integers per region: source index, source offset and 3 strides,
    destination offset and 3 strides, 3 sizes (elements). Elements no region writes take
    `fill`; without `fill` the regions must cover the result. A transpose:
    `%t = tessel.raster %x {regions = array<i64: 0, 0, 0, 1, 3, 0, 0, 2, 1, 1, 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>`
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$sources, DenseI64ArrayAttr:$regions,
                       OptionalAttr<F64Attr>:$fill);
  let assemblyFormat = "$sources attr-dict `:` functional-type($sources, $result)";
}

def Tessel_ViewOp : Tessel_PrimitiveOp<"view"> {
  let summary = "the same elements under a new shape (no copy)";
  let description = [{ `%v = tessel.view %x : (tensor<2x3xf32>) -> tensor<6xf32>` }];
  let arguments = (ins AnyRankedTensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type($input, $result)";
  let hasFolder = 1;
}

def Tessel_UnaryOp : Tessel_PrimitiveOp<"unary"> {
  let summary = "an elementwise function of one tensor";
  let description = [{
    `kind` names a line of core/unary.def; `alpha`/`beta` are its parameters (clip bounds,
    hardsigmoid slope and offset). `%y = tessel.unary %x {kind = "relu"} : (tensor<4xf32>) -> tensor<4xf32>`
  }];
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$kind,
                       DefaultValuedAttr<F32Attr, "0.0f">:$alpha,
                       DefaultValuedAttr<F32Attr, "0.0f">:$beta);
  let assemblyFormat = "$input attr-dict `:` functional-type($input, $result)";
}

def Tessel_BinaryOp : Tessel_PrimitiveOp<"binary"> {
  let summary = "an elementwise function of two tensors, broadcast through strides";
  let description = [{
    Strides are per result dim, in elements of each operand; 0 broadcasts.
    `%y = tessel.binary %a, %b {kind = "add", lhs_strides = array<i64: 3, 1>, rhs_strides = array<i64: 0, 1>} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>`
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, StrAttr:$kind,
                       DenseI64ArrayAttr:$lhs_strides, DenseI64ArrayAttr:$rhs_strides);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, $result)";
}

def Tessel_ReduceOp : Tessel_PrimitiveOp<"reduce"> {
  let summary = "reduces the middle dim of an [outer, extent, inner] view";
  let description = [{
    `%m = tessel.reduce %x {kind = "mean", outer = 8, extent = 49, inner = 1} : (tensor<1x8x7x7xf32>) -> tensor<1x8x1x1xf32>`
  }];
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$kind, I64Attr:$outer, I64Attr:$extent,
                       I64Attr:$inner);
  let assemblyFormat = "$input attr-dict `:` functional-type($input, $result)";
}

def Tessel_MatMulOp : Tessel_PrimitiveOp<"matmul"> {
  let summary = "batched matrix product with strided operands and an optional bias";
  let description = [{
    `dims` = [batch, m, n, k]; `a_strides` over (batch, m, k), `b_strides` over (batch, k, n),
    `bias_strides` over (m, n). The result is dense [batch, m, n] in any shape of that size.
  }];
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$b, Optional<AnyRankedTensor>:$bias,
                       DenseI64ArrayAttr:$dims, DenseI64ArrayAttr:$a_strides,
                       DenseI64ArrayAttr:$b_strides, DenseI64ArrayAttr:$bias_strides);
  let assemblyFormat = "$a `,` $b (`,` $bias^)? attr-dict `:` functional-type(operands, $result)";
}

def Tessel_Conv2dOp : Tessel_PrimitiveOp<"conv2d"> {
  let summary = "2-D convolution, NCHW input, OIHW weight, optional bias and activation";
  let description = [{
    `pads` = [top, left, bottom, right]; `group` > 1 is grouped (depthwise when it equals the
    channels). `activation` is "none", "relu" or "clip" (to [act_min, act_max]).
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight,
                       Optional<AnyRankedTensor>:$bias, DenseI64ArrayAttr:$strides,
                       DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations, I64Attr:$group,
                       DefaultValuedAttr<StrAttr, "\"none\"">:$activation,
                       DefaultValuedAttr<F32Attr, "0.0f">:$act_min,
                       DefaultValuedAttr<F32Attr, "0.0f">:$act_max);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, $result)";
}

def Tessel_PoolOp : Tessel_PrimitiveOp<"pool"> {
  let summary = "2-D max or average pooling over NCHW";
  let description = [{ `kind` is "max" or "avg"; `pads` = [top, left, bottom, right]. }];
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$kind, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
  let assemblyFormat = "$input attr-dict `:` functional-type($input, $result)";
}

#endif
