// A unary function that alone consumes a conv2d or matmul becomes the last of its post-ops;
// chains fuse one by one.
// RUN: tessel-opt %s -tessel-fuse-activation | FileCheck %s

module {
  // CHECK-LABEL: func.func @conv_relu
  // CHECK-NEXT: %[[C:.*]] = tessel.conv2d {{.*}}post_ops = ["relu"]
  // CHECK-NEXT: return %[[C]]
  func.func @conv_relu(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "relu"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %1 : tensor<1x3x4x4xf32>
  }

  // CHECK-LABEL: func.func @conv_clip_sigmoid
  // CHECK-NEXT: tessel.conv2d {{.*}}post_ops = ["clip 0 6", "sigmoid"]
  // CHECK-NEXT: return
  func.func @conv_clip_sigmoid(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %2 = tessel.unary %1 {kind = "sigmoid"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %2 : tensor<1x3x4x4xf32>
  }

  // CHECK-LABEL: func.func @matmul_tanh
  // CHECK-NEXT: tessel.matmul {{.*}}post_ops = ["tanh"]
  func.func @matmul_tanh(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
    %0 = tessel.matmul %a, %b {m = 2, n = 4, k = 3, a_strides = array<i64: 0, 3, 1>, b_strides = array<i64: 0, 4, 1>, bias_strides = array<i64: 0, 0>} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
    %1 = tessel.unary %0 {kind = "tanh"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    return %1 : tensor<2x4xf32>
  }

  // The convolution's output is also returned: the relu must stay separate.
  // CHECK-LABEL: func.func @two_users
  // CHECK: tessel.conv2d
  // CHECK-NOT: post_ops
  // CHECK: tessel.unary {{.*}} {kind = "relu"}
  func.func @two_users(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "relu"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %0, %1 : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>
  }

  // A cast changes the dtype: it stays.
  // CHECK-LABEL: func.func @cast
  // CHECK: tessel.unary {{.*}} {kind = "cast"}
  func.func @cast(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xi64> {
    %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "cast"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi64>
    return %1 : tensor<1x3x4x4xi64>
  }
}
