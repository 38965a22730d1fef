// A relu or clip that alone consumes a conv2d becomes the conv2d's activation.
// RUN: tessel-opt %s -tessel-fuse-activation | FileCheck %s

module {
  // CHECK-LABEL: func.func @conv_relu
  // CHECK-NEXT: %[[C:.*]] = tessel.conv2d {{.*}}activation = "relu"
  // CHECK-NEXT: return %[[C]]
  func.func @conv_relu(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "relu"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %1 : tensor<1x3x4x4xf32>
  }

  // CHECK-LABEL: func.func @conv_clip
  // CHECK-NEXT: tessel.conv2d {{.*}}act_max = 6.000000e+00 : f32, activation = "clip"
  func.func @conv_clip(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %1 : tensor<1x3x4x4xf32>
  }

  // The convolution's output is also returned: the relu must stay separate.
  // CHECK-LABEL: func.func @two_users
  // CHECK: tessel.conv2d
  // CHECK-NOT: activation
  // CHECK: tessel.unary {{.*}} {kind = "relu"}
  func.func @two_users(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) {
    %0 = tessel.conv2d %x, %w {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "relu"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %0, %1 : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>
  }

  // Sigmoid is not a conv2d activation.
  // CHECK-LABEL: func.func @sigmoid
  // CHECK: tessel.unary {{.*}} {kind = "sigmoid"}
  func.func @sigmoid(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.conv2d %x, %w {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
    %1 = tessel.unary %0 {kind = "sigmoid"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    return %1 : tensor<1x3x4x4xf32>
  }
}
