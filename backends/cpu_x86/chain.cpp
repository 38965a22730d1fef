// Chains of primitives run as one kernel. A pointwise convolution followed by a depthwise one
// (mobilenet's expand and depthwise halves, shufflenet's branches): unfused, the expanded
// tensor (mobilenet_v2's 96 x 112 x 112: 4.8 MB) is written to memory and read back, and at two
// threads the expand runs at the memory's pace. Here a task takes a band of output rows and a
// run of channel groups: it packs the input rows the band needs once, then per group of NR
// expanded channels computes them with the transposed GEMM's tiles straight into a small blocked
// buffer (bias and activation in registers) and runs the depthwise window kernel over it into
// the output. Input rows shared by two bands are expanded twice; bands are as tall as the cache
// budget allows to keep that small. The reference is the two primitives run one after the other
// (tests/backends/cpu_x86_chain_test.cpp).
#include "chain.h"

#include "conv.h"

#include <algorithm>
#include <array>

namespace tessel::x86 {
namespace {

// Bytes the expanded tensor must reach before fusing pays: below, it stays in L2 between the two
// kernels anyway, and each runs its own best tiling.
constexpr int64_t kMinExpandedBytes = 512 * 1024;
// Floats a task's packed input rows and expanded group may take: a band's working set in L2.
constexpr int64_t kBandFloats = 64 * 1024;

bool pointwise(const Conv2dParams& p, const Shape& w) {
  return w[2] == 1 && w[3] == 1 && p.stride == I64x2{1, 1} && p.pads == I64x4{} &&
         p.dilation == I64x2{1, 1} && p.group == 1;
}

bool hasFull(const PostOps& ops) {
  return std::any_of(ops.begin(), ops.end(), [](const PostOp& op) {
    return op.isBinary && op.broadcast == Broadcast::Full;
  });
}

// The expand's epilogue resolved against stand-in operands, to ask the tiles whether they apply
// it in registers (what depends on the operands' values is not asked).
bool columnEpilogueFits(const KernelTable& t, const EpiloguePlan& plan, size_t inputs) {
  static const float zero[1] = {0.f};
  std::vector<TensorArg> stand(inputs);
  for (TensorArg& a : stand)
    a.buffer.handle = const_cast<float*>(zero);
  std::vector<EpilogueOp> ops;
  plan.resolve(stand, 0, 0, &ops);
  const Epilogue ep{ops.data(), static_cast<int>(ops.size())};
  return t.columnEpilogueFits(ops.empty() ? nullptr : &ep);
}

class PointwiseDepthwise final : public PreparedKernel {
public:
  PointwiseDepthwise(const KernelTable& t, const Conv2dParams& pe, const Conv2dParams& pd,
                     const std::vector<TensorDesc>& d, const Primitive& e, const Primitive& dw,
                     const float* we, const float* wd)
      : t_(t), pd_(pd), expandInputs_(e.inputs.size()),
        expandEp_(pe.postOps, Spread::Column, pe.hasBias ? 2 : -1, Spread::Column),
        dwEp_(pd.postOps, Spread::Row, pd.hasBias ? 2 : -1, Spread::Row) {
    const TensorDesc& x = d[e.inputs[0]];
    const TensorDesc& y = d[dw.outputs[0]];
    n_ = x.shape[0], cin_ = x.shape[1], h_ = x.shape[2], w_ = x.shape[3];
    ce_ = d[e.outputs[0]].shape[1];
    kh_ = d[dw.inputs[1]].shape[2], kw_ = d[dw.inputs[1]].shape[3];
    oh_ = y.shape[2], ow_ = y.shape[3];
    xBlock_ = layoutBlock(x.layout), yBlock_ = layoutBlock(y.layout);
    packed_ = packWeightPanels(t, we, ce_, cin_);
    dwWeights_.assign(wd, wd + ce_ * kh_ * kw_);
    // Bands: input rows (packed input and one group's expansion) within kBandFloats, output
    // rows spread evenly over as few bands as that allows.
    window_ = (kh_ - 1) * pd.dilation[0] + 1;
    const int64_t fitRows =
        std::max(window_, kBandFloats / std::max<int64_t>(1, w_ * (cin_ + t.nr)));
    const int64_t maxRows = std::clamp<int64_t>((fitRows - window_) / pd.stride[0] + 1, 1, oh_);
    bands_ = ceilDiv(oh_, maxRows);
    bandRows_ = ceilDiv(oh_, bands_);
    bands_ = ceilDiv(oh_, bandRows_);
    inRowsMax_ = std::min(h_, (bandRows_ - 1) * pd.stride[0] + window_);
    groups_ = ceilDiv(ce_, t.nr);
    strip_ = windowStrip(geometryE(nullptr, 0, inRowsMax_), t.vectorWidth);
  }

