// tessel-decompose turns every high-level op into primitives; none may remain. This file has one
// function per operator the five public models use.
// RUN: tessel-opt %s -tessel-decompose | FileCheck %s
// CHECK-NOT: tessel.onnx.

module attributes {tessel.onnx_opset = 13 : i64} {
  // CHECK-LABEL: func.func @conv_relu
  // CHECK: tessel.conv2d %{{.*}}, %{{.*}}, %{{.*}} {dilation = array<i64: 1, 1>, has_bias = true, pads = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>}
  // CHECK: tessel.unary %{{.*}} {kind = "relu"}
  func.func @conv_relu(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
    %0 = tessel.onnx.Conv(%x, %w, %b) {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
    %1 = tessel.onnx.Relu(%0) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    return %1 : tensor<1x4x4x4xf32>
  }

  // A depthwise convolution with SAME_UPPER padding.
  // CHECK-LABEL: func.func @depthwise_same
  // CHECK: tessel.conv2d {{.*}}group = 8 : i64, pads = array<i64: 1, 1, 1, 1>
  func.func @depthwise_same(%x: tensor<1x8x5x5xf32>, %w: tensor<8x1x3x3xf32>) -> tensor<1x8x5x5xf32> {
    %none = tessel.absent : none
    %0 = tessel.onnx.Conv(%x, %w) {auto_pad = "SAME_UPPER", group = 8 : i64} : (tensor<1x8x5x5xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x5x5xf32>
    return %0 : tensor<1x8x5x5xf32>
  }

  // Spread the input with zeros (raster with fill), reverse and swap the weight (raster), convolve.
  // CHECK-LABEL: func.func @conv_transpose
  // CHECK: %[[X:.*]] = tessel.raster %arg0 {fill = 0.000000e+00 : f64, regions = {{.*}}} : (tensor<1x2x3x3xf32>) -> tensor<1x2x9x9xf32>
  // CHECK: %[[W:.*]] = tessel.raster %arg1 {regions = {{.*}}} : (tensor<2x4x3x3xf32>) -> tensor<4x2x3x3xf32>
  // CHECK: tessel.conv2d %[[X]], %[[W]] {{.*}} -> tensor<1x4x7x7xf32>
  func.func @conv_transpose(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>) -> tensor<1x4x7x7xf32> {
    %0 = tessel.onnx.ConvTranspose(%x, %w) {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>) -> tensor<1x4x7x7xf32>
    return %0 : tensor<1x4x7x7xf32>
  }

  // Kernel = stride: a 1x1 convolution to Cout*kh*kw channels (weight [Cin, Cout*4] transposed
  // by a raster), then depth-to-space (one region per tap, no fill: no zero is multiplied).
  // CHECK-LABEL: func.func @conv_transpose_blocks
  // CHECK: %[[W:.*]] = tessel.raster %arg1 {regions = array<i64: 0, 0, 0, 1, 16, 0, 0, 2, 1, 1, 16, 2>} : (tensor<2x4x2x2xf32>) -> tensor<16x2x1x1xf32>
  // CHECK: %[[Y:.*]] = tessel.conv2d %arg0, %[[W]] {{.*}} -> tensor<1x16x3x3xf32>
  // CHECK: tessel.raster %[[Y]] {regions = array<i64: 0, 0, 36, 3, 1, 0, 36, 12, 2, 4, 3, 3, 0, 9, 36, 3, 1, 1, 36, 12, 2, 4, 3, 3, 0, 18, 36, 3, 1, 6, 36, 12, 2, 4, 3, 3, 0, 27, 36, 3, 1, 7, 36, 12, 2, 4, 3, 3>} : (tensor<1x16x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.func @conv_transpose_blocks(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x2x2xf32>) -> tensor<1x4x6x6xf32> {
    %0 = tessel.onnx.ConvTranspose(%x, %w) {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x2x3x3xf32>, tensor<2x4x2x2xf32>) -> tensor<1x4x6x6xf32>
    return %0 : tensor<1x4x6x6xf32>
  }

  // CHECK-LABEL: func.func @batch_norm
  // CHECK: tessel.binary %arg4, %{{.*}} {kind = "add"
  // CHECK: tessel.unary {{.*}} {kind = "sqrt"}
  // CHECK: tessel.binary %arg1, {{.*}} {kind = "div"
  // CHECK: tessel.binary %arg3, {{.*}} {kind = "mul"
  // CHECK: tessel.binary %arg2, {{.*}} {kind = "sub"
  // CHECK: tessel.binary %arg0, {{.*}} {kind = "mul", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 1, 0, 0>}
  // CHECK: tessel.binary {{.*}} {kind = "add", lhs_strides = array<i64: 48, 16, 4, 1>, rhs_strides = array<i64: 0, 1, 0, 0>}
  func.func @batch_norm(%x: tensor<1x3x4x4xf32>, %s: tensor<3xf32>, %b: tensor<3xf32>, %m: tensor<3xf32>, %v: tensor<3xf32>) -> tensor<1x3x4x4xf32> {
    %0 = tessel.onnx.BatchNormalization(%x, %s, %b, %m, %v) {epsilon = 1.0e-05 : f64} : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
    return %0 : tensor<1x3x4x4xf32>
  }

  // Broadcasting is a zero stride.
  // CHECK-LABEL: func.func @elementwise
  // CHECK: tessel.binary %arg0, %arg1 {kind = "mul", lhs_strides = array<i64: 6, 1>, rhs_strides = array<i64: 0, 1>}
  // CHECK: tessel.binary {{.*}} {kind = "add"
  // CHECK: tessel.binary {{.*}} {kind = "div"
  // CHECK: tessel.unary {{.*}} {beta = 6.000000e+00 : f32, kind = "clip"}
  // CHECK: tessel.unary {{.*}} {alpha = 0.166666672 : f32, beta = 5.000000e-01 : f32, kind = "hardsigmoid"}
  // CHECK: tessel.unary {{.*}} {kind = "sigmoid"}
  func.func @elementwise(%a: tensor<2x6xf32>, %b: tensor<6xf32>) -> tensor<2x6xf32> {
    %lo = tessel.constant dense<0.0> : tensor<f32>
    %hi = tessel.constant dense<6.0> : tensor<f32>
    %0 = tessel.onnx.Mul(%a, %b) : (tensor<2x6xf32>, tensor<6xf32>) -> tensor<2x6xf32>
    %1 = tessel.onnx.Add(%0, %b) : (tensor<2x6xf32>, tensor<6xf32>) -> tensor<2x6xf32>
    %2 = tessel.onnx.Div(%1, %b) : (tensor<2x6xf32>, tensor<6xf32>) -> tensor<2x6xf32>
    %3 = tessel.onnx.Clip(%2, %lo, %hi) : (tensor<2x6xf32>, tensor<f32>, tensor<f32>) -> tensor<2x6xf32>
    %4 = tessel.onnx.HardSigmoid(%3) {alpha = 0.16666667 : f64, beta = 0.5 : f64} : (tensor<2x6xf32>) -> tensor<2x6xf32>
    %5 = tessel.onnx.Sigmoid(%4) : (tensor<2x6xf32>) -> tensor<2x6xf32>
    return %5 : tensor<2x6xf32>
  }

  // CHECK-LABEL: func.func @pooling
  // CHECK: tessel.pool %arg0 {kernel = array<i64: 3, 3>, kind = "max", pads = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>}
  // CHECK: tessel.reduce {{.*}} {extent = 16 : i64, kind = "mean", outer = 4 : i64}
  // CHECK: tessel.view {{.*}} -> tensor<1x4xf32>
  func.func @pooling(%x: tensor<1x4x8x8xf32>) -> tensor<1x4xf32> {
    %0 = tessel.onnx.MaxPool(%x) {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
    %1 = tessel.onnx.GlobalAveragePool(%0) : (tensor<1x4x4x4xf32>) -> tensor<1x4x1x1xf32>
    %2 = tessel.onnx.Flatten(%1) {axis = 1 : i64} : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32>
    return %2 : tensor<1x4xf32>
  }

  // CHECK-LABEL: func.func @gemm
  // CHECK: tessel.matmul %arg0, %arg1, %arg2 {a_strides = array<i64: 0, 8, 1>, b_strides = array<i64: 0, 1, 8>, bias_strides = array<i64: 0, 1>, has_bias = true, k = 8 : i64, m = 2 : i64, n = 5 : i64}
  func.func @gemm(%a: tensor<2x8xf32>, %b: tensor<5x8xf32>, %c: tensor<5xf32>) -> tensor<2x5xf32> {
    %0 = tessel.onnx.Gemm(%a, %b, %c) {alpha = 1.0 : f64, beta = 1.0 : f64, transB = 1 : i64} : (tensor<2x8xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<2x5xf32>
    return %0 : tensor<2x5xf32>
  }

  // The channel shuffle of shufflenet: reshape, transpose, reshape, then slices.
  // CHECK-LABEL: func.func @channel_shuffle
  // CHECK: tessel.view %arg0 : (tensor<1x4x2x2xf32>) -> tensor<1x2x2x2x2xf32>
  // CHECK: tessel.raster {{.*}} {regions = array<i64: 0, 0, 4, 8, 1, 0, 8, 4, 1, 2, 2, 4>}
  // CHECK: tessel.view
  // CHECK: tessel.raster {{.*}} {regions = array<i64: 0, 8, 0, 0, 1, 0, 0, 0, 1, 1, 1, 8>}
  func.func @channel_shuffle(%x: tensor<1x4x2x2xf32>) -> tensor<1x2x2x2xf32> {
    %s1 = tessel.constant dense<[1, 2, 2, 2, 2]> : tensor<5xi64>
    %s2 = tessel.constant dense<[1, 4, 2, 2]> : tensor<4xi64>
    %st = tessel.constant dense<[2]> : tensor<1xi64>
    %en = tessel.constant dense<[4]> : tensor<1xi64>
    %ax = tessel.constant dense<[1]> : tensor<1xi64>
    %0 = tessel.onnx.Reshape(%x, %s1) : (tensor<1x4x2x2xf32>, tensor<5xi64>) -> tensor<1x2x2x2x2xf32>
    %1 = tessel.onnx.Transpose(%0) {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x2x2x2x2xf32>) -> tensor<1x2x2x2x2xf32>
    %2 = tessel.onnx.Reshape(%1, %s2) : (tensor<1x2x2x2x2xf32>, tensor<4xi64>) -> tensor<1x4x2x2xf32>
    %3 = tessel.onnx.Slice(%2, %st, %en, %ax) : (tensor<1x4x2x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
    return %3 : tensor<1x2x2x2xf32>
  }

  // Nearest 2x upsampling: one strided copy per phase; concatenation: one copy per input.
  // CHECK-LABEL: func.func @resize_concat
  // CHECK: tessel.raster %arg0 {regions = array<i64: 0, 0, 0, 2, 1, 0, 0, 8, 2, 1, 2, 2, 0, 0, 0, 2, 1, 1, 0, 8, 2, 1, 2, 2, 0, 0, 0, 2, 1, 4, 0, 8, 2, 1, 2, 2, 0, 0, 0, 2, 1, 5, 0, 8, 2, 1, 2, 2>}
  // CHECK: tessel.raster %{{.*}}, %arg1 {regions = array<i64: 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 16, 1, 0, 0, 0, 1, 16, 0, 0, 1, 1, 1, 16>}
  func.func @resize_concat(%x: tensor<1x1x2x2xf32>, %y: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
    %roi = tessel.constant dense<> : tensor<0xf32>
    %scales = tessel.constant dense<[1.0, 1.0, 2.0, 2.0]> : tensor<4xf32>
    %0 = tessel.onnx.Resize(%x, %roi, %scales) {coordinate_transformation_mode = "asymmetric", mode = "nearest", nearest_mode = "floor"} : (tensor<1x1x2x2xf32>, tensor<0xf32>, tensor<4xf32>) -> tensor<1x1x4x4xf32>
    %1 = tessel.onnx.Concat(%0, %y) {axis = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
    return %1 : tensor<1x2x4x4xf32>
  }

  // Shape-subgraph ops have rules too (the importer folds them when their inputs are constants).
  // CHECK-LABEL: func.func @shape_ops
  // CHECK: tessel.constant dense<[1, 3, 5]> : tensor<3xi64>
  // CHECK: tessel.raster
  // CHECK: tessel.reduce %arg0 {extent = 5 : i64, kind = "mean", outer = 3 : i64}
  // CHECK: tessel.view
  func.func @shape_ops(%x: tensor<1x3x5xf32>) -> (tensor<1xi64>, tensor<1x3x1xf32>) {
    %idx = tessel.constant dense<2> : tensor<i64>
    %axes = tessel.constant dense<[0]> : tensor<1xi64>
    %0 = tessel.onnx.Shape(%x) : (tensor<1x3x5xf32>) -> tensor<3xi64>
    %1 = tessel.onnx.Gather(%0, %idx) {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %2 = tessel.onnx.Unsqueeze(%1, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
    %3 = tessel.onnx.ReduceMean(%x) {axes = array<i64: 2>, keepdims = 1 : i64} : (tensor<1x3x5xf32>) -> tensor<1x3x1xf32>
    %4 = tessel.onnx.Identity(%3) : (tensor<1x3x1xf32>) -> tensor<1x3x1xf32>
    return %2, %4 : tensor<1xi64>, tensor<1x3x1xf32>
  }

  // Indices known only at run time, and a nearest resize by 7/5: gather primitives (the resize
  // reads an i32 table of source rows, built by the rule).
  // CHECK-LABEL: func.func @gathers
  // CHECK: tessel.gather %arg0, %arg1 {extent = 5 : i64, inner = 4 : i64, outer = 3 : i64} : (tensor<3x5x4xf32>, tensor<2xi64>) -> tensor<3x2x4xf32>
  // CHECK: %[[T:.*]] = tessel.constant dense<[0, 0, 1, 2, 2, 3, 4]> : tensor<7xi32>
  // CHECK: tessel.gather %arg2, %[[T]] {extent = 5 : i64, outer = 5 : i64} : (tensor<1x1x5x5xf32>, tensor<7xi32>) -> tensor<1x1x5x7xf32>
  func.func @gathers(%x: tensor<3x5x4xf32>, %i: tensor<2xi64>, %r: tensor<1x1x5x5xf32>) -> (tensor<3x2x4xf32>, tensor<1x1x5x7xf32>) {
    %none = tessel.absent : none
    %sizes = tessel.constant dense<[1, 1, 5, 7]> : tensor<4xi64>
    %0 = tessel.onnx.Gather(%x, %i) {axis = 1 : i64} : (tensor<3x5x4xf32>, tensor<2xi64>) -> tensor<3x2x4xf32>
    %1 = tessel.onnx.Resize(%r, %none, %none, %sizes) {coordinate_transformation_mode = "asymmetric", mode = "nearest", nearest_mode = "floor"} : (tensor<1x1x5x5xf32>, none, none, tensor<4xi64>) -> tensor<1x1x5x7xf32>
    return %0, %1 : tensor<3x2x4xf32>, tensor<1x1x5x7xf32>
  }

  // GatherElements: a gather with one index per result element; Where: a select with
  // broadcast strides.
  // CHECK-LABEL: func.func @elements_and_where
  // CHECK: tessel.gather %arg0, %arg1 {elements = true, extent = 5 : i64, inner = 4 : i64, outer = 3 : i64} : (tensor<3x5x4xf32>, tensor<3x2x4xi64>) -> tensor<3x2x4xf32>
  // CHECK: tessel.select %arg2, %arg0, %arg3 {cond_strides = array<i64: 0, 1, 0>, lhs_strides = array<i64: 20, 4, 1>, rhs_strides = array<i64: 0, 0, 0>} : (tensor<5x1xi1>, tensor<3x5x4xf32>, tensor<f32>) -> tensor<3x5x4xf32>
  func.func @elements_and_where(%x: tensor<3x5x4xf32>, %i: tensor<3x2x4xi64>, %c: tensor<5x1xi1>, %y: tensor<f32>) -> (tensor<3x2x4xf32>, tensor<3x5x4xf32>) {
    %0 = tessel.onnx.GatherElements(%x, %i) {axis = 1 : i64} : (tensor<3x5x4xf32>, tensor<3x2x4xi64>) -> tensor<3x2x4xf32>
    %1 = tessel.onnx.Where(%c, %x, %y) : (tensor<5x1xi1>, tensor<3x5x4xf32>, tensor<f32>) -> tensor<3x5x4xf32>
    return %0, %1 : tensor<3x2x4xf32>, tensor<3x5x4xf32>
  }
}
