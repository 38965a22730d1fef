// Chains of primitives run as one kernel. A pointwise convolution followed by a depthwise one
// (mobilenet's expand and depthwise halves, PP-OCR's blocks): unfused, the expanded tensor
// (mobilenet_v2's 96 x 112 x 112: 4.8 MB) goes to memory and back, and the depthwise kernel
// transposes it into its strips. Here the output rows go in bands; per group of NR expanded
// channels the transposed GEMM's tiles store the expansion (bias and activation in registers)
// straight into the window kernel's strips, which it then runs on as they are. Input rows shared
// by two bands are expanded twice; bands are as tall as the cache budget allows to keep that
// small. The reference is the two primitives run one after the other
// (tests/unit/cpu_x86_test.cpp).
#include "chain.h"

#include "conv.h"

#include <algorithm>
#include <array>

namespace tessel::x86 {
namespace {

// Floats a band may take (one group's strips and the packed input rows): 512 KiB measured best
// of 256 KiB, 512 KiB and 1 MiB (fewer bands expand fewer shared rows twice).
constexpr int64_t kBandFloats = 128 * 1024;

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
bool columnEpilogueFits(const EpiloguePlan& plan, size_t inputs) {
  static const float zero[1] = {0.f};
  std::vector<TensorArg> stand(inputs);
  for (TensorArg& a : stand)
    a.buffer.handle = const_cast<float*>(zero);
  std::vector<EpilogueOp> ops;
  plan.resolve(stand, 0, 0, &ops);
  const Epilogue ep{ops.data(), static_cast<int>(ops.size())};
  return decodeEpilogue(ops.empty() ? nullptr : &ep, true).usable;
}

// The fused kernel's geometry, from the two primitives' tensors: what the kernel runs with and
// what its cost model counts.
struct PairGeometry {
  ConvGeometry g; // the depthwise convolution's (x unused)
  int64_t n = 0, cin = 0, ce = 0, xBlock = 0, yBlock = 0;
  int64_t cols = 1, xEnd = 0, rowPanels = 0;
  int64_t window = 1, bands = 1, bandRows = 1, stripRows = 1, groups = 1;
  int64_t paddedH = 0, paddedW = 0; // the depthwise input with all four pads
  bool packA = true;

  PairGeometry(const KernelTable& t, const Primitive& e, const Primitive& dw,
               const std::vector<TensorDesc>& d) {
    const auto& pd = dw.as<Conv2dParams>();
    const TensorDesc& x = d[e.inputs[0]];
    const TensorDesc& y = d[dw.outputs[0]];
    n = x.shape[0], cin = x.shape[1];
    ce = d[e.outputs[0]].shape[1];
    xBlock = layoutBlock(x.layout), yBlock = layoutBlock(y.layout);
    g.h = x.shape[2], g.w = x.shape[3];
    g.kh = d[dw.inputs[1]].shape[2], g.kw = d[dw.inputs[1]].shape[3];
    g.sh = pd.stride[0], g.sw = pd.stride[1], g.ph = pd.pads[0], g.pw = pd.pads[1];
    paddedH = g.h + pd.pads[0] + pd.pads[2], paddedW = g.w + pd.pads[1] + pd.pads[3];
    g.dh = pd.dilation[0], g.dw = pd.dilation[1];
    g.oh = y.shape[2], g.ow = y.shape[3];
    g.block = t.vectorWidth;
    // The strip columns the window kernel reads (whole tiles of W output columns), of which the
    // input's columns [0, xEnd) lie at pw..; each input row's positions in balanced panels.
    cols = windowStrip(g, t.vectorWidth).cols;
    xEnd = std::clamp<int64_t>(cols - g.pw, 0, g.w);
    rowPanels = Panels(xEnd, t.mr).count;
    groups = ceilDiv(ce, t.nr);
    // The input rows packed once per band when many groups read them (or they are blocked);
    // with few, read in place as the unfused transposed GEMM does (16 -> 32 at 160x160: the
    // packing cost the chain 9%).
    packA = xBlock || groups >= 4;
    // Bands: a band's strip of one group's expansion and its packed input rows within
    // kBandFloats, output rows spread evenly over as few bands as that allows.
    window = (g.kh - 1) * g.dh + 1;
    const int64_t perRow = cols * t.nr + (packA ? rowPanels * t.mr * cin : 0);
    const int64_t fitRows = std::max(window, kBandFloats / std::max<int64_t>(1, perRow));
    const int64_t maxRows = std::clamp<int64_t>((fitRows - window) / g.sh + 1, 1, g.oh);
    bands = ceilDiv(g.oh, maxRows);
    bandRows = ceilDiv(g.oh, bands);
    bands = ceilDiv(g.oh, bandRows);
    stripRows = (bandRows - 1) * g.sh + window;
  }

