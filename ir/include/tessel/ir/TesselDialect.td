#ifndef TESSEL_DIALECT_TD
#define TESSEL_DIALECT_TD

include "mlir/IR/OpBase.td"

def Tessel_Dialect : Dialect {
  let name = "tessel";
  let summary = "Tessel: ONNX-level operators and the raster/atomic primitives they decompose into";
  let description = [{
    High-level ops (`tessel.onnx.*`) carry ONNX semantics and attributes as imported.
    `tessel-decompose` rewrites them into the primitive ops (`tessel.raster`, `tessel.view`,
    `tessel.unary`, `tessel.binary`, `tessel.reduce`, `tessel.matmul`, `tessel.conv2d`,
    `tessel.pool`) that backends implement; `tessel-emit` writes those to a `.tsl` artifact.
  }];
  let cppNamespace = "::tessel::ir";
  let useFoldAPI = kEmitFoldAdaptorFolder;
  let hasConstantMaterializer = 1;
}

class Tessel_Op<string mnemonic, list<Trait> traits = []> : Op<Tessel_Dialect, mnemonic, traits>;

#endif
