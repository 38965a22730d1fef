// Adjacent rasters fuse; identity rasters become views; views are read through.
// RUN: tessel-opt %s -tessel-fuse-raster -canonicalize | FileCheck %s

module {
  // A transpose of a transpose is the identity: a view of the same type, which folds away.
  // CHECK-LABEL: func.func @transpose_twice
  // CHECK-NEXT: return %arg0
  func.func @transpose_twice(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %0 = tessel.raster %x {regions = array<i64: 0, 0, 0, 1, 3, 0, 0, 2, 1, 1, 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    %1 = tessel.raster %0 {regions = array<i64: 0, 0, 0, 1, 2, 0, 0, 3, 1, 1, 2, 3>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    return %1 : tensor<2x3xf32>
  }

  // A slice of a transpose reads the source directly: the second column of x^T is row 1 of x.
  // CHECK-LABEL: func.func @slice_of_transpose
  // CHECK-NEXT: %[[R:.*]] = tessel.raster %arg0 {regions = array<i64: 0, 3, 0, 0, 1, 0, 0, 0, 1, 1, 1, 3>} : (tensor<2x3xf32>) -> tensor<3x1xf32>
  // CHECK-NEXT: return %[[R]]
  func.func @slice_of_transpose(%x: tensor<2x3xf32>) -> tensor<3x1xf32> {
    %0 = tessel.raster %x {regions = array<i64: 0, 0, 0, 1, 3, 0, 0, 2, 1, 1, 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    %1 = tessel.raster %0 {regions = array<i64: 0, 1, 0, 0, 2, 0, 0, 0, 1, 1, 1, 3>} : (tensor<3x2xf32>) -> tensor<3x1xf32>
    return %1 : tensor<3x1xf32>
  }

  // Views in between are read through; a raster that cannot compose (it walks the flattened
  // transpose across rows) stays.
  // CHECK-LABEL: func.func @through_view
  // CHECK: %[[T:.*]] = tessel.raster %arg0
  // CHECK: tessel.raster %[[T]]
  func.func @through_view(%x: tensor<2x3xf32>) -> tensor<4xf32> {
    %0 = tessel.raster %x {regions = array<i64: 0, 0, 0, 1, 3, 0, 0, 2, 1, 1, 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    %1 = tessel.view %0 : (tensor<3x2xf32>) -> tensor<6xf32>
    %2 = tessel.raster %1 {regions = array<i64: 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 4>} : (tensor<6xf32>) -> tensor<4xf32>
    return %2 : tensor<4xf32>
  }

  // A channel shuffle over a concat (shufflenet): the transpose reads the concat's sources
  // directly, split along the dim that selects the half; the concat goes away.
  // CHECK-LABEL: func.func @shuffle_over_concat
  // CHECK-NEXT: %[[S:.*]] = tessel.raster %arg0, %arg1 {regions = array<i64: 0, 0, 4, 0, 1, 0, 8, 4, 1, 3, 1, 4, 1, 0, 4, 0, 1, 4, 8, 4, 1, 3, 1, 4>} : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x2x4xf32>
  // CHECK-NEXT: return %[[S]]
  func.func @shuffle_over_concat(%a: tensor<3x4xf32>, %b: tensor<3x4xf32>) -> tensor<3x2x4xf32> {
    %0 = tessel.raster %a, %b {regions = array<i64: 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 12, 1, 0, 0, 0, 1, 12, 0, 0, 1, 1, 1, 12>} : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
    %1 = tessel.raster %0 {regions = array<i64: 0, 0, 4, 12, 1, 0, 8, 4, 1, 3, 2, 4>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
    return %1 : tensor<3x2x4xf32>
  }
}