  // Many groups on several threads: whole bands per thread, each packing its own input rows
  // into its own buffer (a buffer per thread). Rows packed once and shared, the groups split,
  // handed most panels to another core's cache.
  bool bandsPerThread(int threads) const { return packA && threads > 1; }

  // The output rows of each band a run at `threads` threads uses: few groups read the input in
  // place, tasks of a band and a group, the bands narrowed until there are about four tasks per
  // thread and a whole number per thread (3 tasks on 2 threads wait a third of the time); each
  // band expands its window's overlap with the next again.
  int64_t bandRowsAt(int threads) const {
    int64_t b = bands;
    if (!packA && threads > 1) {
      b = std::max(b, ceilDiv(4 * int64_t{threads}, n * groups));
      while ((n * groups * b) % threads != 0 && b < g.oh)
        ++b;
    }
    if (bandsPerThread(threads)) b = std::max(b, 2 * int64_t{threads});
    return ceilDiv(g.oh, std::min(b, g.oh));
  }

  // Input rows a band of output rows oy0.. expands: its window inside the input.
  int64_t bandInputRows(int64_t oy0, int64_t rows) const {
    const int64_t oy1 = std::min(g.oh, oy0 + rows);
    const int64_t top = oy0 * g.sh - g.ph;
    const int64_t iy0 = std::clamp<int64_t>(top, 0, g.h);
    return std::clamp<int64_t>(top + (oy1 - oy0 - 1) * g.sh + window, iy0, g.h) - iy0;
  }
};

// The workspace of the fused kernel: the input rows packed for a band ([row][panel][cin][mr]),
// shared by the threads or one per thread; per thread one group's strips
// ([nr / W][stripRows][cols][W]) and the window kernel's weights.
int64_t pairPackFloats(const KernelTable& t, const PairGeometry& pg) {
  return pg.packA ? pg.stripRows * pg.rowPanels * pg.cin * t.mr : 0;
}
int64_t pairStripFloats(const KernelTable& t, const PairGeometry& pg) {
  return pg.stripRows * pg.cols * t.vectorWidth;
}
int64_t pairThreadFloats(const KernelTable& t, const PairGeometry& pg) {
  return ceilDiv(pairStripFloats(t, pg) * (t.nr / t.vectorWidth), 16) * 16 +
         windowTapFloats(pg.g, t.vectorWidth);
}
int64_t pairWorkspaceBytes(const KernelTable& t, const PairGeometry& pg, int threads) {
  const int64_t packs = pg.bandsPerThread(threads) ? threads : 1;
  return (packs * pairPackFloats(t, pg) + std::max(threads, 1) * pairThreadFloats(t, pg)) * 4;
}

// Whether the fused kernel runs this pair (its weights constant: the caller checks).
bool pairApplies(const KernelTable& t, const Primitive& e, const Primitive& dw,
                 const std::vector<TensorDesc>& d) {
  if (e.kind() != PrimitiveKind::Conv2d || dw.kind() != PrimitiveKind::Conv2d ||
      dw.inputs.size() < 2 || e.inputs.size() < 2 || dw.inputs[0] != e.outputs[0])
    return false;
  const auto& pe = e.as<Conv2dParams>();
  const auto& pd = dw.as<Conv2dParams>();
  const TensorDesc& x = d[e.inputs[0]];
  const TensorDesc& y = d[dw.outputs[0]];
  const Shape& wd = d[dw.inputs[1]].shape;
  const int64_t ce = d[e.outputs[0]].shape[1];
  if (!pointwise(pe, d[e.inputs[1]].shape) || pd.group != ce || wd[0] != ce || wd[1] != 1 ||
      y.shape[1] != ce || hasFull(pe.postOps))
    return false;
  const auto takes = [&](Layout l) {
    return l == Layout::Plain || layoutBlock(l) == t.vectorWidth;
  };
  if (!takes(x.layout) || !takes(y.layout)) return false;
  const EpiloguePlan plan(pe.postOps, Spread::Column, pe.hasBias ? 2 : -1, Spread::Column);
  return columnEpilogueFits(plan, e.inputs.size());
}

// The fused kernel's work in lane-FMAs (conv.cpp's units): the expansion's GEMM tiles over each
// band's input rows (rows shared by two bands twice; each row's positions in its own panels),
// packing those rows where it does, then the depthwise convolution from the strips as the window
// kernel does it (depthwiseLaneFmas: its taps, the strips' filling, here by the expansion's
// tiles, and the store of the output, transposed into a plain one). Not the expanded tensor's
// store to memory nor its transposes back into the strips, which the unfused pair pays.
double pairLaneFmas(const KernelTable& t, const PairGeometry& pg, int threads) {
  const int64_t bandRows = pg.bandRowsAt(threads);
  int64_t rows = 0;
  for (int64_t oy0 = 0; oy0 < pg.g.oh; oy0 += bandRows)
    rows += pg.bandInputRows(oy0, bandRows);
  const Panels panels(pg.xEnd, t.mr);
  const double positions = static_cast<double>(rows * panels.count * panels.largest());
  const double lanes = static_cast<double>(pg.groups * t.nr);
  const double expand = positions * lanes * static_cast<double>(pg.cin) +
                        (pg.packA ? positions * static_cast<double>(pg.cin) : 0.0);
  DepthwiseWork w; // the expansion fills the strips in the lanes
  w.channels = pg.ce, w.h = pg.g.h, w.w = pg.g.w, w.oh = pg.g.oh, w.ow = pg.g.ow;
  w.paddedH = pg.paddedH, w.paddedW = pg.paddedW;
  w.taps = pg.g.kh * pg.g.kw, w.plainOutput = !pg.yBlock;
  const double depthwise = depthwiseLaneFmas(t, w, threads);
  return static_cast<double>(std::max<int64_t>(pg.n, 1)) * (expand + depthwise);
}

class PointwiseDepthwise final : public PreparedKernel {
public:
  PointwiseDepthwise(const KernelTable& t, const Conv2dParams& pe, const Conv2dParams& pd,
                     const std::vector<TensorDesc>& d, const Primitive& e, const Primitive& dw,
                     const float* we, const float* wd)
      : t_(t), expandInputs_(e.inputs.size()),
        expandEp_(pe.postOps, Spread::Column, pe.hasBias ? 2 : -1, Spread::Column),
        dwEp_(pd.postOps, Spread::Row, pd.hasBias ? 2 : -1, Spread::Row), pg_(t, e, dw, d) {
    packed_ = sharedWeightPanels(t, we, pg_.ce, pg_.cin);
    dwWeights_.assign(wd, wd + pg_.ce * pg_.g.kh * pg_.g.kw);
  }