  // The expand's weights are packed and the depthwise's copied at load.
  bool readsConstant(size_t input) const override { return input != 1 && input != expandInputs_; }

  std::string describe() const override {
    return "chain: pointwise in bands of " + std::to_string(bandRows_) +
           " rows into the depthwise window";
  }

  int64_t workspaceBytes(int threads) const override {
    return std::max(threads, 1) * threadFloats() * 4;
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    if (n_ == 0 || ce_ == 0 || oh_ == 0 || ow_ == 0) return Status::ok();
    const float* x = in[0].hostData<float>();
    float* y = out.mutableHostData<float>();
    float* ws = static_cast<float*>(ctx.workspace.hostPointer());
    // The depthwise primitive's inputs by its own numbering (its input 0, the expanded tensor,
    // never exists).
    std::vector<TensorArg> dwIn(1);
    dwIn.insert(dwIn.end(), in.begin() + static_cast<int64_t>(expandInputs_), in.end());
    const int64_t plane = oh_ * ow_, oStored = storedChannels(ce_, yBlock_);
    const int threads = std::max(ctx.threads, 1);
    // Tasks: a band and a run of channel groups, enough of them for four per thread.
    const int64_t chunks =
        std::clamp<int64_t>(ceilDiv(4 * int64_t{threads}, n_ * bands_), 1, groups_);
    const int64_t perChunk = ceilDiv(groups_, chunks);
    const int64_t runs = ceilDiv(groups_, perChunk);
    std::vector<EpilogueOp> expandOps, dwOps;
    expandEp_.resolve(in.subspan(0, expandInputs_), 0, 0, &expandOps);
    const Epilogue expandEp{expandOps.data(), static_cast<int>(expandOps.size())};
    for (int64_t b = 0; b < n_; ++b) {
      dwEp_.resolve(dwIn, b * oStored * plane, plane, &dwOps);
      const Epilogue dwEp{dwOps.data(), static_cast<int>(dwOps.size())};
      const float* xb = x + b * storedChannels(cin_, xBlock_) * h_ * w_;
      float* yb = y + b * oStored * plane;
      parallelFor(ctx, bands_ * runs, [&](int64_t task, int slot) {
        const int64_t band = task / runs, g0 = task % runs * perChunk;
        runBand(xb, yb, band, g0, std::min(groups_, g0 + perChunk), ws + slot * threadFloats(),
                expandOps.empty() ? nullptr : &expandEp, dwOps.empty() ? nullptr : &dwEp);
      });
    }
    return Status::ok();
  }

private:
  // The depthwise geometry over an expansion of input rows iy0.. (rows of them): its rows are
  // the input's shifted by iy0, so the padding above grows by iy0; rows outside it are padding
  // or rows the band does not read.
  ConvGeometry geometryE(const float* e, int64_t iy0, int64_t rows) const {
    ConvGeometry g;
    g.x = e;
    g.h = rows, g.w = w_, g.kh = kh_, g.kw = kw_;
    g.sh = pd_.stride[0], g.sw = pd_.stride[1];
    g.ph = pd_.pads[0] + iy0, g.pw = pd_.pads[1];
    g.dh = pd_.dilation[0], g.dw = pd_.dilation[1];
    g.oh = oh_, g.ow = ow_;
    g.block = t_.vectorWidth;
    return g;
  }

