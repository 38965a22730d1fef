// Elementwise work that alone consumes a conv2d or matmul result becomes its post-ops; hardswish
// spelled as a chain becomes one unary first.
// RUN: tessel-opt %s -tessel-fuse-elementwise -canonicalize | FileCheck %s

module {
  // CHECK-LABEL: func.func @conv_relu
  // CHECK-NEXT: %[[C:.*]] = tessel.conv2d {{.*}}post_ops = ["relu"]
  // CHECK-NEXT: return %[[C]]
  func.func @conv_relu(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "relu"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %1 : tensor<1x3x4x4xf32>
  }

  // A per-channel affine (batch-norm after the convolution), a residual and a clip, in order.
  // CHECK-LABEL: func.func @affine_residual_clip
  // CHECK-NEXT: %[[C:.*]] = tessel.conv2d %arg0, %arg1, %arg2, %arg3, %arg4 {{.*}}post_ops = ["mul channel 2", "add channel 3", "add full 4", "clip 0 6"]
  // CHECK-NEXT: return %[[C]]
  func.func @affine_residual_clip(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %s: tensor<3xf32>, %t: tensor<1x3x1x1xf32>, %r: tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.binary %0, %s {kind = "mul", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 1, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
    %2 = tessel.binary %t, %1 {kind = "add", lhs_strides = array<i64: 0, 1, 0, 0>, rhs_strides = array<i64: 48, 16, 4, 1>} : (tensor<1x3x1x1xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %3 = tessel.binary %2, %r {kind = "add", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 48, 16, 4, 1>} : (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %4 = tessel.unary %3 {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %4 : tensor<1x3x4x4xf32>
  }

  // Non-commutative binary with the producer on the right: the operand comes first.
  // CHECK-LABEL: func.func @operand_first
  // CHECK: tessel.matmul {{.*}}post_ops = ["sub scalar 2 first"]
  func.func @operand_first(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %k: tensor<f32>) -> tensor<2x4xf32> {
    %0 = tessel.matmul %a, %b {m = 2, n = 4, k = 3, a_strides = array<i64: 0, 3, 1>, b_strides = array<i64: 0, 4, 1>, bias_strides = array<i64: 0, 0>} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
    %1 = tessel.binary %k, %0 {kind = "sub", lhs_strides = array<i64: 0, 0>, rhs_strides = array<i64: 4, 1>} : (tensor<f32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    return %1 : tensor<2x4xf32>
  }

  // Hardswish spelled as x * clip(x + 3, 0, 6) / 6 after a convolution: one post-op.
  // CHECK-LABEL: func.func @hardswish_chain
  // CHECK-NEXT: %[[C:.*]] = tessel.conv2d {{.*}}post_ops = ["hardswish"]
  // CHECK-NEXT: return %[[C]]
  func.func @hardswish_chain(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %three = tessel.constant dense<3.0> : tensor<1xf32>
    %six = tessel.constant dense<6.0> : tensor<1xf32>
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.binary %0, %three {kind = "add", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 0, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<1xf32>) -> tensor<1x3x4x4xf32>
    %2 = tessel.unary %1 {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %3 = tessel.binary %2, %six {kind = "div", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 0, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<1xf32>) -> tensor<1x3x4x4xf32>
    %4 = tessel.binary %0, %3 {kind = "mul", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 48, 16, 4, 1>} : (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %4 : tensor<1x3x4x4xf32>
  }

  // The same as (x * clip(x + 3, 0, 6)) / 6, as PP-OCR spells it, after a learnable scale.
  // CHECK-LABEL: func.func @hardswish_product_first
  // CHECK-NEXT: %[[C:.*]] = tessel.conv2d {{.*}}post_ops = ["hardswish", "mul scalar 2"]
  // CHECK-NEXT: return %[[C]]
  func.func @hardswish_product_first(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %s: tensor<1xf32>) -> tensor<1x3x4x4xf32> {
    %three = tessel.constant dense<3.0> : tensor<f32>
    %six = tessel.constant dense<6.0> : tensor<f32>
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.binary %0, %three {kind = "add", lhs_strides = array<i64: 0, 16, 4, 1>, rhs_strides = array<i64: 0, 0, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<f32>) -> tensor<1x3x4x4xf32>
    %2 = tessel.unary %1 {kind = "clip", beta = 6.0 : f32} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %3 = tessel.binary %0, %2 {kind = "mul", lhs_strides = array<i64: 0, 16, 4, 1>, rhs_strides = array<i64: 0, 16, 4, 1>} : (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %4 = tessel.binary %3, %six {kind = "div", lhs_strides = array<i64: 0, 16, 4, 1>, rhs_strides = array<i64: 0, 0, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<f32>) -> tensor<1x3x4x4xf32>
    %5 = tessel.binary %s, %4 {kind = "mul", lhs_strides = array<i64: 0, 0, 0, 0>, rhs_strides = array<i64: 0, 16, 4, 1>} : (tensor<1xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %5 : tensor<1x3x4x4xf32>
  }

  // x * hardsigmoid(x) with slope 1/6 and offset 1/2 is hardswish too; other slopes are not.
  // CHECK-LABEL: func.func @hardsigmoid_product
  // CHECK: tessel.unary %arg0 {kind = "hardswish"}
  // CHECK: tessel.unary %arg1 {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32, kind = "hardsigmoid"}
  func.func @hardsigmoid_product(%x: tensor<8xf32>, %y: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
    %0 = tessel.unary %x {kind = "hardsigmoid", alpha = 0.16666667 : f32, beta = 0.5 : f32} : (tensor<8xf32>) -> tensor<8xf32>
    %1 = tessel.binary %x, %0 {kind = "mul", lhs_strides = array<i64: 1>, rhs_strides = array<i64: 1>} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    %2 = tessel.unary %y {kind = "hardsigmoid", alpha = 0.2 : f32, beta = 0.5 : f32} : (tensor<8xf32>) -> tensor<8xf32>
    %3 = tessel.binary %y, %2 {kind = "mul", lhs_strides = array<i64: 1>, rhs_strides = array<i64: 1>} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    return %1, %3 : tensor<8xf32>, tensor<8xf32>
  }

  // The scale is computed from the convolution's own output (squeeze-and-excitation): it cannot
  // be an operand of that convolution, so the multiply stays. The relu on the pooled value has
  // no producer to ride on either.
  // CHECK-LABEL: func.func @excitation
  // CHECK: %[[C:.*]] = tessel.conv2d
  // CHECK-NOT: post_ops
  // CHECK: tessel.binary %[[C]]
  func.func @excitation(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.reduce %0 {kind = "mean", outer = 3, extent = 16} : (tensor<1x3x4x4xf32>) -> tensor<1x3x1x1xf32>
    %2 = tessel.unary %1 {kind = "sigmoid"} : (tensor<1x3x1x1xf32>) -> tensor<1x3x1x1xf32>
    %3 = tessel.binary %0, %2 {kind = "mul", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 1, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>) -> tensor<1x3x4x4xf32>
    return %3 : tensor<1x3x4x4xf32>
  }

  // The convolution's output is also returned: the relu must stay separate; a cast stays too.
  // CHECK-LABEL: func.func @two_users
  // CHECK: tessel.conv2d
  // CHECK-NOT: post_ops
  // CHECK: tessel.unary {{.*}} {kind = "relu"}
  // CHECK: tessel.unary {{.*}} {kind = "cast"}
  func.func @two_users(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>, tensor<1x3x4x4xi64>) {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "relu"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %2 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %3 = tessel.unary %2 {kind = "cast"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi64>
    return %0, %1, %3 : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>, tensor<1x3x4x4xi64>
  }

  // A comparison (bool result) and a remainder are no post-ops: both stay after the conv2d.
  // CHECK-LABEL: func.func @compare_and_fmod_stay
  // CHECK: tessel.conv2d {{.*}}: (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  // CHECK: tessel.binary {{.*}}kind = "less"
  // CHECK: tessel.binary {{.*}}kind = "fmod"
  func.func @compare_and_fmod_stay(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %t: tensor<f32>, %x2: tensor<1x2x4x4xf32>) -> (tensor<1x3x4x4xi1>, tensor<1x3x4x4xf32>) {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.binary %0, %t {kind = "less", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 0, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<f32>) -> tensor<1x3x4x4xi1>
    %2 = tessel.conv2d %x2, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %3 = tessel.binary %2, %t {kind = "fmod", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 0, 0, 0>} : (tensor<1x3x4x4xf32>, tensor<f32>) -> tensor<1x3x4x4xf32>
    return %1, %3 : tensor<1x3x4x4xi1>, tensor<1x3x4x4xf32>
  }
}
