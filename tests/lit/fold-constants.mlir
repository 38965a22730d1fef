// Primitives over constants become constants: batch norm's per-channel arithmetic folds to one
// scale and one shift, and a weight raster folds into the rearranged weight.
// RUN: tessel-opt %s -tessel-decompose -tessel-fold-constants -canonicalize | FileCheck %s

module attributes {tessel.onnx_opset = 13 : i64} {
  // CHECK-LABEL: func.func @batch_norm
  // CHECK-DAG: %[[SCALE:.*]] = tessel.constant dense<[2.000000e+00, 1.000000e+00]> : tensor<2xf32>
  // CHECK-DAG: %[[SHIFT:.*]] = tessel.constant dense<[-1.000000e+00, 3.000000e+00]> : tensor<2xf32>
  // CHECK: %[[Y:.*]] = tessel.binary %arg0, %[[SCALE]] {kind = "mul"
  // CHECK: tessel.binary %[[Y]], %[[SHIFT]] {kind = "add"
  // CHECK-NOT: tessel.unary
  func.func @batch_norm(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
    %scale = tessel.constant dense<[1.0, 2.0]> : tensor<2xf32>
    %bias = tessel.constant dense<[0.0, 3.0]> : tensor<2xf32>
    %mean = tessel.constant dense<[0.5, 0.0]> : tensor<2xf32>
    %var = tessel.constant dense<[0.25, 4.0]> : tensor<2xf32>
    %0 = tessel.onnx.BatchNormalization(%x, %scale, %bias, %mean, %var) {epsilon = 0.0 : f64} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
    return %0 : tensor<1x2x2x2xf32>
  }

  // Taps reversed, channels swapped: w[c=0][o=0] = [1, 2, 3, 4, 5, 6, 7, 8, 9] becomes
  // w'[o=0][c=0] = [9, ..., 1] (kernel 3, stride 2: the zero-spreading form).
  // CHECK-LABEL: func.func @conv_transpose_weight
  // CHECK: %[[W:.*]] = tessel.constant dense<{{\[\[\[\[}}9.000000e+00, 8.000000e+00, 7.000000e+00], [6.000000e+00, 5.000000e+00, 4.000000e+00], [3.000000e+00, 2.000000e+00, 1.000000e+00]]]]> : tensor<1x1x3x3xf32>
  // CHECK: tessel.conv2d %{{.*}}, %[[W]]
  func.func @conv_transpose_weight(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x5x5xf32> {
    %w = tessel.constant dense<[[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]]> : tensor<1x1x3x3xf32>
    %0 = tessel.onnx.ConvTranspose(%x, %w) {strides = array<i64: 2, 2>} : (tensor<1x1x2x2xf32>, tensor<1x1x3x3xf32>) -> tensor<1x1x5x5xf32>
    return %0 : tensor<1x1x5x5xf32>
  }

  // Kernel = stride: the weight [Cin=1, Cout=1, 2, 2] becomes the 1x1 weight [4, 1, 1, 1].
  // CHECK-LABEL: func.func @conv_transpose_block_weight
  // CHECK: %[[W:.*]] = tessel.constant dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}2.000000e+00]]], {{\[\[\[}}3.000000e+00]]], {{\[\[\[}}4.000000e+00]]]]> : tensor<4x1x1x1xf32>
  // CHECK: tessel.conv2d %arg0, %[[W]]
  func.func @conv_transpose_block_weight(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x4x4xf32> {
    %w = tessel.constant dense<[[[[1.0, 2.0], [3.0, 4.0]]]]> : tensor<1x1x2x2xf32>
    %0 = tessel.onnx.ConvTranspose(%x, %w) {strides = array<i64: 2, 2>} : (tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x1x4x4xf32>
    return %0 : tensor<1x1x4x4xf32>
  }
}