  // The expand's weights are packed and the depthwise's copied at load.
  bool readsConstant(size_t input) const override { return input != 1 && input != expandInputs_; }

  std::string describe() const override {
    return "chain: pointwise into the depthwise strips, bands of " + std::to_string(pg_.bandRows) +
           " rows";
  }

  int64_t workspaceBytes(int threads) const override {
    return pairWorkspaceBytes(t_, pg_, threads);
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    if (pg_.n == 0 || pg_.ce == 0 || pg_.g.oh == 0 || pg_.g.ow == 0) return Status::ok();
    const float* x = in[0].hostData<float>();
    float* y = out.mutableHostData<float>();
    float* ws = static_cast<float*>(ctx.workspace.hostPointer());
    const int threads = std::max(ctx.threads, 1);
    const bool ownBands = pg_.bandsPerThread(threads);
    float* apack = ws;
    float* perThread = ws + (ownBands ? threads : 1) * packFloats();
    // The depthwise primitive's inputs by its own numbering (its input 0, the expanded tensor,
    // never exists).
    std::vector<TensorArg> dwIn(1);
    dwIn.insert(dwIn.end(), in.begin() + static_cast<int64_t>(expandInputs_), in.end());
    const int64_t plane = pg_.g.oh * pg_.g.ow, oStored = storedChannels(pg_.ce, pg_.yBlock);
    std::vector<EpilogueOp> expandOps, dwOps;
    expandEp_.resolve(in.subspan(0, expandInputs_), 0, 0, &expandOps);
    const Epilogue expandEp{expandOps.data(), static_cast<int>(expandOps.size())};
    const int64_t bandRows = pg_.bandRowsAt(threads);
    const int64_t bands = ceilDiv(pg_.g.oh, bandRows);
    for (int64_t b = 0; b < pg_.n; ++b) {
      dwEp_.resolve(dwIn, b * oStored * plane, plane, &dwOps);
      const Epilogue dwEp{dwOps.data(), static_cast<int>(dwOps.size())};
      const Epilogue* ep[2] = {expandOps.empty() ? nullptr : &expandEp,
                               dwOps.empty() ? nullptr : &dwEp};
      const float* xb = x + b * storedChannels(pg_.cin, pg_.xBlock) * pg_.g.h * pg_.g.w;
      float* yb = y + b * oStored * plane;
      if (!pg_.packA) {
        parallelFor(ctx, bands * pg_.groups, [&](int64_t task, int slot) {
          const Band band = bandAt(task / pg_.groups * bandRows, bandRows);
          runGroup(band, xb, nullptr, yb, task % pg_.groups, perThread + slot * threadFloats(), ep);
        });
        continue;
      }
      if (ownBands) {
        parallelFor(ctx, bands, [&](int64_t task, int slot) {
          const Band band = bandAt(task * bandRows, bandRows);
          float* own = apack + slot * packFloats();
          for (int64_t iy = band.iy0; iy < band.iy1; ++iy)
            packRow(band, xb, iy, own);
          for (int64_t g = 0; g < pg_.groups; ++g)
            runGroup(band, xb, own, yb, g, perThread + slot * threadFloats(), ep);
        });
        continue;
      }
      // Many groups, one thread: per band, its input rows packed once, then the groups.
      for (int64_t oy0 = 0; oy0 < pg_.g.oh; oy0 += bandRows) {
        const Band band = bandAt(oy0, bandRows);
        parallelFor(ctx, band.iy1 - band.iy0,
                    [&](int64_t r, int) { packRow(band, xb, band.iy0 + r, apack); });
        parallelFor(ctx, pg_.groups, [&](int64_t g, int slot) {
          runGroup(band, xb, apack, yb, g, perThread + slot * threadFloats(), ep);
        });
      }
    }
    return Status::ok();
  }

private:
  // The input rows packed for a band ([row][panel][cin][mr]), shared by the threads; per
  // thread one group's strips ([nr / W][stripRows][cols][W]) and the window kernel's weights.
  int64_t packFloats() const { return pairPackFloats(t_, pg_); }
  int64_t stripFloats() const { return pairStripFloats(t_, pg_); }
  int64_t threadFloats() const { return pairThreadFloats(t_, pg_); }

