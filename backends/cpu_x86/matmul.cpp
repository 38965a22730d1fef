// matmul: out[b] = a[b] (m x k) * b[b] (k x n) through the same microkernels as conv2d, with a
// in MR-row panels (packed per run) and b in NR-column panels (packed at load when constant).
// The channel of post-ops is n, so they spread by column.
#include "matmul.h"

#include "tessel/runtime/large_buffer.h"

#include <algorithm>

namespace tessel::x86 {
namespace {

// The bias as an epilogue operand: bias[m*cs0 + n*cs1] for the patterns that have one.
bool biasSpread(const MatMulParams& p, Spread* spread, int64_t* ld) {
  const int64_t cs0 = p.biasStrides[0], cs1 = p.biasStrides[1];
  *ld = 0;
  if (cs0 == 0 && cs1 == 0)
    *spread = Spread::Scalar;
  else if (cs0 == 0 && cs1 == 1)
    *spread = Spread::Column;
  else if (cs0 == 1 && cs1 == 0)
    *spread = Spread::Row;
  else if (cs1 == 1 && cs0 > 0) {
    *spread = Spread::Full;
    *ld = cs0;
  } else {
    return false;
  }
  return true;
}

} // namespace

// a's panels of one batch, and b's when not packed at load.
int64_t matmulWorkspaceBytes(const KernelTable& t, const MatMulParams& p, bool bPacked) {
  if (p.batch == 0 || p.m == 0 || p.n == 0) return 0;
  return (ceilDiv(p.m, t.mr) * p.k * t.mr + (bPacked ? 0 : ceilDiv(p.n, t.nr) * p.k * t.nr)) * 4;
}

namespace {

class MatMulKernel final : public PreparedKernel {
public:
  MatMulKernel(const KernelTable& t, const MatMulParams& p, const void* b, Spread bias,
               int64_t biasLd)
      : t_(t), p_(p), epilogue_(p.postOps, Spread::Column, p.hasBias ? 2 : -1, bias, biasLd) {
    kc_ = 256;
    // With k = 0 or an empty output nothing of a or b is read, and validation checks none of
    // their strides (nor bounds the other dims): b is not packed then, and no panel counted.
    empty_ = p.batch == 0 || p.m == 0 || p.n == 0;
    mPanels_ = empty_ ? 0 : ceilDiv(p.m, t.mr);
    nPanels_ = empty_ ? 0 : ceilDiv(p.n, t.nr);
    bBatches_ = p.bStrides[0] == 0 || p.k == 0 || empty_ ? 1 : p.batch;
    if (b && p.k > 0 && !empty_) {
      packedB_.resize(static_cast<size_t>(bBatches_ * bFloats()));
      for (int64_t bt = 0; bt < bBatches_; ++bt)
        packB(static_cast<const float*>(b) + bt * p.bStrides[0], packedB_.data() + bt * bFloats());
    }
  }

  // A constant b is packed at load.
  bool readsConstant(size_t input) const override { return input != 1 || packedB_.empty(); }

  int64_t workspaceBytes(int) const override {
    return matmulWorkspaceBytes(t_, p_, !packedB_.empty());
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    if (empty_) return Status::ok();
    float* y = out.mutableHostData<float>();
    float* apack = static_cast<float*>(ctx.workspace.hostPointer());
    float* bscratch = apack + mPanels_ * p_.k * t_.mr;
    std::vector<EpilogueOp> ops;
    for (int64_t bt = 0; bt < p_.batch; ++bt) {
      const float* a = in[0].hostData<float>() + (p_.k > 0 ? bt * p_.aStrides[0] : 0);
      for (int64_t mp = 0; mp < mPanels_; ++mp)
        t_.packA(a, p_.aStrides[1], p_.aStrides[2], mp * t_.mr,
                 static_cast<int>(std::min<int64_t>(t_.mr, p_.m - mp * t_.mr)), 0, p_.k,
                 apack + mp * p_.k * t_.mr);
      const float* b = packedB_.data() + (bBatches_ == 1 ? 0 : bt) * bFloats();
      if (packedB_.empty()) {
        if (p_.k > 0) packB(in[1].hostData<float>() + bt * p_.bStrides[0], bscratch);
        b = bscratch;
      }
      epilogue_.resolve(in, bt * p_.m * p_.n, p_.n, &ops);
      const Epilogue ep{ops.data(), static_cast<int>(ops.size())};
      float* yb = y + bt * p_.m * p_.n;
      parallelFor(ctx, mPanels_ * nPanels_, [&](int64_t task, int) {
        const int64_t mp = task % mPanels_, np = task / mPanels_;
        GemmTile tile; // every field a call reads is set below
        for (int64_t k0 = 0; k0 < p_.k || k0 == 0; k0 += kc_) {
          const int64_t kc = std::min(kc_, p_.k - k0);
          tile.kc = kc;
          tile.a = apack + (mp * p_.k + k0) * t_.mr;
          tile.b = b + (np * p_.k + k0) * t_.nr;
          tile.row0 = mp * t_.mr;
          tile.col0 = np * t_.nr;
          tile.c = yb + tile.row0 * p_.n + tile.col0;
          tile.ldc = p_.n;
          tile.rows = static_cast<int>(std::min<int64_t>(t_.mr, p_.m - tile.row0));
          tile.cols = static_cast<int>(std::min<int64_t>(t_.nr, p_.n - tile.col0));
          tile.accumulate = k0 > 0;
          tile.ep = k0 + kc >= p_.k && ep.count ? &ep : nullptr;
          t_.gemm(tile);
          if (p_.k == 0) break;
        }
      });
    }
    return Status::ok();
  }

private:
  int64_t bFloats() const { return nPanels_ * p_.k * t_.nr; }

  // b (k x n, strides bStrides[1], bStrides[2]) into NR-column panels of all k rows.
  void packB(const float* b, float* dst) const {
    for (int64_t np = 0; np < nPanels_; ++np) {
      const int64_t n0 = np * t_.nr;
      const int cols = static_cast<int>(std::min<int64_t>(t_.nr, p_.n - n0));
      float* panel = dst + np * p_.k * t_.nr;
      if (p_.bStrides[2] == 1) {
        t_.packB(b, p_.bStrides[1], 0, p_.k, n0, cols, panel);
        continue;
      }
      for (int64_t k = 0; k < p_.k; ++k)
        for (int j = 0; j < t_.nr; ++j)
          panel[k * t_.nr + j] = j < cols ? b[k * p_.bStrides[1] + (n0 + j) * p_.bStrides[2]] : 0.f;
    }
  }

  const KernelTable& t_;
  const MatMulParams& p_;
  EpiloguePlan epilogue_;
  int64_t kc_ = 256, mPanels_ = 0, nPanels_ = 0, bBatches_ = 1;
  bool empty_ = false; // no output element: nothing is read or written
  LargeFloats packedB_;
};

} // namespace

bool matmulSupported(const MatMulParams& p) {
  Spread s;
  int64_t ld;
  return vectorPostOps(p.postOps) && (!p.hasBias || biasSpread(p, &s, &ld));
}

std::unique_ptr<PreparedKernel> prepareMatMul(const KernelTable& table, const PrepareArgs& args) {
  const auto& p = args.primitive->as<MatMulParams>();
  Spread spread = Spread::Scalar;
  int64_t ld = 0;
  biasSpread(p, &spread, &ld);
  return std::make_unique<MatMulKernel>(table, p, args.constants[1], spread, ld);
}

} // namespace tessel::x86
