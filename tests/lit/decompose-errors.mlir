// Rule errors name the operator, the node and the reason, and fail the pass.
// RUN: not tessel-opt %s -tessel-decompose -split-input-file 2>&1 | FileCheck %s

// CHECK: Conv 'conv_1': kernel shape [5,5] does not match weight dims [3,3]
module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
    %0 = tessel.onnx.Conv(%x, %w) {kernel_shape = array<i64: 5, 5>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> loc("conv_1")
    return %0 : tensor<1x4x6x6xf32>
  }
}

// -----

// CHECK: Reshape 'reshape_2': input 'shape' must be a constant known at convert time
module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<2x3xf32>, %s: tensor<2xi64>) -> tensor<3x2xf32> {
    %0 = tessel.onnx.Reshape(%x, %s) : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<3x2xf32> loc("reshape_2")
    return %0 : tensor<3x2xf32>
  }
}

// -----

// The decomposition must agree with the types the importer gave.
// CHECK: Relu 'relu_3': decomposition gives 'tensor<2x3xf32>' for output 0, the op declares 'tensor<3x2xf32>'
module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
    %0 = tessel.onnx.Relu(%x) : (tensor<2x3xf32>) -> tensor<3x2xf32> loc("relu_3")
    return %0 : tensor<3x2xf32>
  }
}
