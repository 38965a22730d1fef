// tessel-emit writes the artifact; the runtime loads and runs it: relu(x @ w^T + b) with x = 0
// gives relu(b) = [0.5, 0, 2].
// RUN: tessel-opt %s -tessel-emit=output=%t.tsl
// RUN: /usr/bin/python3 -c "import numpy; numpy.save('%t.npy', numpy.zeros((1, 2), numpy.float32))"
// RUN: tessel run %t.tsl --input x=%t.npy | FileCheck %s
// CHECK: output y: f32[1,3] min 0 max 2 mean 0.83333 argmax 2
// CHECK: 2 primitives

module {
  func.func @main(%x: tensor<1x2xf32> {tessel.name = "x"}) -> (tensor<1x3xf32> {tessel.name = "y"}) {
    %w = tessel.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
    %b = tessel.constant dense<[0.5, -1.0, 2.0]> : tensor<3xf32>
    %0 = tessel.matmul %x, %w, %b {a_strides = array<i64: 0, 2, 1>, b_strides = array<i64: 0, 1, 2>, bias_strides = array<i64: 0, 1>, has_bias = true, batch = 1, m = 1, n = 3, k = 2} : (tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<1x3xf32>
    %1 = tessel.unary %0 {kind = "relu"} : (tensor<1x3xf32>) -> tensor<1x3xf32>
    return %1 : tensor<1x3xf32>
  }
}