  int64_t packFloats() const { return ceilDiv(inRowsMax_ * w_, t_.mr) * cin_ * t_.mr; }
  int64_t expandFloats() const { return inRowsMax_ * w_ * t_.nr; }
  int64_t threadFloats() const {
    return ceilDiv(packFloats() + expandFloats(), 16) * 16 + strip_.floats;
  }

  void runBand(const float* x, float* y, int64_t band, int64_t g0, int64_t g1, float* ws,
               const Epilogue* expandEp, const Epilogue* dwEp) const {
    const int64_t sh = pd_.stride[0], ph = pd_.pads[0];
    const int64_t oy0 = band * bandRows_, oy1 = std::min(oh_, oy0 + bandRows_);
    if (oy0 >= oy1) return;
    // The input rows the band's windows reach, inside the input.
    const int64_t iy0 = std::clamp<int64_t>(oy0 * sh - ph, 0, h_);
    const int64_t iy1 = std::clamp<int64_t>((oy1 - 1) * sh - ph + window_, iy0, h_);
    const int64_t rows = iy1 - iy0, positions = rows * w_, planeE = positions;
    float* apack = ws;
    float* e = ws + packFloats();
    float* scratch = ws + ceilDiv(packFloats() + expandFloats(), 16) * 16;
    const int W = t_.vectorWidth;
    const int64_t panelCount = ceilDiv(positions, t_.mr);
    for (int64_t rp = 0; rp < panelCount; ++rp) {
      const int64_t p0 = iy0 * w_ + rp * t_.mr;
      const int r = static_cast<int>(std::min<int64_t>(t_.mr, positions - rp * t_.mr));
      if (xBlock_)
        t_.packABlocked(x, h_ * w_ * xBlock_, p0, r, 0, cin_, apack + rp * cin_ * t_.mr);
      else
        t_.packA(x, 1, h_ * w_, p0, r, 0, cin_, apack + rp * cin_ * t_.mr);
    }
    const int64_t full = positions / t_.mr, rest = positions % t_.mr;
    constexpr int64_t kKc = 512;
    GemmTile tile;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t c0 = g * t_.nr;
      const int cols = static_cast<int>(std::min<int64_t>(t_.nr, ce_ - c0));
      // The group's expansion: positions x cols, stored as blocks of W channels (a plane of
      // positions each), bias and activation applied by the tiles.
      for (const auto& [q0, count, r] : {std::array<int64_t, 3>{0, full, t_.mr},
                                         std::array<int64_t, 3>{full, rest ? 1 : 0, rest}}) {
        if (count == 0) continue;
        tile.rows = static_cast<int>(r);
        tile.panels = static_cast<int>(count);
        tile.cols = cols;
        tile.lda = 0;
        tile.aStep = cin_ * t_.mr;
        tile.bStep = 0;
        tile.c = e + q0 * t_.mr * W;
        tile.ldc = W;
        tile.ldcv = planeE * W;
        tile.cStep = t_.mr * W;
        tile.columnEpilogue = true;
        tile.residual = nullptr;
        tile.row0 = q0 * t_.mr;
        tile.rowStep = t_.mr;
        tile.col0 = c0;
        tile.colStep = 0;
        for (int64_t k0 = 0; k0 < cin_; k0 += kKc) {
          tile.kc = std::min(kKc, cin_ - k0);
          tile.a = apack + q0 * cin_ * t_.mr + k0 * t_.mr;
          tile.b = packed_.data() + (g * cin_ + k0) * t_.nr;
          tile.prefetchB = nullptr;
          tile.accumulate = k0 > 0;
          tile.ep = k0 + tile.kc >= cin_ ? expandEp : nullptr;
          t_.gemm(tile);
        }
      }
      // The depthwise convolution of the group's channels, W at a time, into the output.
      for (int64_t cb = 0; cb < cols; cb += W) {
        WindowBlock wb;
        wb.g = geometryE(e + cb * planeE, iy0, rows);
        wb.mode = WindowMode::Depthwise;
        wb.weight = dwWeights_.data() + (c0 + cb) * kh_ * kw_;
        wb.channels = static_cast<int>(std::min<int64_t>(W, cols - cb));
        wb.y = y;
        wb.yBlock = yBlock_;
        wb.oy0 = oy0, wb.oy1 = oy1;
        wb.strip = strip_;
        wb.scratch = scratch;
        wb.ep = dwEp;
        wb.channel = c0 + cb;
        t_.window(wb);
      }
    }
  }

