// Constant scales and shifts at the head of a conv2d's post-ops fold into its weights and bias.
// RUN: tessel-opt %s -tessel-fold-affine -canonicalize | FileCheck %s

module {
  // (W x + b) * s + t with per-channel s, t: W'[o] = W[o] * s[o], b' = b * s + t.
  // W = 1 for both channels, b = [1, 2], s = [2, 3], t = [10, 20]: W' = [2, 3], b' = [12, 26].
  // The relu stays.
  // CHECK-LABEL: func.func @batch_norm_after
  // CHECK-DAG: %[[W:.*]] = tessel.constant dense<{{\[\[\[\[}}2.000000e+00]]], {{\[\[\[}}3.000000e+00]]]]> : tensor<2x1x1x1xf32>
  // CHECK-DAG: %[[B:.*]] = tessel.constant dense<[1.200000e+01, 2.600000e+01]> : tensor<2xf32>
  // CHECK: tessel.conv2d %arg0, %[[W]], %[[B]] {{.*}}has_bias = true{{.*}}post_ops = ["relu"]
  func.func @batch_norm_after(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32> {
    %w = tessel.constant dense<1.0> : tensor<2x1x1x1xf32>
    %b = tessel.constant dense<[1.0, 2.0]> : tensor<2xf32>
    %s = tessel.constant dense<[2.0, 3.0]> : tensor<2xf32>
    %t = tessel.constant dense<[10.0, 20.0]> : tensor<2xf32>
    %0 = tessel.conv2d %x, %w, %b, %s, %t {dilation = array<i64: 1, 1>, has_bias = true, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, post_ops = ["mul channel 3", "add channel 4", "relu"]} : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
    return %0 : tensor<1x2x3x3xf32>
  }

  // A scalar scale without a bias; the residual after the activation keeps its operand,
  // renumbered after the new bias.
  // CHECK-LABEL: func.func @scalar_then_residual
  // CHECK: tessel.conv2d %arg0, %{{.*}}, %{{.*}}, %arg1 {{.*}}post_ops = ["hardswish", "add full 3"]
  func.func @scalar_then_residual(%x: tensor<1x1x2x2xf32>, %r: tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32> {
    %w = tessel.constant dense<0.5> : tensor<1x1x1x1xf32>
    %s = tessel.constant dense<4.0> : tensor<f32>
    %0 = tessel.conv2d %x, %w, %s, %r {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, post_ops = ["mul scalar 2", "hardswish", "add full 3"]} : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>, tensor<f32>, tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
    return %0 : tensor<1x1x2x2xf32>
  }

  // Nothing to fold: the scale is not a constant, or the weights are not.
  // CHECK-LABEL: func.func @stays
  // CHECK: post_ops = ["mul channel 2"]
  // CHECK: post_ops = ["add scalar 2"]
  func.func @stays(%x: tensor<1x1x2x2xf32>, %w: tensor<2x1x1x1xf32>, %s: tensor<2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
    %c = tessel.constant dense<1.0> : tensor<2x1x1x1xf32>
    %k = tessel.constant dense<1.0> : tensor<f32>
    %0 = tessel.conv2d %x, %c, %s {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, post_ops = ["mul channel 2"]} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
    %1 = tessel.conv2d %x, %w, %k {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, post_ops = ["add scalar 2"]} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<f32>) -> tensor<1x2x2x2xf32>
    return %0, %1 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
  }
}
