// Primitive ops verify with the runtime's own validation of primitives.
// RUN: tessel-opt %s -split-input-file -verify-diagnostics

func.func @raster_out_of_bounds(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{region reads outside its source (6 elements)}}
  %0 = tessel.raster %x {regions = array<i64: 0, 1, 0, 1, 3, 0, 0, 2, 1, 1, 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{conv2d channels do not match weight [4,2,3,3]}}
  %0 = tessel.conv2d %x, %w {dilation = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @unary_kind(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{unknown kind 'gelu2'}}
  %0 = tessel.unary %x {kind = "gelu2"} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @view_size(%x: tensor<4xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{view changes the byte size}}
  %0 = tessel.view %x : (tensor<4xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

func.func @post_op_operand(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %s: tensor<2xf32>) -> tensor<1x3x4x4xf32> {
  // expected-error @+1 {{post-op 'add channel 2' operand f32[2] does not hold 3 f32 elements}}
  %0 = tessel.conv2d %x, %w, %s {dilation = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, post_ops = ["add channel 2"]} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>, tensor<2xf32>) -> tensor<1x3x4x4xf32>
  return %0 : tensor<1x3x4x4xf32>
}

// -----

func.func @post_op_syntax(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{post-op 'add sideways 1': unknown broadcast 'sideways'}}
  %0 = tessel.elementwise %x {post_ops = ["add sideways 1"]} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @elementwise_blocks(%x: tensor<6xf32>) -> tensor<6xf32> {
  // expected-error @+1 {{elementwise channels 4 x inner 1 do not divide its 6 elements}}
  %0 = tessel.elementwise %x {channels = 4, post_ops = ["relu"]} : (tensor<6xf32>) -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

// -----

func.func @post_op_unused_input(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{input 1 is no post-op's operand}}
  %0 = tessel.elementwise %x, %y {post_ops = ["relu"]} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @gather_indices(%x: tensor<5x3xf32>, %i: tensor<2xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{gather indices are f32 (i32 or i64 expected)}}
  %0 = tessel.gather %x, %i {outer = 1, extent = 5, inner = 3} : (tensor<5x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @gather_elements_layout(%x: tensor<2x5x3xf32>, %i: tensor<2x2x2xi64>) -> tensor<2x2x2xf32> {
  // expected-error @+1 {{gather elements: the indices must be laid out as the output}}
  %0 = tessel.gather %x, %i {outer = 2, extent = 5, inner = 3, elements = true} : (tensor<2x5x3xf32>, tensor<2x2x2xi64>) -> tensor<2x2x2xf32>
  return %0 : tensor<2x2x2xf32>
}

// -----

func.func @select_condition(%c: tensor<4xf32>, %x: tensor<4xf32>, %y: tensor<f32>) -> tensor<4xf32> {
  // expected-error @+1 {{select's condition must be bool}}
  %0 = tessel.select %c, %x, %y {cond_strides = array<i64: 1>, lhs_strides = array<i64: 1>, rhs_strides = array<i64: 0>} : (tensor<4xf32>, tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @select_reach(%c: tensor<4xi1>, %x: tensor<3xf32>, %y: tensor<f32>) -> tensor<4xf32> {
  // expected-error @+1 {{select operand 1's strides reach outside it}}
  %0 = tessel.select %c, %x, %y {cond_strides = array<i64: 1>, lhs_strides = array<i64: 1>, rhs_strides = array<i64: 0>} : (tensor<4xi1>, tensor<3xf32>, tensor<f32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @topk_k(%x: tensor<5xf32>) -> tensor<6xi64> {
  // expected-error @+1 {{topk dims do not match its tensors (k at most the extent)}}
  %0 = tessel.topk %x {outer = 1, extent = 5, inner = 1, k = 6, largest = true} : (tensor<5xf32>) -> tensor<6xi64>
  return %0 : tensor<6xi64>
}

// -----

func.func @scatter_updates(%x: tensor<5x3xf32>, %i: tensor<2xi64>, %u: tensor<3x3xf32>) -> tensor<5x3xf32> {
  // expected-error @+1 {{scatter dims do not match its tensors}}
  %0 = tessel.scatter %x, %i, %u {outer = 1, extent = 5, inner = 3, reduce = false, kind = "add"} : (tensor<5x3xf32>, tensor<2xi64>, tensor<3x3xf32>) -> tensor<5x3xf32>
  return %0 : tensor<5x3xf32>
}

// -----

func.func @scatter_reduction(%x: tensor<5xf32>, %i: tensor<2xi64>, %u: tensor<2xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{scatter combines by add, mul, max or min}}
  %0 = tessel.scatter %x, %i, %u {outer = 1, extent = 5, inner = 1, reduce = true, kind = "sub"} : (tensor<5xf32>, tensor<2xi64>, tensor<2xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}
