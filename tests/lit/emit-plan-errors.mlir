// The emitter refuses a malformed graph plan from tessel-search's attributes, naming the op.
// RUN: not tessel-opt %s -split-input-file -tessel-emit=output=%t.tsl 2>&1 | FileCheck %s

// CHECK: 'tessel.unary': layout 'nchwc8' for a f32[4] result (tessel.layout: nchwc8 or nchwc16, on a 4-D f32 one)
module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = tessel.unary %x {kind = "relu", tessel.backend = "cpu_x86", tessel.kernel = array<i64: 0>, tessel.layout = "nchwc8"} : (tensor<4xf32>) -> tensor<4xf32>
    %1 = tessel.unary %0 {kind = "relu", tessel.backend = "cpu_x86", tessel.kernel = array<i64: 0>} : (tensor<4xf32>) -> tensor<4xf32>
    return %1 : tensor<4xf32>
  }
}

// -----

// CHECK: 'tessel.unary': layout 'nchwc4' for a f32[1,8,2,2] result
module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<1x8x2x2xf32>) -> tensor<1x8x2x2xf32> {
    %0 = tessel.unary %x {kind = "relu", tessel.backend = "cpu_x86", tessel.kernel = array<i64: 0>, tessel.layout = "nchwc4"} : (tensor<1x8x2x2xf32>) -> tensor<1x8x2x2xf32>
    %1 = tessel.unary %0 {kind = "relu", tessel.backend = "cpu_x86", tessel.kernel = array<i64: 0>} : (tensor<1x8x2x2xf32>) -> tensor<1x8x2x2xf32>
    return %1 : tensor<1x8x2x2xf32>
  }
}

// -----

// CHECK: the last primitive is marked fused with a next one (tessel.fused)
module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = tessel.unary %x {kind = "relu", tessel.backend = "cpu_x86", tessel.kernel = array<i64: 0>, tessel.fused} : (tensor<4xf32>) -> tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}
