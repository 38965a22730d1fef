// The emitter refuses ops that are not primitives, naming them.
// RUN: not tessel-opt %s -tessel-emit=output=%t.tsl 2>&1 | FileCheck %s
// CHECK: 'tessel.onnx.Relu' is not a primitive: run tessel-decompose before emitting

module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = tessel.onnx.Relu(%x) : (tensor<4xf32>) -> tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}
