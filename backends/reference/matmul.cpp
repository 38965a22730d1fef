#include "kernels.h"

namespace tessel::reference {
namespace {

// f32, or f64 (the exact integer products of the quantized rules; post-ops need f32).
template <typename T> void matmulOf(const MatMulParams& p, Inputs in, const TensorView& out) {
  const T* a = static_cast<const T*>(in[0].data);
  const T* b = static_cast<const T*>(in[1].data);
  const T* bias = p.hasBias ? static_cast<const T*>(in[2].data) : nullptr;
  T* y = static_cast<T*>(out.data);
  for (int64_t t = 0; t < p.batch; ++t)
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        T acc = bias ? bias[i * p.biasStrides[0] + j * p.biasStrides[1]] : T(0);
        for (int64_t k = 0; k < p.k; ++k)
          acc += a[t * p.aStrides[0] + i * p.aStrides[1] + k * p.aStrides[2]] *
                 b[t * p.bStrides[0] + k * p.bStrides[1] + j * p.bStrides[2]];
        y[(t * p.m + i) * p.n + j] = acc;
      }
}

} // namespace

Status runMatMul(const MatMulParams& p, Inputs in, const TensorView& out) {
  if (p.batch == 0 || p.m == 0 || p.n == 0) return Status::ok(); // nothing to write
  if (out.desc->dtype == DType::F64) {
    matmulOf<double>(p, in, out);
    return Status::ok();
  }
  matmulOf<float>(p, in, out);
  applyPostOps(p.postOps, in, p.n, 1, static_cast<float*>(out.data), p.batch * p.m * p.n);
  return Status::ok();
}

} // namespace tessel::reference
