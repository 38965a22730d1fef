// Reference kernels: plain C++ for every primitive, the oracle all other backends are tested
// against. Clarity over speed; never removed.
#pragma once

#include "tessel/runtime/backend.h"

#include <span>

namespace tessel::reference {

// Host tensors as the plain kernels take them.
struct TensorView {
  const TensorDesc* desc;
  void* data;
};
struct ConstTensorView {
  const TensorDesc* desc;
  const void* data;
};
using Inputs = std::span<const ConstTensorView>;

Status runRaster(const RasterParams& p, Inputs in, const TensorView& out);
Status runUnary(const UnaryParams& p, Inputs in, const TensorView& out);
Status runBinary(const BinaryParams& p, Inputs in, const TensorView& out);
Status runReduce(const ReduceParams& p, Inputs in, const TensorView& out);
Status runMatMul(const MatMulParams& p, Inputs in, const TensorView& out);
Status runConv2d(const Conv2dParams& p, Inputs in, const TensorView& out);
Status runPool(const PoolParams& p, Inputs in, const TensorView& out);
Status runElementwise(const ElementwiseParams& p, Inputs in, const TensorView& out);
Status runGather(const GatherParams& p, Inputs in, const TensorView& out);
Status runSelect(const SelectParams& p, Inputs in, const TensorView& out);
Status runTopK(const TopKParams& p, Inputs in, const TensorView& out);
Status runScatter(const ScatterParams& p, Inputs in, const TensorView& out);

// Scalar semantics of the elementwise kinds (core/unary.def, binary.def), for every kernel here.
float unaryValue(UnaryKind k, float x, float alpha, float beta);
float binaryValueF32(BinaryKind k, float a, float b);
// dst[i] = dst[i] kind src[i] for i < n, elements of type t (the binary primitive's semantics).
Status combineElements(DType t, BinaryKind kind, void* dst, const void* src, int64_t n);
// Applies a post-op list in place to y[0..n), viewed as [outer, channels, inner].
void applyPostOps(const PostOps& ops, Inputs in, int64_t channels, int64_t inner, float* y,
                  int64_t n);

} // namespace tessel::reference
