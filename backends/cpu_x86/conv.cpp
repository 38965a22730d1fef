// conv2d on plain NCHW: depthwise planes, or a packed GEMM per group, C[O, OH*OW] = W[O, K] *
// im2col(x)[K, OH*OW], with the weights packed into MR-row panels at load, the im2col matrix
// packed panel by panel per run (never materialised), and the post-ops applied in registers.
#include "conv.h"

#include <algorithm>

namespace tessel::x86 {
namespace {

struct ConvShape {
  int64_t n, c, h, w, o, kh, kw, oh, ow, group, cg, og, k;
};

ConvShape shapeOf(const Conv2dParams& p, const TensorDesc& x, const TensorDesc& w,
                  const TensorDesc& y) {
  ConvShape s{};
  s.n = x.shape[0], s.c = x.shape[1], s.h = x.shape[2], s.w = x.shape[3];
  s.o = w.shape[0], s.kh = w.shape[2], s.kw = w.shape[3];
  s.oh = y.shape[2], s.ow = y.shape[3];
  s.group = p.group, s.cg = s.c / p.group, s.og = s.o / p.group;
  s.k = s.cg * s.kh * s.kw;
  return s;
}

ConvGeometry geometry(const Conv2dParams& p, const ConvShape& s, const float* x) {
  ConvGeometry g;
  g.x = x;
  g.h = s.h, g.w = s.w, g.kh = s.kh, g.kw = s.kw;
  g.sh = p.stride[0], g.sw = p.stride[1], g.ph = p.pads[0], g.pw = p.pads[1];
  g.dh = p.dilation[0], g.dw = p.dilation[1];
  g.oh = s.oh, g.ow = s.ow;
  return g;
}

bool isDepthwise(const ConvShape& s) {
  return s.group == s.c && s.o == s.c && s.cg == 1;
}

class ConvKernel final : public PreparedKernel {
public:
  ConvKernel(const KernelTable& t, const Conv2dParams& p, const ConvShape& s, const void* weight)
      : t_(t), p_(p), s_(s), depthwise_(isDepthwise(s)),
        epilogue_(p.postOps, Spread::Row, p.hasBias ? 2 : -1, Spread::Row) {
    kc_ = t.nr >= 32 ? 128 : 256;
    mPanels_ = ceilDiv(s.og, t.mr);
    pointwise_ = s.kh == 1 && s.kw == 1 && p.stride == I64x2{1, 1} && p.pads == I64x4{} &&
                 p.dilation == I64x2{1, 1};
    if (!depthwise_ && weight) {
      packed_.resize(static_cast<size_t>(s.group * mPanels_ * s.k * t.mr));
      packWeights(static_cast<const float*>(weight), packed_.data());
    }
  }

  int64_t workspaceBytes(int threads) const override {
    if (depthwise_) return threads * depthwiseScratchFloats(geometry(p_, s_, nullptr)) * 4;
    const int64_t weights = packed_.empty() ? s_.group * mPanels_ * s_.k * t_.mr : 0;
    return (weights + threads * kc_ * chunkPanels(threads) * t_.nr) * 4;
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    const float* x = in[0].hostData<float>();
    float* y = out.mutableHostData<float>();
    float* ws = static_cast<float*>(ctx.workspace.hostPointer());
    const float* a = packed_.data();
    if (packed_.empty() && !depthwise_) { // weights computed at run time: pack them now
      packWeights(in[1].hostData<float>(), ws);
      a = ws;
      ws += s_.group * mPanels_ * s_.k * t_.mr;
    }
    const int64_t plane = s_.oh * s_.ow;
    std::vector<EpilogueOp> ops;
    for (int64_t b = 0; b < s_.n; ++b) {
      epilogue_.resolve(in, b * s_.o * plane, plane, &ops);
      const Epilogue ep{ops.data(), static_cast<int>(ops.size())};
      const float* xb = x + b * s_.c * s_.h * s_.w;
      float* yb = y + b * s_.o * plane;
      if (depthwise_)
        runDepthwise(ctx, in[1].hostData<float>(), xb, yb, ws, ep);
      else
        runGemm(ctx, a, xb, yb, ws, ep);
    }
    return Status::ok();
  }

private:
  // Output columns per task: enough tasks for the threads, each a few panels wide.
  int64_t chunkPanels(int threads) const {
    const int64_t nPanels = ceilDiv(s_.oh * s_.ow, t_.nr);
    const int64_t maxPanels = t_.nr >= 32 ? 4 : 8;
    const int64_t want = ceilDiv(nPanels * s_.group, 4 * std::max(threads, 1));
    return std::clamp<int64_t>(want, 1, maxPanels);
  }

  void packWeights(const float* w, float* dst) const {
    for (int64_t g = 0; g < s_.group; ++g)
      for (int64_t mp = 0; mp < mPanels_; ++mp) {
        const int rows = static_cast<int>(std::min<int64_t>(t_.mr, s_.og - mp * t_.mr));
        t_.packA(w + g * s_.og * s_.k, s_.k, 1, mp * t_.mr, rows, 0, s_.k,
                 dst + (g * mPanels_ + mp) * s_.k * t_.mr);
      }
  }