  // Output rows oy0..oy1; their strip starts at input row top (above the input when in the
  // padding) and spans `rows`, of which iy0..iy1 lie inside the input.
  struct Band {
    int64_t oy0, oy1, top, rows, iy0, iy1;
  };
  Band bandAt(int64_t oy0, int64_t bandRows) const {
    Band b;
    b.oy0 = oy0, b.oy1 = std::min(pg_.g.oh, oy0 + bandRows);
    b.top = oy0 * pg_.g.sh - pg_.g.ph, b.rows = (b.oy1 - oy0 - 1) * pg_.g.sh + pg_.window;
    b.iy0 = std::clamp<int64_t>(b.top, 0, pg_.g.h);
    b.iy1 = std::clamp<int64_t>(b.top + b.rows, b.iy0, pg_.g.h);
    return b;
  }

  void packRow(const Band& band, const float* x, int64_t iy, float* apack) const {
    const Panels panels(pg_.xEnd, t_.mr);
    for (int64_t rp = 0; rp < pg_.rowPanels; ++rp) {
      float* dst = apack + ((iy - band.iy0) * pg_.rowPanels + rp) * pg_.cin * t_.mr;
      const int64_t p0 = iy * pg_.g.w + panels.begin(rp);
      if (pg_.xBlock)
        t_.packABlocked(x, pg_.g.h * pg_.g.w * pg_.xBlock, PositionGrid::dense(pg_.g.w), p0,
                        panels.rows(rp), 0, pg_.cin, dst);
      else
        t_.packA(x, 1, pg_.g.h * pg_.g.w, p0, panels.rows(rp), 0, pg_.cin, dst);
    }
  }