  const KernelTable& t_;
  Conv2dParams pd_;
  size_t expandInputs_;
  EpiloguePlan expandEp_, dwEp_;
  int64_t n_ = 0, cin_ = 0, h_ = 0, w_ = 0, ce_ = 0, kh_ = 0, kw_ = 0, oh_ = 0, ow_ = 0;
  int64_t xBlock_ = 0, yBlock_ = 0;
  int64_t window_ = 1, bands_ = 1, bandRows_ = 1, inRowsMax_ = 1, groups_ = 1;
  WindowStrip strip_;
  std::vector<float> packed_;    // expand weights as B panels
  std::vector<float> dwWeights_; // [ce][kh * kw]
};

std::unique_ptr<PreparedKernel> preparePointwiseDepthwise(const KernelTable& t,
                                                          const PrepareArgs& expand,
                                                          const PrepareArgs& depthwise) {
  const Primitive& e = *expand.primitive;
  const Primitive& dw = *depthwise.primitive;
  if (e.kind() != PrimitiveKind::Conv2d || dw.kind() != PrimitiveKind::Conv2d) return nullptr;
  if (expand.choice.id != 0 || depthwise.choice.id != 0) return nullptr; // a pinned kernel each
  const std::vector<TensorDesc>& d = *expand.tensors;
  const auto& pe = e.as<Conv2dParams>();
  const auto& pd = dw.as<Conv2dParams>();
  const TensorDesc& x = d[e.inputs[0]];
  const TensorDesc& mid = d[e.outputs[0]];
  const TensorDesc& y = d[dw.outputs[0]];
  const Shape& wd = d[dw.inputs[1]].shape;
  const int64_t ce = mid.shape[1];
  if (!pointwise(pe, d[e.inputs[1]].shape) || !expand.constants[1] || !depthwise.constants[1] ||
      pd.group != ce || wd[0] != ce || wd[1] != 1 || y.shape[1] != ce || hasFull(pe.postOps))
    return nullptr;
  const auto takes = [&](Layout l) {
    return l == Layout::Plain || layoutBlock(l) == t.vectorWidth;
  };
  if (!takes(x.layout) || !takes(y.layout) || mid.byteSize() < kMinExpandedBytes) return nullptr;
  const EpiloguePlan plan(pe.postOps, Spread::Column, pe.hasBias ? 2 : -1, Spread::Column);
  if (!columnEpilogueFits(t, plan, e.inputs.size())) return nullptr;
  return std::make_unique<PointwiseDepthwise>(t, pe, pd, d, e, dw,
                                              static_cast<const float*>(expand.constants[1]),
                                              static_cast<const float*>(depthwise.constants[1]));
}

} // namespace

std::unique_ptr<PreparedKernel> prepareChain(const KernelTable& table,
                                             std::span<const PrepareArgs> chain) {
  if (chain.size() == 2) return preparePointwiseDepthwise(table, chain[0], chain[1]);
  return nullptr;
}

} // namespace tessel::x86
