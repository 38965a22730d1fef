#ifndef TESSEL_PRIMITIVE_DOCS_TD
#define TESSEL_PRIMITIVE_DOCS_TD

// The documentation of each primitive op; the ops themselves (operands, attributes) are generated
// from core/include/tessel/core/primitives.def into PrimitiveOps.td, which names these records.
class PrimitiveDoc<string s, string d> {
  string summary = s;
  string description = d;
  bit folder = 0;
}

def RasterDoc : PrimitiveDoc<"copies elements from sources to the result through strided 3-D regions", [{
  `regions` holds 12 integers per region: source index, source offset and 3 strides,
  destination offset and 3 strides, 3 sizes (elements as stored). Elements no region writes
  take `fill`; without `fill` the regions must cover the result. A transpose:
  `%t = tessel.raster %x {regions = array<i64: 0, 0, 0, 1, 3, 0, 0, 2, 1, 1, 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>`
}]>;

def ViewDoc : PrimitiveDoc<"the same elements under a new shape (no copy)", [{
  `%v = tessel.view %x : (tensor<2x3xf32>) -> tensor<6xf32>`
}]> { let folder = 1; }

def UnaryDoc : PrimitiveDoc<"an elementwise function of one tensor", [{
  `kind` names a line of core/unary.def; `alpha`/`beta` are its parameters (clip bounds,
  hardsigmoid slope and offset).
  `%y = tessel.unary %x {kind = "relu"} : (tensor<4xf32>) -> tensor<4xf32>`
}]>;

def BinaryDoc : PrimitiveDoc<"an elementwise function of two tensors, broadcast through strides", [{
  Strides are per result dim, in elements of each operand; 0 broadcasts.
  `%y = tessel.binary %a, %b {kind = "add", lhs_strides = array<i64: 3, 1>, rhs_strides = array<i64: 0, 1>} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>`
}]>;

def ReduceDoc : PrimitiveDoc<"reduces the middle dim of an [outer, extent, inner] view", [{
  `%m = tessel.reduce %x {kind = "mean", outer = 8, extent = 49, inner = 1} : (tensor<1x8x7x7xf32>) -> tensor<1x8x1x1xf32>`
}]>;

def MatMulDoc : PrimitiveDoc<"batched matrix product with strided operands, optional bias and post-ops", [{
  Operands: a, b, the bias when `has_bias`, then post-op operands. `a_strides` over
  (batch, m, k), `b_strides` over (batch, k, n), `bias_strides` over (m, n). The result is dense
  [batch, m, n] in any shape of that size; `post_ops` treat n as the channel.
  `%y = tessel.matmul %a, %b {batch = 1, m = 2, n = 4, k = 3, a_strides = array<i64: 0, 3, 1>, b_strides = array<i64: 0, 4, 1>, bias_strides = array<i64: 0, 0>, post_ops = ["relu"]} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>`
}]>;

def Conv2dDoc : PrimitiveDoc<"2-D convolution, NCHW input, OIHW weight, optional bias and post-ops", [{
  Operands: input, weight, the bias when `has_bias`, then post-op operands. `pads` = [top,
  left, bottom, right]; `group` > 1 is grouped (depthwise when it equals the channels).
  `post_ops` apply in order to each result element, C as the channel: "relu", "clip 0 6",
  "add channel 3" (operand 3 holds one value per channel), "add full 3" (a residual).
}]>;

def PoolDoc : PrimitiveDoc<"2-D max or average pooling over NCHW", [{
  `kind` is "max" or "avg"; `pads` = [top, left, bottom, right].
}]>;

def ElementwiseDoc : PrimitiveDoc<"a post-op program over one tensor", [{
  `%y = tessel.elementwise %x, %s {channels = 8, inner = 49, post_ops = ["mul channel 1", "sigmoid"]} : (tensor<1x8x7x7xf32>, tensor<8xf32>) -> tensor<1x8x7x7xf32>`
  The result is the input with `post_ops` applied, viewed as [outer, channels, inner].
}]>;

def GatherDoc : PrimitiveDoc<"rows of the data picked by an index tensor", [{
  Operands: data, indices (i32 or i64, any shape of `count` elements). With the data viewed as
  [outer, extent, inner] and the result as [outer, count, inner], result[o, j, k] =
  data[o, indices[j], k]; a negative index counts from the end; an index outside
  [-extent, extent) fails the run. ONNX Gather along an axis; resizes by index tables. With
  `elements`, one index per result element, the indices laid out as the result:
  result[o, j, k] = data[o, indices[o, j, k], k] (ONNX GatherElements).
  `%y = tessel.gather %x, %i {outer = 1, extent = 5, inner = 3} : (tensor<5x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>`
}]>;

def SelectDoc : PrimitiveDoc<"picks each element from one of two operands by a bool condition", [{
  Operands: cond (i1), lhs, rhs (the result's element type). result[idx] = cond[idx . cond_strides]
  ? lhs[idx . lhs_strides] : rhs[idx . rhs_strides], idx over the result's shape; a zero stride
  broadcasts. ONNX Where.
  `%y = tessel.select %c, %a, %b {cond_strides = array<i64: 1>, lhs_strides = array<i64: 1>, rhs_strides = array<i64: 0>} : (tensor<4xi1>, tensor<4xf32>, tensor<f32>) -> tensor<4xf32>`
}]>;

def TopKDoc : PrimitiveDoc<"the positions of the k largest or smallest elements along an axis", [{
  Operand: x (f32, f64, i32 or i64), viewed as [outer, extent, inner]. result[o, j, i] (i64,
  [outer, k, inner]) is the position of the j-th largest (without `largest`: smallest) element
  of x[o, :, i]; equal elements keep their order; NaN is larger than any number. ONNX TopK's
  indices; its values are a gather of them.
  `%i = tessel.topk %x {outer = 1, extent = 5, inner = 1, k = 2, largest = true} : (tensor<5xf32>) -> tensor<2xi64>`
}]>;

def ScatterDoc : PrimitiveDoc<"the data with rows replaced or combined at positions an index tensor names", [{
  Operands: data, indices (i32 or i64, `count` elements), updates (the data's element type).
  With the data and the result viewed as [outer, extent, inner] and the updates as [outer,
  count, inner]: the result is the data, then for each j in order result[o, indices[j], k] =
  updates[o, j, k] (with `reduce`: combined with it by `kind`, add, mul, max or min); a
  negative index counts from the end; one outside [-extent, extent) fails the run. ONNX
  ScatterND and ScatterElements.
  `%y = tessel.scatter %x, %i, %u {outer = 1, extent = 5, inner = 3, reduce = false, kind = "add"} : (tensor<5x3xf32>, tensor<2xi64>, tensor<2x3xf32>) -> tensor<5x3xf32>`
}]>;

#endif