  // One group of nr expanded channels over a band: the expansion row by row into the strips
  // (each vector a block of W channels, a strip apart; bias and activation applied by the
  // tiles), then the depthwise convolution of its channels, W at a time, from the strips.
  // apack: the band's packed input rows, or null to read the input in place. ep: the expand's
  // and the depthwise's epilogues.
  void runGroup(const Band& band, const float* x, const float* apack, float* y, int64_t g,
                float* ws, const Epilogue* const ep[2]) const {
    const int W = t_.vectorWidth;
    const int64_t rowFloats = pg_.cols * W, blockFloats = stripFloats();
    float* strips = ws;
    float* taps = ws + ceilDiv(blockFloats * (t_.nr / W), 16) * 16;
    const int64_t c0 = g * t_.nr;
    const int cols = static_cast<int>(std::min<int64_t>(t_.nr, pg_.ce - c0));
    // The strips' padding: rows outside the input, and the columns either side of the input's
    // in the others (the expansion writes none of them).
    for (int64_t blk = 0; blk * W < cols; ++blk) {
      float* strip = strips + blk * blockFloats;
      for (int64_t r = 0; r < band.rows; ++r) {
        float* row = strip + r * rowFloats;
        const int64_t iy = band.top + r;
        if (iy < 0 || iy >= pg_.g.h) {
          std::fill(row, row + rowFloats, 0.f);
          continue;
        }
        std::fill(row, row + std::min(pg_.g.pw, pg_.cols) * W, 0.f);
        std::fill(row + (pg_.g.pw + pg_.xEnd) * W, row + rowFloats, 0.f);
      }
    }
    const Panels panels(pg_.xEnd, t_.mr);
    const int64_t panelFloats = pg_.cin * t_.mr;
    constexpr int64_t kKc = 512;
    GemmTile tile;
    tile.cols = cols;
    tile.lda = apack ? 0 : pg_.g.h * pg_.g.w;
    tile.bStep = 0;
    tile.ldc = W;
    tile.ldcv = blockFloats;
    tile.columnEpilogue = true;
    tile.residual = nullptr;
    tile.col0 = c0;
    tile.colStep = 0;
    tile.prefetchB = nullptr;
    for (int64_t iy = band.iy0; iy < band.iy1; ++iy)
      for (const auto& [q0, q1] : panels.equalRuns(0, pg_.rowPanels)) {
        if (q0 >= q1) continue;
        const int r = panels.rows(q0);
        tile.rows = r;
        tile.panels = static_cast<int>(q1 - q0);
        tile.aStep = apack ? panelFloats : r;
        tile.c = strips + (iy - band.top) * rowFloats + (pg_.g.pw + panels.begin(q0)) * W;
        tile.cStep = r * W;
        tile.row0 = iy * pg_.g.w + panels.begin(q0);
        tile.rowStep = r;
        for (int64_t k0 = 0; k0 < pg_.cin; k0 += kKc) {
          tile.kc = std::min(kKc, pg_.cin - k0);
          tile.a = apack ? apack + ((iy - band.iy0) * pg_.rowPanels + q0) * panelFloats + k0 * t_.mr
                         : x + k0 * pg_.g.h * pg_.g.w + iy * pg_.g.w + panels.begin(q0);
          tile.b = packed_->data() + (g * pg_.cin + k0) * t_.nr;
          tile.accumulate = k0 > 0;
          tile.ep = k0 + tile.kc >= pg_.cin ? ep[0] : nullptr;
          t_.gemm(tile);
        }
      }
    for (int64_t cb = 0; cb < cols; cb += W) {
      WindowBlock wb;
      wb.g = pg_.g;
      wb.mode = WindowMode::Depthwise;
      wb.weight = dwWeights_.data() + (c0 + cb) * pg_.g.kh * pg_.g.kw;
      wb.channels = static_cast<int>(std::min<int64_t>(W, cols - cb));
      wb.y = y;
      wb.yBlock = pg_.yBlock;
      wb.oy0 = band.oy0, wb.oy1 = band.oy1;
      wb.strip.cols = pg_.cols;
      wb.scratch = taps;
      wb.ep = ep[1];
      wb.channel = c0 + cb;
      t_.windowDepthwiseFilled(wb, strips + cb / W * blockFloats);
    }
  }