  void runDepthwise(const ExecContext& ctx, const float* w, const float* x, float* y, float* ws,
                    const Epilogue& ep) const {
    const ConvGeometry g0 = geometry(p_, s_, nullptr);
    const int64_t scratch = depthwiseScratchFloats(g0);
    parallelFor(ctx, s_.c, [&](int64_t c, int slot) {
      DepthwisePlane plane;
      plane.g = g0;
      plane.g.x = x + c * s_.h * s_.w;
      plane.weight = w + c * s_.kh * s_.kw;
      plane.y = y + c * s_.oh * s_.ow;
      plane.scratch = ws + slot * scratch;
      plane.ep = ep.count ? &ep : nullptr;
      plane.channel = c;
      t_.depthwise(plane);
    });
  }

  void runGemm(const ExecContext& ctx, const float* a, const float* x, float* y, float* ws,
               const Epilogue& ep) const {
    const int64_t cols = s_.oh * s_.ow;
    const int64_t nPanels = ceilDiv(cols, t_.nr);
    const int64_t perChunk = chunkPanels(ctx.threads);
    const int64_t nChunks = ceilDiv(nPanels, perChunk);
    // Split the rows too when the columns alone leave threads idle.
    int64_t mChunks = 1;
    if (ctx.threads > 1 && s_.group * nChunks < 2 * ctx.threads)
      mChunks = std::min(mPanels_, ceilDiv(2 * ctx.threads, s_.group * nChunks));
    const int64_t panelsPerMChunk = ceilDiv(mPanels_, mChunks);
    const int64_t bufferFloats = kc_ * perChunk * t_.nr;
    parallelFor(ctx, s_.group * nChunks * mChunks, [&](int64_t task, int slot) {
      const int64_t mc = task % mChunks, nc = task / mChunks % nChunks;
      const int64_t g = task / mChunks / nChunks;
      const ConvGeometry geo = geometry(p_, s_, x + g * s_.cg * s_.h * s_.w);
      float* bpack = ws + slot * bufferFloats;
      const int64_t p0 = nc * perChunk, p1 = std::min(nPanels, p0 + perChunk);
      const int64_t m0 = mc * panelsPerMChunk, m1 = std::min(mPanels_, m0 + panelsPerMChunk);
      for (int64_t k0 = 0; k0 < s_.k; k0 += kc_) {
        const int64_t kc = std::min(kc_, s_.k - k0);
        for (int64_t pj = p0; pj < p1; ++pj) {
          const int width = static_cast<int>(std::min<int64_t>(t_.nr, cols - pj * t_.nr));
          float* dst = bpack + (pj - p0) * kc * t_.nr;
          if (pointwise_)
            t_.packB(geo.x, cols, k0, kc, pj * t_.nr, width, dst);
          else
            t_.packBConv(geo, k0, kc, pj * t_.nr, width, dst);
        }
        const bool last = k0 + kc >= s_.k;
        for (int64_t pj = p0; pj < p1; ++pj)
          for (int64_t mp = m0; mp < m1; ++mp) {
            GemmTile tile;
            tile.kc = kc;
            tile.a = a + ((g * mPanels_ + mp) * s_.k + k0) * t_.mr;
            tile.b = bpack + (pj - p0) * kc * t_.nr;
            tile.row0 = g * s_.og + mp * t_.mr;
            tile.col0 = pj * t_.nr;
            tile.c = y + tile.row0 * cols + tile.col0;
            tile.ldc = cols;
            tile.rows = static_cast<int>(std::min<int64_t>(t_.mr, s_.og - mp * t_.mr));
            tile.cols = static_cast<int>(std::min<int64_t>(t_.nr, cols - tile.col0));
            tile.accumulate = k0 > 0;
            tile.ep = last && ep.count ? &ep : nullptr;
            t_.gemm(tile);
          }
      }
    });
  }

  const KernelTable& t_;
  const Conv2dParams& p_;
  ConvShape s_;
  bool depthwise_;
  bool pointwise_ = false;
  EpiloguePlan epilogue_;
  int64_t kc_ = 256;
  int64_t mPanels_ = 0;
  std::vector<float> packed_; // weights in MR-row panels, per group
};

} // namespace

bool convSupported(const Conv2dParams& p, const std::vector<const TensorDesc*>& t) {
  (void)t;
  return vectorPostOps(p.postOps);
}

std::unique_ptr<PreparedKernel> prepareConv(const KernelTable& table, const PrepareArgs& args) {
  const Primitive& prim = *args.primitive;
  const auto& p = prim.as<Conv2dParams>();
  const std::vector<TensorDesc>& d = *args.tensors;
  const ConvShape s = shapeOf(p, d[prim.inputs[0]], d[prim.inputs[1]], d[prim.outputs[0]]);
  return std::make_unique<ConvKernel>(table, p, s, args.constants[1]);
}

} // namespace tessel::x86
