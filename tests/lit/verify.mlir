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
  %0 = tessel.conv2d %x, %w {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @unary_kind(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{unknown unary kind 'gelu2'}}
  %0 = tessel.unary %x {kind = "gelu2"} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @view_size(%x: tensor<4xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{view changes the byte size}}
  %0 = tessel.view %x : (tensor<4xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}