  const KernelTable& t_;
  size_t expandInputs_;
  EpiloguePlan expandEp_, dwEp_;
  PairGeometry pg_;
  std::shared_ptr<const LargeFloats> packed_; // expand weights as B panels
  std::vector<float> dwWeights_;              // [ce][kh * kw]
};

std::unique_ptr<PreparedKernel> preparePointwiseDepthwise(const KernelTable& t,
                                                          const PrepareArgs& expand,
                                                          const PrepareArgs& depthwise) {
  const Primitive& e = *expand.primitive;
  const Primitive& dw = *depthwise.primitive;
  const std::vector<TensorDesc>& d = *expand.tensors;
  if (!pairApplies(t, e, dw, d) || !expand.constants[1] || !depthwise.constants[1]) return nullptr;
  return std::make_unique<PointwiseDepthwise>(t, e.as<Conv2dParams>(), dw.as<Conv2dParams>(), d, e,
                                              dw, static_cast<const float*>(expand.constants[1]),
                                              static_cast<const float*>(depthwise.constants[1]));
}

} // namespace

std::optional<KernelCandidate> chainCandidate(const KernelTable& t,
                                              std::span<const Primitive* const> chain,
                                              const std::vector<TensorDesc>& tensors) {
  if (chain.size() != 2 || !pairApplies(t, *chain[0], *chain[1], tensors)) return std::nullopt;
  KernelCandidate k;
  k.name = "f32_conv2d_pointwise_depthwise_" + std::to_string(t.mr) + "x" + std::to_string(t.nr) +
           "__" + std::string(familyName(t.family));
  // The expand's weights (input 1) and the depthwise's (its input 1: the chain's input after
  // the expand's).
  k.constantInputs = 1u << 1 | 1u << chain[0]->inputs.size();
  return k;
}

double chainLaneFmas(const KernelTable& t, std::span<const Primitive* const> chain,
                     const std::vector<TensorDesc>& tensors, int threads) {
  return pairLaneFmas(t, PairGeometry(t, *chain[0], *chain[1], tensors), std::max(threads, 1));
}

int64_t chainWorkspaceBytes(const KernelTable& t, std::span<const Primitive* const> chain,
                            const std::vector<TensorDesc>& tensors, int threads) {
  if (!chainCandidate(t, chain, tensors)) return 0;
  return pairWorkspaceBytes(t, PairGeometry(t, *chain[0], *chain[1], tensors),
                            std::max(threads, 1));
}

bool mayChain(std::span<const PrepareArgs> chain) {
  return chain.size() == 2 && chain[0].primitive->kind() == PrimitiveKind::Conv2d &&
         chain[1].primitive->kind() == PrimitiveKind::Conv2d;
}

std::unique_ptr<PreparedKernel> prepareChain(const KernelTable& table,
                                             std::span<const PrepareArgs> chain) {
  if (!mayChain(chain)) return nullptr;
  return preparePointwiseDepthwise(table, chain[0], chain[1]);
}

} // namespace tessel::x86
