#include "kernels.h"

namespace tessel::reference {

Status runMatMul(const MatMulParams& p, Inputs in, const TensorView& out) {
  const float* a = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  const float* bias = p.hasBias ? static_cast<const float*>(in[2].data) : nullptr;
  float* y = static_cast<float*>(out.data);
  if (p.batch == 0 || p.m == 0 || p.n == 0) return Status::ok(); // nothing to write
  for (int64_t t = 0; t < p.batch; ++t)
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        float acc = bias ? bias[i * p.biasStrides[0] + j * p.biasStrides[1]] : 0.f;
        for (int64_t k = 0; k < p.k; ++k)
          acc += a[t * p.aStrides[0] + i * p.aStrides[1] + k * p.aStrides[2]] *
                 b[t * p.bStrides[0] + k * p.bStrides[1] + j * p.bStrides[2]];
        y[(t * p.m + i) * p.n + j] = acc;
      }
  applyPostOps(p.postOps, in, p.n, 1, y, p.batch * p.m * p.n);
  return Status::ok();
}

} // namespace tessel::reference
