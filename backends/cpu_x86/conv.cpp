// conv2d on plain NCHW, in the variant costVariants picks (or the artifact pins): a packed GEMM
// packed GEMM per group, C[O, OH*OW] = W[O, K] * im2col(x)[K, OH*OW] (weights packed into MR-row
// panels at load, the im2col matrix packed panel by panel per run, never materialised); its
// transposed form; Winograd F(4,3) or F(2,3); the direct form; or the window kernel for depthwise.
// Post-ops are applied in registers. The variants are described in README.md.
#include "conv.h"

#include "tessel/backends/cpu_x86.h"
#include "tessel/core/checked_math.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

namespace tessel::x86 {

// Packed weights shared by every kernel that packs the same constant the same way (conv.h): the
// plans a dynamic session makes for new input shapes, and the sessions of one model, pack each
// weight once. Keyed by the constant's address and everything the packing depends on: constants are
// immutable, and a constant outlives the kernels reading it (its program holds it), which in
// turn hold the entry, so an address cannot be reused while its entry lives.
std::atomic<int64_t> packings{0}, packedBytes{0};

std::shared_ptr<const LargeFloats> sharedPacking(const void* weight,
                                                 const std::vector<int64_t>& shape,
                                                 const std::function<LargeFloats()>& pack) {
  static std::mutex mutex;
  static std::map<std::pair<const void*, std::vector<int64_t>>, std::weak_ptr<const LargeFloats>>
      cache;
  const auto key = std::make_pair(weight, shape);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end())
      if (auto live = it->second.lock()) return live;
  }
  auto packed = std::make_shared<const LargeFloats>(pack());
  ++packings;
  packedBytes += static_cast<int64_t>(packed->size() * sizeof(float));
  std::lock_guard<std::mutex> lock(mutex);
  for (auto it = cache.begin(); it != cache.end();) // forget entries no kernel holds
    it = it->second.expired() ? cache.erase(it) : std::next(it);
  cache[key] = packed;
  return packed;
}

namespace {

struct ConvShape {
  int64_t n, c, h, w, o, kh, kw, oh, ow, group, cg, og, k;
  int64_t xBlock, yBlock; // the input's and output's nchwc block size, 0 when plain
  // Channels as stored: padded to whole blocks when blocked.
  int64_t cStored() const { return storedChannels(c, xBlock); }
  int64_t oStored() const { return storedChannels(o, yBlock); }
};

ConvShape shapeOf(const Conv2dParams& p, const TensorDesc& x, const TensorDesc& w,
                  const TensorDesc& y) {
  ConvShape s{};
  s.n = x.shape[0], s.c = x.shape[1], s.h = x.shape[2], s.w = x.shape[3];
  s.o = w.shape[0], s.kh = w.shape[2], s.kw = w.shape[3];
  s.oh = y.shape[2], s.ow = y.shape[3];
  s.group = p.group, s.cg = s.c / p.group, s.og = s.o / p.group;
  s.k = s.cg * s.kh * s.kw;
  s.xBlock = layoutBlock(x.layout), s.yBlock = layoutBlock(y.layout);
  return s;
}

ConvGeometry geometry(const Conv2dParams& p, const ConvShape& s, const float* x) {
  ConvGeometry g;
  g.x = x;
  g.h = s.h, g.w = s.w, g.kh = s.kh, g.kw = s.kw;
  g.sh = p.stride[0], g.sw = p.stride[1], g.ph = p.pads[0], g.pw = p.pads[1];
  g.dh = p.dilation[0], g.dw = p.dilation[1];
  g.oh = s.oh, g.ow = s.ow;
  g.block = s.xBlock;
  return g;
}

bool isDepthwise(const ConvShape& s) {
  return s.group == s.c && s.o == s.c && s.cg == 1;
}

// 1x1, stride 1, no padding or dilation: the input is its own im2col matrix.
bool isPointwise(const Conv2dParams& p, const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && p.stride == I64x2{1, 1} && p.pads == I64x4{} &&
         p.dilation == I64x2{1, 1};
}

// A 1x1 convolution without padding, any stride (a residual block's downsample): its im2col^T
// rows are input positions, so a blocked input packs like a pointwise one, through the grid of
// the positions it reads.
bool isOneByOne(const ConvShape& s, const Conv2dParams& p) {
  return s.kh == 1 && s.kw == 1 && p.pads == I64x4{};
}

// Which input positions the rows of a 1x1 convolution's im2col^T read.
PositionGrid oneByOneGrid(const Conv2dParams& p, const ConvShape& s) {
  return {s.ow, p.stride[0] * s.w, p.stride[1]};
}

// The first operand of ep spread over the whole output (a residual), or null.
const EpilogueOp* fullOperand(const Epilogue& ep) {
  for (int i = 0; i < ep.count; ++i)
    if (ep.ops[i].isBinary && ep.ops[i].spread == Spread::Full) return &ep.ops[i];
  return nullptr;
}

bool winogradApplies(const Conv2dParams& p, const ConvShape& s, bool constantWeights) {
  return constantWeights && s.oh > 0 && s.ow > 0 && s.kh == 3 && s.kw == 3 &&
         p.stride == I64x2{1, 1} && p.dilation == I64x2{1, 1} && s.group == 1;
}

// The tiles of Winograd with channels in the lanes: output tile side m, blocks of whole tile rows
// whose transformed input and GEMM result (points x tiles x (c + o) floats) stay near 4 MiB, and
// tile rows per GEMM panel (a block's tiles spread evenly over as few microkernel panels as they
// need).
struct LanesShape {
  int m = 4, points = 36;
  int64_t tilesH = 0, tilesW = 0, rowsPerBlock = 0, blocks = 0, blockTiles = 0;
};

LanesShape lanesShape(const ConvShape& s, int m) {
  LanesShape l;
  l.m = m;
  l.points = winogradLanesPoints(m);
  l.tilesH = ceilDiv(s.oh, m), l.tilesW = ceilDiv(s.ow, m);
  const int64_t fit = std::max<int64_t>(1, (1024 * 1024) / (l.points * (s.c + s.o)));
  l.rowsPerBlock =
      std::clamp<int64_t>(fit / std::max<int64_t>(l.tilesW, 1), 1, std::max<int64_t>(l.tilesH, 1));
  l.blocks = ceilDiv(l.tilesH, l.rowsPerBlock);
  l.blockTiles = l.rowsPerBlock * l.tilesW;
  return l;
}

// The vector operations per point of a tile of Winograd F(m, 3) with channels in the lanes
// (winograd_impl.h): the input transform's 2(m + 2) row transforms, a load of each point from
// the strip and a store to its plane; the output transform's (m + 2) + m row transforms, a load
// of each point and a store of each of the m x m outputs.
struct WinogradOps {
  double in = 0, out = 0;
};
WinogradOps winogradOps(int m) {
  const int n = m + 2;
  const double points = static_cast<double>(n * n);
  const int inRow = m == 2 ? 4 : 19, outRow = m == 2 ? 4 : 10; // inputRows, outputRows
  return {(2.0 * n * inRow + 2.0 * points) / points,
          (static_cast<double>(n + m) * outRow + points + m * m) / points};
}

// Whole blocks to threads (each with its own buffers) when there are enough of them; otherwise
// each block's phases are split across the threads.
bool lanesBlocksInParallel(const LanesShape& l, int threads) {
  return threads <= 1 || l.blocks >= static_cast<int64_t>(threads);
}

// The blocks for a thread count. Too few blocks for whole blocks per thread are cut smaller
// when each keeps at least two microkernel panels of tiles: a block's phases split across
// threads hand each phase's results to the other threads, and on cores that share no cache
// (two vCPUs on separate core complexes) that cost more than the second thread gave (16 -> 64
// channels at 55x55: 0.14 ms on one thread, 0.22 ms on two).
LanesShape lanesForThreads(const KernelTable& t, LanesShape l, int threads) {
  if (lanesBlocksInParallel(l, threads)) return l;
  for (const int64_t blocks : {2 * static_cast<int64_t>(threads), static_cast<int64_t>(threads)}) {
    const int64_t rows = ceilDiv(l.tilesH, blocks);
    if (rows * l.tilesW < 2 * t.mr || ceilDiv(l.tilesH, rows) < threads) continue;
    l.rowsPerBlock = rows;
    l.blocks = ceilDiv(l.tilesH, rows);
    l.blockTiles = rows * l.tilesW;
    return l;
  }
  return l;
}

// The zero-padded input the direct form reads: every window inside it; inPlace when that is the
// input itself (no padding, no window past its end).
struct PaddedInput {
  int64_t h = 0, w = 0;
  bool inPlace = false;
};
PaddedInput paddedInput(const Conv2dParams& p, const ConvShape& s) {
  PaddedInput pi;
  pi.h = std::max(s.h + p.pads[0] + p.pads[2],
                  (s.oh - 1) * p.stride[0] + (s.kh - 1) * p.dilation[0] + 1);
  pi.w = std::max(s.w + p.pads[1] + p.pads[3],
                  (s.ow - 1) * p.stride[1] + (s.kw - 1) * p.dilation[1] + 1);
  pi.inPlace = pi.h == s.h && pi.w == s.w;
  return pi;
}

// The direct form: any kernel, stride, dilation and padding but pointwise (whose GEMMs read the
// input in place already), while the padded copy of the input stays within 4 Mi floats (a
// 640x640 RGB stem: 1.2 Mi; its im2col GEMM ran 30% slower); the cost model takes it where
// im2col packing would cost more than the copy (stems, strided convolutions).
bool directApplies(const Conv2dParams& p, const ConvShape& s, bool constantWeights) {
  if (!constantWeights || s.group != 1 || isPointwise(p, s) || s.oh <= 0 || s.ow <= 0) return false;
  const PaddedInput pi = paddedInput(p, s);
  int64_t floats = 0;
  return checkedProduct({s.cStored(), pi.h, pi.w}, &floats) && floats <= (int64_t{1} << 22);
}

// The direct form's tiles: panels of output positions (of a chunk of output rows).
Panels directPanels(const KernelTable& t, int64_t positions) {
  return Panels(positions, t.mr);
}

// The transposed GEMM's row panels: the output positions.
Panels transposedPanels(const KernelTable& t, const ConvShape& s) {
  return Panels(s.oh * s.ow, t.mr);
}

// The transposed form packs every position's im2col row at once: keep that workspace small
// (1 Mi floats); it pays off only for small outputs anyway.
bool transposedApplies(const ConvShape& s, bool constantWeights) {
  int64_t floats = 0;
  return s.group == 1 && constantWeights && checkedProduct({s.oh, s.ow, s.k}, &floats) &&
         floats <= (int64_t{1} << 20);
}

// Which variants read and write blocked nchwc tensors: the ones with the channels in the vector
// lanes. The plain GEMM (positions in the lanes) neither; the transposed GEMM writes either and
// reads a blocked input only when pointwise (its A panels are then the input, packed a block at
// a time).
bool variantTakesLayouts(ConvVariant v, const Conv2dParams& p, const ConvShape& s) {
  switch (v) {
  case ConvVariant::Gemm: return !s.xBlock && !s.yBlock;
  case ConvVariant::GemmTransposed: return !s.xBlock || isOneByOne(s, p);
  default: return true;
  }
}

// The one place the conv2d variant is chosen: the microkernel work each variant issues, with
// transforms and packing counted as memory traffic (a cost model the search refines later).
// Units: lane-FMAs (a cycle is 2 * W of them). Variants with the channels in the lanes transpose
// their results into a plain output (about 2 per element) but store a blocked one as it is
// (about 0.5); a blocked input spares Winograd its strip transposes.
// Every variant that applies, with its cost, in the order considered (costVariants below picks the
// cheapest; the search weighs them all, and measures them).
// The floats a variant keeps of constant weights: packed panels, or transformed (0: none).
int64_t keptFloats(const KernelTable& t, const ConvShape& s, ConvVariant variant) {
  const int64_t oPanels = ceilDiv(s.o, t.nr);
  switch (variant) {
  case ConvVariant::Depthwise:
  case ConvVariant::Auto: return 0;
  case ConvVariant::Winograd:
  case ConvVariant::Winograd2: {
    const int64_t n = (variant == ConvVariant::Winograd2 ? 2 : 4) + 2;
    return n * n * oPanels * s.c * t.nr; // winogradLanesWeights
  }
  case ConvVariant::GemmTransposed:
  case ConvVariant::Direct: return oPanels * s.k * t.nr; // packWeightPanels
  case ConvVariant::Gemm: return s.group * ceilDiv(s.og, t.mr) * s.k * t.mr;
  }
  return 0;
}

// Kept weights larger than a core's private cache come from memory in a session, where a whole
// model's weights pass through the caches every run, at about this rate whatever the thread
// count (resnet18's 512 -> 512 at 7x7 as Winograd F(4,3) keeps 37.7 MB and took 0.99 ms in a
// session at two threads; F(2,3)'s 16.8 MB took 0.55 ms).
constexpr double kWeightBytesPerSecond = 40e9;

std::vector<ConvVariantCost> variantWork(const KernelTable& t, const Conv2dParams& p,
                                         const ConvShape& s, bool constantWeights, int threads);

// Each variant's work in lane-FMAs, at least the time its kept weights take to stream from
// memory where they exceed the private cache (a roofline: the tiles overlap the stream).
std::vector<ConvVariantCost> variantCosts(const KernelTable& t, const Conv2dParams& p,
                                          const ConvShape& s, bool constantWeights, int threads) {
  std::vector<ConvVariantCost> all = variantWork(t, p, s, constantWeights, threads);
  if (!constantWeights) return all;
  const int64_t l2 = privateCacheBytes(t);
  const double lanesPerByte = laneFmasPerSecond(t, threads) / kWeightBytesPerSecond;
  for (ConvVariantCost& v : all) {
    const int64_t bytes = 4 * keptFloats(t, s, v.variant);
    if (bytes > l2) v.laneFmas = std::max(v.laneFmas, static_cast<double>(bytes) * lanesPerByte);
  }
  return all;
}

std::vector<ConvVariantCost> variantWork(const KernelTable& t, const Conv2dParams& p,
                                         const ConvShape& s, bool constantWeights, int threads) {
  std::vector<ConvVariantCost> all;
  const double outputs = static_cast<double>(s.oh * s.ow);
  const double store = s.yBlock ? 0.5 * static_cast<double>(s.oStored()) * outputs
                                : 2.0 * static_cast<double>(s.o) * outputs;
  if (isDepthwise(s)) {
    DepthwiseWork w;
    w.channels = s.c, w.h = s.h, w.w = s.w, w.oh = s.oh, w.ow = s.ow, w.taps = s.kh * s.kw;
    w.paddedH = s.h + p.pads[0] + p.pads[2], w.paddedW = s.w + p.pads[1] + p.pads[3];
    w.plainInput = !s.xBlock, w.plainOutput = !s.yBlock;
    all.push_back({ConvVariant::Depthwise, depthwiseLaneFmas(t, w, threads)});
    return all;
  }
  const double rowsPadded = static_cast<double>(ceilDiv(s.og, t.mr) * t.mr);
  const double cols = static_cast<double>(ceilDiv(s.oh * s.ow, t.nr) * t.nr);
  // Packing im2col panels, in the same units, measured on stems: none for a pointwise
  // convolution (read in place); per element a copy, or a gather when strided, plus the set-up
  // of each run of columns (runs of NR for the GEMM, of only MR positions for the transposed
  // form).
  const bool pointwise = isPointwise(p, s);
  const bool strided = p.stride != I64x2{1, 1};
  const double pack = pointwise ? 0.25 : strided ? 22 : 8;
  // A pointwise input is read in place, plain or blocked. A strided 1x1 convolution's blocked
  // input is packed (a transpose per block): about as dear as the plain packing where many
  // panels of output channels reuse it, far dearer where few do.
  const double packBlocked = ceilDiv(s.o, t.nr) >= 4 ? 1.5 : 6.0;
  const double packTransposed = pointwise                      ? 0.25
                                : s.xBlock && isOneByOne(s, p) ? packBlocked
                                : strided                      ? 64
                                                               : 24;
  const auto consider = [&](ConvVariant v, double cost) { all.push_back({v, cost}); };
  // The GEMM's tiles store into the output's channel planes, a line in each of MR planes per
  // tile, written from cold caches: ~5 per element, measured against the transposed form's
  // staging on pointwise convolutions with few channels, where K is too short to hide it (32 ->
  // 16 at 112x112: 0.330 against 0.254 ms; 8 -> 32 at 160x160: 0.954 against 0.579; 96 -> 16
  // at 56x56: 0.209 against 0.184; 24 -> 144 at 56x56 still 0.379 against 0.456).
  if (variantTakesLayouts(ConvVariant::Gemm, p, s))
    consider(ConvVariant::Gemm, rowsPadded * cols * static_cast<double>(s.k) + cols * s.k * pack +
                                    5.0 * static_cast<double>(s.o) * outputs);
  // Output channels in the microkernel's lanes: whole panels, and a last one of at most one
  // vector runs one vector wide (gemmDispatch) where the tiles go straight to a blocked output
  // (squeezenet's 128 -> 16 at 55x55: 0.106 -> 0.072 ms). Into a plain output the staging
  // weighs more than the lanes saved, and the fitted costs below hold with whole panels
  // (mobilenet_v2's 32 -> 16 at 112x112 stays the plain GEMM's: 0.090 against 0.106-0.125).
  const int64_t rest = s.o % t.nr;
  const bool narrowTail = s.yBlock && rest > 0 && rest <= t.vectorWidth;
  const double lanes =
      static_cast<double>(ceilDiv(s.o, t.nr) * t.nr - (narrowTail ? t.nr - t.vectorWidth : 0));
  if (transposedApplies(s, constantWeights) &&
      variantTakesLayouts(ConvVariant::GemmTransposed, p, s)) {
    const Panels panels = transposedPanels(t, s);
    const double positions = static_cast<double>(panels.count * panels.largest());
    // Packing, the results through the staging buffer into a plain output (~4 per element:
    // what makes this form lose to the plain GEMM when K is small: 24->144 at 56x56, 0.47 vs
    // 0.34 ms) and the store; a blocked output takes the tiles straight from the registers.
    consider(ConvVariant::GemmTransposed,
             positions * lanes * static_cast<double>(s.k) + positions * s.k * packTransposed +
                 (s.yBlock ? 0.0 : 4.0 * static_cast<double>(s.o) * outputs + store));
  }
  if (directApplies(p, s, constantWeights)) {
    const Panels panels = directPanels(t, s.oh * s.ow);
    const double positions = static_cast<double>(panels.count * panels.largest());
    const PaddedInput pi = paddedInput(p, s);
    // No packing: the padded copy of the input, and the store of the result; each row read
    // through its own offset (a load and an add per row and k step) runs ~12% slower than a
    // packed panel (1x1 stride 2 on blocked tensors, 64 -> 128 at 56x56: 0.191 against 0.165 ms
    // for the transposed GEMM that packs them, 256 -> 512 at 14x14: 0.160 against 0.145).
    consider(ConvVariant::Direct,
             1.12 * positions * lanes * static_cast<double>(s.k) +
                 (pi.inPlace ? 0.0 : 4.0 * static_cast<double>(s.cStored() * pi.h * pi.w)) + store);
  }
  if (!winogradApplies(p, s, constantWeights)) return all;
  for (int m : {2, 4}) {
    const LanesShape l = lanesShape(s, m);
    // At more than one thread, tiles too few for a block of rows per thread split each block's
    // phases across the threads, and about half of the transformed tiles and their products
    // (points x tiles x (c + o)) cross to another core (13x13 layers at two threads: F(4,3)'s
    // 4 tile rows split, F(2,3)'s 7 give each thread its own; squeezenet's 64 -> 256 0.117 ->
    // 0.105 ms, 48 -> 192 0.077 -> 0.068 in the model; at one thread F(4,3) stays ahead).
    const double crossing =
        lanesBlocksInParallel(lanesForThreads(t, l, threads), threads)
            ? 0.0
            : 8.0 * l.points * static_cast<double>(l.tilesH * l.tilesW) * (s.c + s.o);
    const double tiles = static_cast<double>(l.tilesH * l.tilesW);
    const Panels panels(l.blockTiles, t.mr);
    const double rows = static_cast<double>(l.blocks * panels.count * panels.largest()); // padded
    // GEMMs, transforms, the store, reading the transformed weights once per block, and for a
    // blocked input the strip transposes it spares. The transforms run on vectors of W
    // channels: per point, the vector operations of the kernels in winograd_impl.h (loads,
    // arithmetic, stores), each costing about 5 lane-FMA slots on the way in (each point's
    // vector stored to its own plane of the transformed input) and 2 on the way out. Fitted to
    // both forms measured at one and two threads on the public models' 3x3 layers (16 to 512
    // channels, 7x7 to 160x160); with the former flat 4 per point and channel, F(4,3)'s
    // measured/estimated time ranged 0.8-2.0 (PP-OCR's 96 -> 24 at 160x160: 2.0, resnet18's
    // 512 at 7x7: 0.8), with these 0.8-1.4.
    const WinogradOps ops = winogradOps(m);
    const double cost = l.points * rows * lanes * s.c +
                        l.points * tiles * (5 * ops.in * s.c + 2 * ops.out * s.o) + store +
                        l.points * static_cast<double>(s.c) * s.o * (4 + 4 * l.blocks) -
                        (s.xBlock ? 1.5 * static_cast<double>(s.c * s.h * s.w) : 0.0) + crossing;
    consider(m == 2 ? ConvVariant::Winograd2 : ConvVariant::Winograd, cost);
  }
  return all;
}

// The cheapest variant (Auto, at an infinite cost, when none applies to the tensors' layouts).
ConvVariantCost costVariants(const KernelTable& t, const Conv2dParams& p, const ConvShape& s,
                             bool constantWeights, int threads) {
  ConvVariantCost best{ConvVariant::Auto, std::numeric_limits<double>::infinity()};
  for (const ConvVariantCost& v : variantCosts(t, p, s, constantWeights, threads))
    if (v.laneFmas < best.laneFmas) best = v;
  return best;
}

ConvVariant chooseVariant(const KernelTable& t, const Conv2dParams& p, const ConvShape& s,
                          bool constantWeights, int threads) {
  return costVariants(t, p, s, constantWeights, threads).variant;
}

// U = G g G^T per (o, c) for F(m, 3), transposed for GEMMs with the output channels in the
// lanes: B panels [point][o panel][c][nr].
LargeFloats winogradLanesWeights(const KernelTable& t, const ConvShape& s, int m, const float* w) {
  static const double g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static const double g4[6][3] = {{0.25, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};
  const int n = m + 2;
  const double(*g)[3] = m == 2 ? g2 : g4;
  const int64_t oPanels = ceilDiv(s.o, t.nr);
  LargeFloats out(static_cast<size_t>(n * n * oPanels * s.c * t.nr), 0.f);
  // Per (panel, input channel) the nr lanes of every point at once, lanes innermost: whole rows
  // written together (one (o, c) at a time wrote a float into each of n^2 rows megabytes apart),
  // in loops the compiler vectorizes.
  constexpr int kMaxNr = 64; // the families' nr: 16 (AVX2), 32 (AVX-512)
  assert(t.nr <= kMaxNr);
  double k[9][kMaxNr], gk[6][3][kMaxNr]; // the lanes' weights; G g
  for (int64_t panel = 0; panel < oPanels; ++panel) {
    const int lanes = static_cast<int>(std::min<int64_t>(t.nr, s.o - panel * t.nr));
    for (int64_t c = 0; c < s.c; ++c) {
      for (int lane = 0; lane < lanes; ++lane)
        for (int e = 0; e < 9; ++e)
          k[e][lane] = w[((panel * t.nr + lane) * s.c + c) * 9 + e];
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < 3; ++j)
          for (int lane = 0; lane < lanes; ++lane)
            gk[i][j][lane] =
                g[i][0] * k[j][lane] + g[i][1] * k[3 + j][lane] + g[i][2] * k[6 + j][lane];
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          float* row =
              out.data() + ((static_cast<int64_t>(i * n + j) * oPanels + panel) * s.c + c) * t.nr;
          for (int lane = 0; lane < lanes; ++lane)
            row[lane] = static_cast<float>(gk[i][0][lane] * g[j][0] + gk[i][1][lane] * g[j][1] +
                                           gk[i][2][lane] * g[j][2]);
        }
    }
  }
  return out;
}

class ConvKernel final : public PreparedKernel {
public:
  // Constant weights are packed (or transformed) here; with `constantWeights` and no `weight`, the
  // kernel is only sized (convWorkspaceBytes): it packs nothing, and must not run.
  ConvKernel(const KernelTable& t, const Conv2dParams& p, const ConvShape& s, const void* weight,
             bool constantWeights, ConvVariant variant)
      : t_(t), p_(p), s_(s), variant_(variant), depthwise_(variant == ConvVariant::Depthwise),
        packs_(constantWeights && variant != ConvVariant::Depthwise),
        epilogue_(p.postOps, Spread::Row, p.hasBias ? 2 : -1, Spread::Row),
        epilogueColumns_(p.postOps, Spread::Column, p.hasBias ? 2 : -1, Spread::Column) {
    kc_ = 256; // a B panel of 256 rows stays in L1 (32 KiB) for NR = 16 and in L2 for NR = 32
    // The transposed form's panels are both packed and contiguous: blocks of k only past 1024
    // (equal ones), as each block stores and reloads the tile (960->320 at 7x7: 5% faster).
    transposedKc_ = ceilDiv(s.k, std::max<int64_t>(1, ceilDiv(s.k, 1024)));
    // The direct form's K blocks: equal ones up to 1152 (128 channels of 3x3 taps), from L2 like
    // the transposed form's; 256-row blocks stored and reloaded each tile's results nine times
    // on 256 -> 512 at 7x7 (one thread, weights in cache: 84-87% of the FMA peak -> 86-91%).
    directKc_ = ceilDiv(s.k, std::max<int64_t>(1, ceilDiv(s.k, 1152)));
    mPanels_ = ceilDiv(s.og, t.mr);
    pointwise_ = isPointwise(p, s);
    // The transposed form's A panels are positions x input channels. A pointwise convolution's
    // input is that matrix already, read in place when few panels of output channels reuse it;
    // with many, one packing pass costs less than the partial cache lines of the in-place reads
    // (320->1280 at 7x7 on AVX2: 0.70 -> 0.58 ms; 32->16 at 112x112: 0.25 -> 0.32 packed).
    // A blocked input is always read in place: a row (a position) is one whole line of each
    // block of channels (koff_ steps from block to block). Packing it (a W x W transpose per
    // block) cost more than it saved for any count of output channels (one thread, nchwc16:
    // 128 -> 16 at 55x55 0.108 -> 0.078 ms, 64 -> 128 at 55x55 0.257 -> 0.238, 320 -> 1280 at
    // 7x7 0.194 -> 0.189; nchwc8 on AVX2: 0.169 -> 0.112, 0.478 -> 0.466, 0.397 -> 0.387).
    packTransposedA_ = !pointwise_ || (!s.xBlock && ceilDiv(s.o, t.nr) >= 4);
    if (pointwise_ && s.xBlock && !packTransposedA_) {
      koff_.resize(static_cast<size_t>(s.k));
      for (int64_t c = 0; c < s.k; ++c)
        koff_[static_cast<size_t>(c)] = laneOffset(s.xBlock, s.h * s.w, c, 0);
    }
    // Everything the packed form depends on besides the weights themselves.
    const bool winograd = variant_ == ConvVariant::Winograd2 || variant_ == ConvVariant::Winograd;
    if (winograd) lanes_ = lanesShape(s, variant_ == ConvVariant::Winograd2 ? 2 : 4);
    const std::vector<int64_t> key = {static_cast<int64_t>(variant_),
                                      reinterpret_cast<intptr_t>(&t),
                                      s.o,
                                      s.og,
                                      s.c,
                                      s.k,
                                      s.kh,
                                      s.kw,
                                      s.group,
                                      mPanels_,
                                      winograd ? lanes_.m : 0};
    const auto* w = static_cast<const float*>(weight);
    if (!weight) {
      // Sized only, or weights computed at run time (packed into the workspace then).
    } else if (winograd) {
      packed_ = sharedPacking(weight, key, [&] { return winogradLanesWeights(t, s, lanes_.m, w); });
    } else if (variant_ == ConvVariant::GemmTransposed || variant_ == ConvVariant::Direct) {
      packed_ = sharedWeightPanels(t, w, s.o, s.k);
    } else if (!depthwise_) {
      packed_ = sharedPacking(weight, key, [&] {
        LargeFloats panels(static_cast<size_t>(s.group * mPanels_ * s.k * t.mr));
        packWeights(w, panels.data());
        return panels;
      });
    }
    if (variant_ == ConvVariant::Direct) {
      padded_ = paddedInput(p, s);
      koff_.resize(static_cast<size_t>(s.k));
      const int64_t step = s.xBlock ? s.xBlock : 1; // floats between neighbouring positions
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t ky = 0; ky < s.kh; ++ky)
          for (int64_t kx = 0; kx < s.kw; ++kx)
            koff_[static_cast<size_t>((c * s.kh + ky) * s.kw + kx)] =
                laneOffset(s.xBlock, padded_.h * padded_.w, c, 0) +
                (ky * p.dilation[0] * padded_.w + kx * p.dilation[1]) * step;
      directChunkRows_ = std::clamp<int64_t>(65536 / std::max<int64_t>(s.ow * s.o, 1), 1, s.oh);
    }
  }

  // The weights are packed (GEMM with constant weights, transposed GEMM) or transformed
  // (Winograd) at load: run() never reads the originals.
  bool readsConstant(size_t input) const override { return input != 1 || !havePacked(); }

  std::string describe() const override {
    switch (variant_) {
    case ConvVariant::Gemm: return pointwise_ ? "gemm, input in place" : "gemm, im2col panels";
    case ConvVariant::Winograd: return "winograd F(4,3)";
    case ConvVariant::Winograd2: return "winograd F(2,3)";
    case ConvVariant::Depthwise: return "window, channels in lanes";
    case ConvVariant::GemmTransposed:
      return packTransposedA_ ? "transposed gemm" : "transposed gemm, input in place";
    case ConvVariant::Direct: return padded_.inPlace ? "direct, input in place" : "direct, padded";
    case ConvVariant::Auto: break;
    }
    return {};
  }

  int64_t workspaceBytes(int threads) const override {
    if (variant_ == ConvVariant::GemmTransposed) // packed positions, per thread a run's results
      return ((packTransposedA_ ? transposedPanels(t_, s_).count * s_.k * t_.mr : 0) +
              threads * transposedRunPanels(threads) * transposedPanels(t_, s_).largest() * t_.nr) *
             4;
    if (variant_ == ConvVariant::Direct) // the padded input; per thread a chunk of rows by position
      return ((padded_.inPlace ? 0 : s_.cStored() * padded_.h * padded_.w) +
              threads * directChunkRows_ * s_.ow * s_.o) *
             4;
    if (lanes_.blocks > 0) { // a block's buffers per thread, or one block's and a strip per thread
      const LanesShape l = lanesFor(threads);
      return (lanesBlocksInParallel(l, threads)
                  ? threads * (lanesBlockFloats(l) + lanesThreadFloats(l))
                  : lanesBlockFloats(l) + threads * lanesThreadFloats(l)) *
             4;
    }
    if (depthwise_) return windowWorkspaceBytes(t_, geometry(p_, s_, nullptr), threads);
    const int64_t weights = packs_ ? 0 : s_.group * mPanels_ * s_.k * t_.mr;
    const GemmBlocking blocking = gemmBlocking(threads);
    return (weights + threads * blocking.kc * blocking.panels * t_.nr) * 4;
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    // An empty output (a window longer than the padded input, no channels): nothing to compute,
    // and no variant's tiling is defined for it.
    if (s_.n == 0 || s_.o == 0 || s_.oh == 0 || s_.ow == 0) return Status::ok();
    const float* x = in[0].hostData<float>();
    float* y = out.mutableHostData<float>();
    float* ws = static_cast<float*>(ctx.workspace.hostPointer());
    const float* a = packedData();
    if (!havePacked() && !depthwise_) { // weights computed at run time: pack them now
      packWeights(in[1].hostData<float>(), ws);
      a = ws;
      ws += s_.group * mPanels_ * s_.k * t_.mr;
    }
    const int64_t plane = s_.oh * s_.ow;
    std::vector<EpilogueOp> ops;
    for (int64_t b = 0; b < s_.n; ++b) {
      // Full operands are laid out as the output (convSupported).
      epilogue_.resolve(in, b * s_.oStored() * plane, plane, &ops);
      const Epilogue ep{ops.data(), static_cast<int>(ops.size())};
      const float* xb = x + b * s_.cStored() * s_.h * s_.w;
      float* yb = y + b * s_.oStored() * plane;
      if (lanes_.blocks > 0)
        runWinogradLanes(ctx, xb, yb, ws, ep);
      else if (variant_ == ConvVariant::Direct || variant_ == ConvVariant::GemmTransposed) {
        std::vector<EpilogueOp> columnOps;
        if (s_.yBlock) epilogueColumns_.resolve(in, b * s_.oStored() * plane, plane, &columnOps);
        const Epilogue columns{columnOps.data(), static_cast<int>(columnOps.size())};
        if (variant_ == ConvVariant::Direct)
          runDirect(ctx, xb, yb, ws, ep, columns);
        else
          runTransposed(ctx, xb, yb, ws, ep, columns);
      } else if (depthwise_)
        runDepthwise(ctx, in[1].hostData<float>(), xb, yb, ws, ep);
      else
        runGemm(ctx, a, xb, yb, ws, ep);
    }
    return Status::ok();
  }

private:
  // Output columns per task: as many panels as keep the packed B block in L2, so the weights
  // stream once per block; fewer only when that leaves threads without columns to take (rows
  // are split as well then, see runGemm).
  int64_t chunkPanels(int threads) const {
    const int64_t nPanels = ceilDiv(s_.oh * s_.ow, t_.nr);
    const int64_t maxPanels = t_.nr >= 32 ? 4 : 8;
    const int64_t perThread = ceilDiv(nPanels * s_.group, std::max(threads, 1));
    return std::clamp<int64_t>(std::min(perThread, nPanels), 1, maxPanels);
  }

  // The GEMM form's blocking: K rows per block and input panels per task. Weights that outgrow
  // L2 (a classifier's 512 -> 1000 at 13x13: 2 MB) are read once per K block and task, so when
  // every input panel over the whole K fits in L2 (360 KiB there) one task takes them all with
  // one K block: the weights stream from memory exactly once, each weight panel staying in L1
  // across the input panels, and C is written once (in the model: 2.9 -> 2.5 ms at one thread,
  // 1.7 -> 1.2 ms at two).
  struct GemmBlocking {
    int64_t kc, panels;
    bool weightsOuter;
  };
  GemmBlocking gemmBlocking(int threads) const {
    const bool weightsOuter = s_.og * std::min(kc_, s_.k) * 4 > 512 * 1024;
    const int64_t nPanels = ceilDiv(s_.oh * s_.ow, t_.nr);
    if (weightsOuter && nPanels * s_.k * t_.nr * 4 <= 384 * 1024) return {s_.k, nPanels, true};
    return {kc_, chunkPanels(threads), weightsOuter};
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
    WindowBlock block;
    block.g = geometry(p_, s_, x);
    block.weight = w;
    block.y = y;
    block.yBlock = s_.yBlock;
    block.ep = ep.count ? &ep : nullptr;
    runWindow(ctx, t_, block, s_.c, ws);
  }

  // Tiles with the output channels in their columns stored straight into a blocked output, when
  // the tiles can apply its epilogue in registers (bias by column, a residual laid out as the
  // output, an activation, a scalar affine): no staging and transpose.
  struct StraightStore {
    bool on = false;
    const Epilogue* ep = nullptr;
    const float* residual = nullptr; // the Full operand, laid out as the output
  };
  StraightStore straightStore(const Epilogue& columns) const {
    StraightStore st;
    st.ep = columns.count ? &columns : nullptr;
    st.on = s_.yBlock && decodeEpilogue(st.ep, true).usable;
    const EpilogueOp* full = st.on ? fullOperand(columns) : nullptr;
    st.residual = full ? full->data : nullptr;
    return st;
  }
  // Points tile at position p, channel c0 (a multiple of the block) of the blocked output y;
  // the epilogue only with the last K block.
  void placeStraight(const StraightStore& st, float* y, int64_t p, int64_t c0, bool last,
                     GemmTile& tile) const {
    const int64_t plane = s_.oh * s_.ow, at = laneOffset(s_.yBlock, plane, c0, p);
    tile.c = y + at;
    tile.ldc = s_.yBlock;
    tile.ldcv = plane * s_.yBlock;
    tile.columnEpilogue = true;
    tile.col0 = c0;
    tile.ep = last ? st.ep : nullptr;
    tile.residual = last && st.residual ? st.residual + at : nullptr;
  }

  // Direct: the input copied into a zero-padded buffer, then per chunk of output rows
  // C^T[positions, o] = sum over k = (c, ky, kx) of the padded input read in place (rows of
  // directPanels positions, each at its offset in the padded input) times the weights (output
  // channels in the lanes), and the chunk's positions stored (transposed into NCHW, or as they are
  // into a blocked output) with the epilogue; into a blocked output whose epilogue the tiles
  // apply in registers, the tiles go straight from the registers (no staging). A blocked input
  // stays blocked in its padded copy: a plane of padded positions per block of channels, B floats
  // per position.
  void runDirect(const ExecContext& ctx, const float* x, float* y, float* ws, const Epilogue& ep,
                 const Epilogue& columns) const {
    const int64_t ph = padded_.h, pw = padded_.w, top = p_.pads[0], left = p_.pads[1];
    const int64_t step = s_.xBlock ? s_.xBlock : 1; // floats per position of a plane
    // Without padding every window lies inside the input: read it in place.
    const float* xpad = x;
    if (!padded_.inPlace) {
      float* copy = ws;
      // Tasks of a plane's rows, about four per thread: a stem's three planes alone left one of
      // two threads idle half the time.
      const int64_t planes = s_.cStored() / step;
      const int64_t pieces = std::min(ph, ceilDiv(4 * int64_t{std::max(ctx.threads, 1)}, planes));
      const int64_t pieceRows = ceilDiv(ph, pieces);
      parallelFor(ctx, planes * pieces, [&](int64_t task, int) {
        // Zeros only where the input does not land: rows above and below, then per row the
        // columns either side of the copied ones.
        const int64_t c = task / pieces, r0 = task % pieces * pieceRows;
        const int64_t r1 = std::min(ph, r0 + pieceRows);
        float* plane = copy + c * ph * pw * step;
        const int64_t rowFloats = pw * step, inRow = s_.w * step, lead = left * step;
        for (int64_t r = r0; r < r1; ++r) {
          float* row = plane + r * rowFloats;
          const int64_t iy = r - top;
          if (iy < 0 || iy >= s_.h) {
            std::fill(row, row + rowFloats, 0.f);
            continue;
          }
          std::fill(row, row + lead, 0.f);
          std::copy(x + (c * s_.h + iy) * inRow, x + (c * s_.h + iy + 1) * inRow, row + lead);
          std::fill(row + lead + inRow, row + rowFloats, 0.f);
        }
      });
      xpad = copy;
    }
    const int64_t oPanels = ceilDiv(s_.o, t_.nr);
    // Tasks: chunks of output rows, at most directChunkRows_ (their staging stays near 256 KiB),
    // at least four per thread so the threads finish together (mobilenet_v2's stem at two
    // threads: 7 chunks of 18 rows split 4 : 3); each chunk reads every panel of weights. Weights
    // past 256 KiB (resnet18's 256 -> 512 stride 2: 4.7 MB) come from memory once per chunk:
    // chunks as large as the staging allows, and the tasks split the panels of weights instead.
    const int threads = std::max(ctx.threads, 1);
    const bool bigWeights = s_.k * s_.o * 4 > 256 * 1024;
    const int64_t chunkRows =
        bigWeights ? directChunkRows_
                   : std::min(directChunkRows_,
                              std::max<int64_t>(1, ceilDiv(s_.oh, 4 * int64_t{threads})));
    const int64_t chunks = ceilDiv(s_.oh, chunkRows);
    const int64_t opChunks =
        bigWeights ? std::min(oPanels, ceilDiv(4 * int64_t{threads}, chunks)) : 1;
    const int64_t opsPerChunk = ceilDiv(oPanels, opChunks);
    float* staging = ws + (padded_.inPlace ? 0 : s_.cStored() * ph * pw);
    const int64_t sh = p_.stride[0], sw = p_.stride[1];
    const LaneOutput out{y, s_.oh * s_.ow, s_.yBlock, s_.o};
    const StraightStore straight = straightStore(columns);
    parallelFor(ctx, chunks * opChunks, [&](int64_t task, int slot) {
      float* yt = staging + slot * directChunkRows_ * s_.ow * s_.o;
      const int64_t chunk = task / opChunks, op0 = task % opChunks * opsPerChunk;
      const int64_t op1 = std::min(oPanels, op0 + opsPerChunk);
      if (op0 >= op1) return;
      const int64_t oy0 = chunk * chunkRows, oy1 = std::min(s_.oh, oy0 + chunkRows);
      // Panels of the chunk's positions, across output rows when a row is not a whole number
      // of panels (7 or 14 wide: panels of 4 + 3 rows ran at 40% of peak): each row of a panel
      // at its own offset in the padded input.
      const Panels panels = directPanels(t_, (oy1 - oy0) * s_.ow);
      GemmTile tile; // every field a call reads is set below (constructed once: it is not small)
      int64_t aoff[kMaxMr];
      tile.aoff = aoff;
      tile.ldc = s_.o;
      // Panels of weights outer: each read once per chunk (in L2 across the chunk's position
      // panels; 256 -> 512 at 7x7 streamed all 4.7 MB of them once per position panel), the
      // next one fetched while this one computes.
      // Weights that fit in L1 with one K block (a stem's 27 x 64): per panel of positions,
      // its offsets computed once and every panel of weights in one run (mobilenet_v2's and
      // squeezenet's stems 15-30% faster: the per-tile setup weighed as much as 27 k steps).
      const bool weightsInner = s_.k <= kc_ && s_.k * (op1 - op0) * t_.nr * 4 <= 16 * 1024;
      const int64_t plane = s_.oh * s_.ow;
      for (int64_t op = op0; op < (weightsInner ? op0 + 1 : op1); ++op) {
        int64_t oy = oy0, ox = 0; // the panel's first position
        for (int64_t xp = 0; xp < panels.count; ++xp) {
          const int rows = panels.rows(xp);
          const int64_t base = (oy * sh * pw + ox * sw) * step;
          for (int r = 0; r < rows; ++r) {
            aoff[r] = (oy * sh * pw + ox * sw) * step - base;
            if (++ox == s_.ow) ox = 0, ++oy;
          }
          tile.a = xpad + base;
          tile.rows = rows;
          // Full panels of weights as one run (steps set below), the partial last one alone.
          for (const auto& [q0, q1] :
               weightsInner ? splitAt(op0, op1, s_.o / t_.nr) : splitAt(op, op + 1, op + 1)) {
            if (q0 >= q1) continue;
            tile.panels = static_cast<int>(q1 - q0);
            tile.bStep = s_.k * t_.nr;
            tile.cStep = straight.on ? t_.nr * plane : t_.nr; // nr channels further
            tile.colStep = t_.nr;
            for (int64_t k0 = 0; k0 < s_.k; k0 += directKc_) {
              tile.kc = std::min(directKc_, s_.k - k0);
              tile.koff = koff_.data() + k0;
              tile.b = packedData() + (q0 * s_.k + k0) * t_.nr;
              tile.prefetchB =
                  !weightsInner && xp == 0 && q0 + 1 < op1 ? tile.b + s_.k * t_.nr : nullptr;
              tile.cols = static_cast<int>(std::min<int64_t>(t_.nr, s_.o - q0 * t_.nr));
              tile.accumulate = k0 > 0;
              if (straight.on) {
                placeStraight(straight, y, oy0 * s_.ow + panels.begin(xp), q0 * t_.nr,
                              k0 + tile.kc >= s_.k, tile);
              } else {
                tile.c = yt + panels.begin(xp) * s_.o + q0 * t_.nr;
              }
              t_.gemmDirect(tile);
            }
          }
        }
      }
      if (straight.on) return;
      const int64_t p0 = oy0 * s_.ow, o0 = op0 * t_.nr, o1 = std::min(s_.o, op1 * t_.nr);
      t_.transposeEpilogue(yt + o0, s_.o, (oy1 - oy0) * s_.ow, o0, o1, out, p0,
                           ep.count ? &ep : nullptr);
    });
  }

  // C^T[positions, o] = im2col(x)^T * W^T: positions in row panels (transposedPanels), output
  // channels in the lanes; then each task stores its results with the epilogue (into NCHW,
  // transposed, or as they are into a blocked output). A pointwise convolution's im2col^T panels
  // are its input: packed (always when blocked), or read in place (plain: k stride h * w).
  void runTransposed(const ExecContext& ctx, const float* x, float* y, float* ws,
                     const Epilogue& ep, const Epilogue& columns) const {
    const int64_t n = s_.oh * s_.ow;
    const Panels panels = transposedPanels(t_, s_);
    const int64_t rPanels = panels.count, oPanels = ceilDiv(s_.o, t_.nr);
    float* apack = ws;
    float* staging = packTransposedA_ ? apack + rPanels * s_.k * t_.mr : ws;
    const ConvGeometry geo = geometry(p_, s_, x);
    const auto pack = [&](int64_t rp) {
      if (s_.xBlock) // 1x1 (variantTakesLayouts)
        t_.packABlocked(x, s_.h * s_.w * s_.xBlock, oneByOneGrid(p_, s_), panels.begin(rp),
                        panels.rows(rp), 0, s_.k, apack + rp * s_.k * t_.mr);
      else if (pointwise_)
        t_.packA(x, 1, n, panels.begin(rp), panels.rows(rp), 0, s_.k, apack + rp * s_.k * t_.mr);
      else
        t_.packAConv(geo, 0, s_.k, panels.begin(rp), panels.rows(rp), apack + rp * s_.k * t_.mr);
    };
    const bool ownRows = transposedOwnRows(ctx.threads);
    if (packTransposedA_ && !ownRows) parallelFor(ctx, rPanels, [&](int64_t rp, int) { pack(rp); });
    const LaneOutput out{y, n, s_.yBlock, s_.o};
    const Epilogue* epp = ep.count ? &ep : nullptr;
    // A blocked output whose epilogue the tiles apply in registers takes the tiles as they are:
    // each vector of a tile row is a block of channels (plane * B floats apart), no staging.
    const StraightStore direct = straightStore(columns);
    // Tasks of one panel of output channels and a run of row panels: the B panel is reused
    // across the run, the results gather in the thread's staging buffer (a run's positions by
    // the panel's channels, kept near L2's size) and the task stores them (no data from another
    // thread).
    const int64_t perRun = transposedRunPanels(ctx.threads);
    const int64_t runs = ceilDiv(rPanels, perRun);
    const auto task = [&](int64_t op, int64_t rp0, int64_t rp1, int slot) {
      const int64_t o0 = op * t_.nr, o1 = std::min(s_.o, o0 + t_.nr);
      const int64_t p0 = panels.begin(rp0), p1 = panels.begin(rp1);
      float* ct = staging + slot * perRun * panels.largest() * t_.nr;
      GemmTile tile; // constructed once per task: the fields that vary are all set below
      // The run in one or two calls: its panels of small + 1 rows, then those of small rows.
      for (const auto& [q0, q1] : panels.equalRuns(rp0, rp1)) {
        if (q0 >= q1) continue;
        const int rows = panels.rows(q0);
        tile.rows = rows;
        tile.panels = static_cast<int>(q1 - q0);
        tile.cols = static_cast<int>(o1 - o0);
        tile.aStep = packTransposedA_ ? s_.k * t_.mr : rows * (s_.xBlock ? s_.xBlock : 1);
        for (int64_t k0 = 0; k0 < s_.k; k0 += transposedKc_) {
          tile.kc = std::min(transposedKc_, s_.k - k0);
          if (packTransposedA_) {
            tile.a = apack + (q0 * s_.k + k0) * t_.mr;
            tile.lda = 0;
          } else if (s_.xBlock) { // row r, channel k: x[koff_[k] + (position + r) * block]
            tile.a = x + panels.begin(q0) * s_.xBlock;
            tile.koff = koff_.data() + k0;
            tile.ars = s_.xBlock;
          } else {
            tile.a = x + k0 * n + panels.begin(q0);
            tile.lda = n;
          }
          tile.b = packedData() + (op * s_.k + k0) * t_.nr;
          // The next panel of weights (the next task's, usually) on its way while this one
          // computes: a cold panel read at the microkernel's pace stalled it (320 -> 1280 at
          // 7x7: 0.41 ms with the weights in cache, 0.51 in mobilenet_v2).
          tile.prefetchB = op + 1 < oPanels ? tile.b + s_.k * t_.nr : nullptr;
          tile.accumulate = k0 > 0;
          if (direct.on) {
            placeStraight(direct, y, panels.begin(q0), o0, k0 + tile.kc >= s_.k, tile);
            tile.cStep = rows * s_.yBlock;
          } else {
            tile.c = ct + (panels.begin(q0) - p0) * t_.nr;
            tile.ldc = t_.nr;
            tile.cStep = rows * t_.nr;
          }
          (tile.koff ? t_.gemmDirect : t_.gemm)(tile);
        }
      }
      if (!direct.on) t_.transposeEpilogue(ct, t_.nr, p1 - p0, o0, o1, out, p0, epp);
    };
    if (ownRows) {
      // A task packs its own run of positions and computes every channel panel of it: the
      // packed panels never cross to another core's cache.
      parallelFor(ctx, runs, [&](int64_t run, int slot) {
        const int64_t rp0 = run * perRun, rp1 = std::min(rPanels, rp0 + perRun);
        if (packTransposedA_)
          for (int64_t rp = rp0; rp < rp1; ++rp)
            pack(rp);
        for (int64_t op = 0; op < oPanels; ++op)
          task(op, rp0, rp1, slot);
      });
      return;
    }
    parallelFor(ctx, oPanels * runs, [&](int64_t t, int slot) {
      const int64_t op = t / runs, rp0 = t % runs * perRun;
      const int64_t rp1 = std::min(rPanels, rp0 + perRun);
      if (rp0 < rp1) task(op, rp0, rp1, slot);
    });
  }

  // Whether each task of the transposed form takes a run of positions through every panel of
  // output channels (packing them first where the form packs): more than one thread, a blocked
  // input, and at least as many positions as output channels (so each task streaming every
  // weight panel costs less than moving positions between threads). Split by channels instead,
  // each thread reads every position, half of them last written by the other thread; split by
  // positions, a model's consecutive convolutions keep each thread on the rows it wrote, and on
  // cores that share no cache that is what the second thread gains (blocked pointwise 64 -> 64
  // at 55x55: 0.131 -> 0.069 ms on two threads, one thread: 0.08; squeezenet1_1's expand 16 ->
  // 64 at 55x55 into a plain output: 0.096 -> 0.056-0.067 ms in the model, though alone 32 ->
  // 128 at 27x27 into a plain output measured 0.036 -> 0.055).
  bool transposedOwnRows(int threads) const {
    return threads > 1 && s_.xBlock && s_.oh * s_.ow >= s_.o;
  }

  // Row panels per task of the transposed form: enough runs for two tasks per thread, each
  // run's staged results (positions x nr) within 128 KiB.
  int64_t transposedRunPanels(int threads) const {
    const Panels panels = transposedPanels(t_, s_);
    const int64_t oPanels = ceilDiv(s_.o, t_.nr);
    const int64_t fit = std::max<int64_t>(1, (128 * 1024 / 4) / (panels.largest() * t_.nr));
    const int64_t runs = transposedOwnRows(threads)
                             ? std::min(panels.count, 2 * static_cast<int64_t>(threads))
                             : std::min(panels.count, ceilDiv(2 * std::max(threads, 1),
                                                              std::max<int64_t>(oPanels, 1)));
    return std::max<int64_t>(1, std::min(fit, ceilDiv(panels.count, std::max<int64_t>(runs, 1))));
  }

  // A block's v, m and output by position.
  int64_t lanesBlockFloats(const LanesShape& l) const {
    return l.points * l.blockTiles * (s_.c + s_.o) + l.rowsPerBlock * l.m * s_.ow * s_.o;
  }
  int64_t lanesThreadFloats(const LanesShape& l) const {
    const int64_t strip = (l.rowsPerBlock * l.m + 2) * (l.tilesW * l.m + 2) * t_.vectorWidth;
    return ceilDiv(strip, 16) * 16;
  }

  LanesShape lanesFor(int threads) const { return lanesForThreads(t_, lanes_, threads); }

  // Winograd with channels in the lanes, per block of tile rows: input transform per block of W
  // channels, per point the GEMM M^T[tiles][o] = V^T[tiles][c] U^T[c][o] (V read in place, rows
  // of tiles c floats apart: packing its panels cost 10% of a 64 -> 64 convolution; output
  // channels in the microkernel's lanes), output transform per tile, every block of W output
  // channels, into the output by position, and its transpose into NCHW with the epilogue. Blocks
  // go to threads when there are enough of them; otherwise each block's phases are split.
  void runWinogradLanes(const ExecContext& ctx, const float* x, float* y, float* ws,
                        const Epilogue& ep) const {
    const LanesShape l = lanesFor(ctx.threads);
    const int64_t setFloats = lanesBlockFloats(l) + lanesThreadFloats(l);
    if (lanesBlocksInParallel(l, ctx.threads)) {
      const ExecContext serial = [&] {
        ExecContext c = ctx;
        c.threads = 1;
        return c;
      }();
      parallelFor(ctx, l.blocks, [&](int64_t block, int slot) {
        float* set = ws + slot * setFloats;
        lanesBlock(serial, l, x, y, block, set, set + lanesBlockFloats(l), 0, ep);
      });
      return;
    }
    for (int64_t block = 0; block < l.blocks; ++block)
      lanesBlock(ctx, l, x, y, block, ws, ws + lanesBlockFloats(l), lanesThreadFloats(l), ep);
  }

  // One block of tile rows; buffers: v, m, the output by position; scratch + slot * scratchStride:
  // each thread's input strip.
  void lanesBlock(const ExecContext& ctx, const LanesShape& l, const float* x, float* y,
                  int64_t block, float* buffers, float* scratch, int64_t scratchStride,
                  const Epilogue& ep) const {
    const int64_t lanes = t_.vectorWidth, points = l.points;
    const int threads = std::max(ctx.threads, 1);
    WinogradLanesPlan plan;
    plan.x = x;
    plan.xBlock = s_.xBlock;
    plan.c = s_.c, plan.h = s_.h, plan.w = s_.w, plan.ph = p_.pads[0], plan.pw = p_.pads[1];
    plan.o = s_.o, plan.oh = s_.oh, plan.ow = s_.ow;
    plan.m = l.m;
    plan.tilesH = l.tilesH, plan.tilesW = l.tilesW;
    plan.blockTy0 = block * l.rowsPerBlock;
    plan.tiles = l.blockTiles;
    const int64_t ty0 = plan.blockTy0, ty1 = std::min(l.tilesH, ty0 + l.rowsPerBlock);
    const int64_t tiles = (ty1 - ty0) * l.tilesW;
    plan.v = buffers;
    float* mres = plan.v + points * l.blockTiles * s_.c;
    plan.mres = mres;
    plan.yt = mres + points * l.blockTiles * s_.o;
    const int64_t cBlocks = ceilDiv(s_.c, lanes), oBlocks = ceilDiv(s_.o, lanes);
    const auto rowChunks = [&](int64_t blocks) {
      return std::min(ty1 - ty0, ceilDiv(2 * threads, blocks));
    };
    const int64_t inChunks = rowChunks(cBlocks), inRows = ceilDiv(ty1 - ty0, inChunks);
    parallelFor(ctx, cBlocks * inChunks, [&](int64_t task, int slot) {
      const int64_t cb = task / inChunks, r0 = ty0 + task % inChunks * inRows;
      const int64_t r1 = std::min(ty1, r0 + inRows);
      if (r0 < r1)
        t_.winogradLanesInput(plan, cb * lanes,
                              static_cast<int>(std::min(lanes, s_.c - cb * lanes)), r0, r1,
                              scratch + slot * scratchStride);
    });
    const Panels tilePanels(tiles, t_.mr);
    const int64_t oPanels = ceilDiv(s_.o, t_.nr), tPanels = tilePanels.count;
    // Tasks of one point and a run of tile panels: the point's weights stay in cache across the
    // run, and a task is not a handful of tiles (a task per panel cost 10% of a 16 -> 64
    // convolution in task set-up).
    const int64_t runs = std::min(tPanels, ceilDiv(2 * threads, points));
    const int64_t perRun = ceilDiv(tPanels, runs);
    parallelFor(ctx, points * runs, [&](int64_t task, int) {
      const int64_t point = task / runs, tp0 = task % runs * perRun;
      const int64_t tp1 = std::min(tPanels, tp0 + perRun);
      GemmTile tile; // every field a call reads is set below
      // Panels of weights outer: each read once per task (a point's weights outgrow L2 from
      // 256 channels on: 512 -> 512 at 7x7 streamed them once per tile panel), the next one
      // fetched while this one computes; the task's tile panels in one call per run of equal
      // rows.
      for (int64_t op = 0; op < oPanels; ++op)
        for (int64_t k0 = 0; k0 < s_.c; k0 += kc_)
          for (const auto& [q0, q1] : tilePanels.equalRuns(tp0, tp1)) {
            if (q0 >= q1) continue;
            const int rows = tilePanels.rows(q0);
            const int64_t first = point * l.blockTiles + tilePanels.begin(q0);
            tile.kc = std::min(kc_, s_.c - k0);
            // The transformed tiles read where the input transform left them: row r (a tile)
            // c floats from the last, k (a channel) contiguous.
            tile.a = plan.v + first * s_.c + k0;
            tile.ars = s_.c;
            tile.b = packedData() + ((point * oPanels + op) * s_.c + k0) * t_.nr;
            // The weights this task reads next follow these in memory (the next K block, the
            // next panel, the next point's first): fetched while these compute (the 7x7
            // layers of resnet18 read 16.8 MB per layer from memory: 1.57 -> 1.06 ms in the
            // model with this and whole rows fetched).
            tile.prefetchB =
                tile.b + tile.kc * t_.nr < packedEnd() ? tile.b + tile.kc * t_.nr : nullptr;
            tile.c = mres + first * s_.o + op * t_.nr;
            tile.ldc = s_.o;
            tile.rows = rows;
            tile.cols = static_cast<int>(std::min<int64_t>(t_.nr, s_.o - op * t_.nr));
            tile.accumulate = k0 > 0;
            tile.panels = static_cast<int>(q1 - q0);
            tile.aStep = rows * s_.c;
            tile.cStep = rows * s_.o;
            t_.gemmDirect(tile);
          }
    });
    // Output tasks by tile rows, every channel of a tile together; the channels split too only
    // when the rows leave threads idle.
    const int64_t outRowChunks = std::min(ty1 - ty0, 2 * static_cast<int64_t>(threads));
    const int64_t outOChunks = std::min(oBlocks, ceilDiv(2 * threads, outRowChunks));
    const int64_t outRows = ceilDiv(ty1 - ty0, outRowChunks);
    const int64_t outBlocks = ceilDiv(oBlocks, outOChunks);
    parallelFor(ctx, outRowChunks * outOChunks, [&](int64_t task, int) {
      const int64_t oc = task % outOChunks, r0 = ty0 + task / outOChunks * outRows;
      const int64_t r1 = std::min(ty1, r0 + outRows);
      const int64_t o0 = oc * outBlocks * lanes, o1 = std::min(s_.o, o0 + outBlocks * lanes);
      if (r0 < r1 && o0 < o1) t_.winogradLanesOutput(plan, o0, o1, r0, r1);
    });
    // The block's output rows are one contiguous run of positions of every plane.
    const int64_t p0 = ty0 * l.m * s_.ow, p1 = std::min(ty1 * l.m, s_.oh) * s_.ow;
    const int64_t oChunk = ceilDiv(ceilDiv(s_.o, 4 * threads), lanes) * lanes;
    parallelFor(ctx, ceilDiv(s_.o, oChunk), [&](int64_t task, int) {
      const int64_t o0 = task * oChunk;
      t_.transposeEpilogue(plan.yt + o0, s_.o, p1 - p0, o0, std::min(s_.o, o0 + oChunk),
                           LaneOutput{y, s_.oh * s_.ow, s_.yBlock, s_.o}, p0,
                           ep.count ? &ep : nullptr);
    });
  }

  void runGemm(const ExecContext& ctx, const float* a, const float* x, float* y, float* ws,
               const Epilogue& ep) const {
    const int64_t cols = s_.oh * s_.ow;
    const int64_t nPanels = ceilDiv(cols, t_.nr);
    const GemmBlocking blocking = gemmBlocking(ctx.threads);
    const int64_t perChunk = blocking.panels, kcRun = blocking.kc;
    const int64_t nChunks = ceilDiv(nPanels, perChunk);
    // Split the rows too when the columns alone leave threads idle.
    int64_t mChunks = 1;
    if (ctx.threads > 1 && s_.group * nChunks < 2 * ctx.threads)
      mChunks = std::min(mPanels_, ceilDiv(2 * ctx.threads, s_.group * nChunks));
    const int64_t panelsPerMChunk = ceilDiv(mPanels_, mChunks);
    const int64_t bufferFloats = kcRun * perChunk * t_.nr;
    // A pointwise input's rows serve as B panels in place when they start on vector boundaries;
    // otherwise half the loads of a panel would straddle cache lines.
    const bool inPlace = pointwise_ && cols % t_.vectorWidth == 0;
    // The loop order of a task: weight panels outer when a K block of the weights outgrows L2
    // (a classifier's 512 -> 1000 at 13x13), so they are read once per K block, not once per
    // input panel.
    const bool weightsOuter = blocking.weightsOuter;
    parallelFor(ctx, s_.group * nChunks * mChunks, [&](int64_t task, int slot) {
      const int64_t mc = task % mChunks, nc = task / mChunks % nChunks;
      const int64_t g = task / mChunks / nChunks;
      const ConvGeometry geo = geometry(p_, s_, x + g * s_.cg * s_.h * s_.w);
      float* bpack = ws + slot * bufferFloats;
      const int64_t p0 = nc * perChunk, p1 = std::min(nPanels, p0 + perChunk);
      const int64_t m0 = mc * panelsPerMChunk, m1 = std::min(mPanels_, m0 + panelsPerMChunk);
      for (int64_t k0 = 0; k0 < s_.k; k0 += kcRun) {
        const int64_t kc = std::min(kcRun, s_.k - k0);
        for (int64_t pj = p0; pj < p1; ++pj) {
          const int width = static_cast<int>(std::min<int64_t>(t_.nr, cols - pj * t_.nr));
          float* dst = bpack + (pj - p0) * kc * t_.nr;
          if (inPlace && width == t_.nr) continue; // read in place below
          if (pointwise_)
            t_.packB(geo.x, cols, k0, kc, pj * t_.nr, width, dst);
          else
            t_.packBConv(geo, k0, kc, pj * t_.nr, width, dst);
        }
        const bool last = k0 + kc >= s_.k;
        GemmTile tile; // every field a call reads is set below
        // A plain Full operand laid out as the output (a residual) is read by the tiles in
        // registers; any other form goes through the general epilogue.
        const EpilogueOp* full = last ? fullOperand(ep) : nullptr;
        const float* residual = full && full->block == 0 && full->ld == cols ? full->data : nullptr;
        // One tile, the first of a run (panels and steps set by the caller).
        const auto place = [&](int64_t mp, int64_t pj) {
          tile.kc = kc;
          tile.a = a + ((g * mPanels_ + mp) * s_.k + k0) * t_.mr;
          const bool direct = inPlace && (pj + 1) * t_.nr <= cols;
          tile.b = direct ? geo.x + k0 * cols + pj * t_.nr : bpack + (pj - p0) * kc * t_.nr;
          tile.ldb = direct ? cols : t_.nr;
          tile.row0 = g * s_.og + mp * t_.mr;
          tile.col0 = pj * t_.nr;
          tile.c = y + tile.row0 * cols + tile.col0;
          tile.ldc = cols;
          tile.rows = static_cast<int>(std::min<int64_t>(t_.mr, s_.og - mp * t_.mr));
          tile.cols = static_cast<int>(std::min<int64_t>(t_.nr, cols - tile.col0));
          tile.accumulate = k0 > 0;
          tile.ep = last && ep.count ? &ep : nullptr;
          tile.residual = residual ? residual + tile.row0 * cols + tile.col0 : nullptr;
          return direct;
        };
        // Runs of full panels in one call, then the partial last one alone (splitAt).
        if (weightsOuter) {
          // Each weight panel once per K block, the task's input panels (at most 8 x kc x nr
          // floats) staying in L2.
          for (int64_t mp = m0; mp < m1; ++mp)
            for (const auto& [q0, q1] : splitAt(p0, p1, cols / t_.nr)) {
              if (q0 >= q1) continue;
              const bool direct = place(mp, q0);
              tile.panels = static_cast<int>(q1 - q0);
              tile.aStep = 0;
              tile.bStep = direct ? t_.nr : kc * t_.nr;
              tile.cStep = t_.nr;
              tile.rowStep = 0;
              tile.colStep = t_.nr;
              t_.gemm(tile);
            }
        } else {
          // Per input panel (in L1), the weight panels.
          for (int64_t pj = p0; pj < p1; ++pj)
            for (const auto& [q0, q1] : splitAt(m0, m1, s_.og / t_.mr)) {
              if (q0 >= q1) continue;
              place(q0, pj);
              tile.panels = static_cast<int>(q1 - q0);
              tile.aStep = s_.k * t_.mr;
              tile.bStep = 0;
              tile.cStep = t_.mr * cols;
              tile.rowStep = t_.mr;
              tile.colStep = 0;
              t_.gemm(tile);
            }
        }
      }
    });
  }

  const KernelTable& t_;
  const Conv2dParams& p_;
  ConvShape s_;
  ConvVariant variant_;
  bool depthwise_;
  bool packs_;           // the weights are constant, packed at load (not at each run)
  LanesShape lanes_{};   // blocks > 0: Winograd, Winograd2
  PaddedInput padded_{}; // Direct
  // Direct: k = (c, ky, kx) -> offset in the padded input; GemmTransposed reading a blocked
  // input in place: channel k -> its offset in the first position's blocks.
  std::vector<int64_t> koff_;
  int64_t directChunkRows_ = 1;
  bool pointwise_ = false;
  bool packTransposedA_ = true; // GemmTransposed: A panels packed, or the input read in place
  EpiloguePlan epilogue_;
  EpiloguePlan epilogueColumns_; // the same with the channels in the columns (tiles stored
                                 // straight into a blocked output)
  int64_t kc_ = 256;
  int64_t transposedKc_ = 256;
  int64_t directKc_ = 256;
  int64_t mPanels_ = 0;
  bool havePacked() const { return packed_ && !packed_->empty(); }
  const float* packedData() const { return packed_ ? packed_->data() : nullptr; }
  const float* packedEnd() const { return packed_ ? packed_->data() + packed_->size() : nullptr; }
  // Weights in MR-row panels per group, or as the variant transforms them; shared with every
  // kernel packing the same constant the same way (sharedPacking).
  std::shared_ptr<const LargeFloats> packed_;
};

} // namespace

// The window kernel on a depthwise convolution (runWindow), in lane-FMAs (a cycle is 2 * W of
// them), per vector of W channels: the taps at about 0.85 cycles each (a load of the input and
// one of the weights per FMA: load-bound, not FMA-bound), which the threads share; and what
// they do not share: filling the strips (about 4 cycles per vector of the padded input, plus
// 1.5 to transpose a plain one), storing the result (1.7 more per vector into a plain output)
// and about 550 cycles per task (a block of channels, or a run of its rows), each thread past
// the first adding a fifth (they contend for the same memory). Fitted to the depthwise layers
// of mobilenet_v2, shufflenet_v2 and PP-OCR det (7x7 to 160x160, 24 to 960 channels, 3x3 and
// 5x5, strides 1 and 2, every layout) measured at one and two threads: measured/estimated
// 0.7-1.7, where counting the taps at the FMA rate had it at 0.8-15 (the small planes' strips
// and tasks were not counted).
double depthwiseLaneFmas(const KernelTable& t, const DepthwiseWork& w, int threads) {
  const int64_t vectors = ceilDiv(w.channels, t.vectorWidth);
  const auto blocks = static_cast<double>(vectors);
  const auto outputs = static_cast<double>(w.oh * w.ow);
  const auto padded = static_cast<double>(w.paddedH * w.paddedW);
  const double perCycle = 2.0 * t.vectorWidth;
  const double taps = 0.85 * static_cast<double>(w.taps) * blocks * outputs * perCycle;
  const auto chunks = static_cast<double>(
      std::min(w.oh, ceilDiv(4 * int64_t{std::max(threads, 1)}, std::max<int64_t>(vectors, 1))));
  const double unshared =
      blocks * (4.0 * padded + (w.plainInput ? 1.5 * static_cast<double>(w.h * w.w) : 0.0) +
                (w.plainOutput ? 1.7 * outputs : 0.0) + 550.0 * chunks);
  // In lane-FMAs at `threads` threads: the unshared cycles take as long whatever the count.
  const double n = std::max(threads, 1);
  return taps + unshared * perCycle * n * (1.0 + 0.2 * (n - 1));
}

LargeFloats packWeightPanels(const KernelTable& t, const float* w, int64_t o, int64_t k) {
  const int64_t oPanels = ceilDiv(o, t.nr);
  LargeFloats packed(static_cast<size_t>(oPanels * k * t.nr), 0.f);
  for (int64_t op = 0; op < oPanels; ++op)
    for (int64_t kk = 0; kk < k; ++kk)
      for (int j = 0; j < t.nr && op * t.nr + j < o; ++j)
        packed[static_cast<size_t>((op * k + kk) * t.nr + j)] = w[(op * t.nr + j) * k + kk];
  return packed;
}

std::shared_ptr<const LargeFloats> sharedWeightPanels(const KernelTable& t, const float* w,
                                                      int64_t o, int64_t k) {
  // -1: no ConvVariant (whose keys start with the variant), one packing for every reader.
  return sharedPacking(w, {-1, reinterpret_cast<intptr_t>(&t), o, k},
                       [&] { return packWeightPanels(t, w, o, k); });
}

bool convSupported(const KernelTable& table, const Primitive& prim,
                   const std::vector<TensorDesc>& d) {
  const auto& p = prim.as<Conv2dParams>();
  if (!vectorPostOps(p.postOps)) return false;
  const TensorDesc& x = d[prim.inputs[0]];
  const TensorDesc& y = d[prim.outputs[0]];
  // Blocked tensors in blocks of the family's vector width: a vector of lanes is a whole block.
  const auto takes = [&](Layout l) {
    return l == Layout::Plain || layoutBlock(l) == table.vectorWidth;
  };
  if (!takes(x.layout) || !takes(y.layout)) return false;
  // Weights and bias plain; a Full post-op operand laid out as the output, the others plain.
  for (size_t i = 1; i < prim.inputs.size(); ++i) {
    bool full = false;
    for (const PostOp& op : p.postOps)
      full = full || (op.isBinary && op.broadcast == Broadcast::Full &&
                      op.operand == static_cast<int32_t>(i));
    if (d[prim.inputs[i]].layout != (full ? y.layout : Layout::Plain)) return false;
  }
  if (x.layout == Layout::Plain && y.layout == Layout::Plain) return true;
  // Blocked tensors need a variant with the channels in the lanes. Weights are taken as
  // constant: blocked layouts are proposed only around convolutions with constant weights
  // (search/layouts.h); prepareConv declines the others.
  const ConvShape s = shapeOf(p, x, d[prim.inputs[1]], y);
  return chooseVariant(table, p, s, true, 1) != ConvVariant::Auto; // layouts alone decide
}

std::vector<ConvVariantCost> convVariants(const KernelTable& table, const Primitive& prim,
                                          const std::vector<TensorDesc>& d, int threads) {
  const auto& p = prim.as<Conv2dParams>();
  const ConvShape s = shapeOf(p, d[prim.inputs[0]], d[prim.inputs[1]], d[prim.outputs[0]]);
  std::vector<ConvVariantCost> all = variantCosts(table, p, s, true, threads);
  for (ConvVariantCost& v : all)
    v.laneFmas *= static_cast<double>(std::max<int64_t>(s.n, 1));
  return all;
}

int64_t convPreparedBytes(const KernelTable& table, const Primitive& prim,
                          const std::vector<TensorDesc>& d, ConvVariant variant, int threads) {
  const auto& p = prim.as<Conv2dParams>();
  const ConvShape s = shapeOf(p, d[prim.inputs[0]], d[prim.inputs[1]], d[prim.outputs[0]]);
  if (variant == ConvVariant::Auto) variant = chooseVariant(table, p, s, true, threads);
  return 4 * keptFloats(table, s, variant);
}

bool convIsPointwise(const Primitive& prim, const std::vector<TensorDesc>& d) {
  const auto& p = prim.as<Conv2dParams>();
  return isPointwise(p, shapeOf(p, d[prim.inputs[0]], d[prim.inputs[1]], d[prim.outputs[0]]));
}

bool convVariantNeedsConstantWeights(ConvVariant v) {
  return v != ConvVariant::Gemm && v != ConvVariant::Depthwise;
}

namespace {
// The variant a kernel prepared for `choice` runs: the cheapest for Auto, else the one chosen (the
// artifact's plan, a test), which must be among those that apply; Auto when none does.
ConvVariant pickVariant(const std::vector<ConvVariantCost>& all, ConvVariant choice) {
  auto it =
      choice == ConvVariant::Auto
          ? std::min_element(all.begin(), all.end(),
                             [](const auto& a, const auto& b) { return a.laneFmas < b.laneFmas; })
          : std::find_if(all.begin(), all.end(),
                         [&](const ConvVariantCost& v) { return v.variant == choice; });
  return it == all.end() ? ConvVariant::Auto : it->variant;
}
} // namespace

std::unique_ptr<PreparedKernel> prepareConv(const KernelTable& table, const PrepareArgs& args) {
  const Primitive& prim = *args.primitive;
  const auto& p = prim.as<Conv2dParams>();
  const std::vector<TensorDesc>& d = *args.tensors;
  const ConvShape s = shapeOf(p, d[prim.inputs[0]], d[prim.inputs[1]], d[prim.outputs[0]]);
  const bool constant = args.constants[1] != nullptr;
  const std::vector<ConvVariantCost> all =
      variantCosts(table, p, s, constant, std::max(args.threads, 1));
  if (all.empty()) return nullptr; // blocked layouts no variant here takes
  const ConvVariant v = pickVariant(all, static_cast<ConvVariant>(args.choice.id));
  if (v == ConvVariant::Auto) return nullptr;
  return std::make_unique<ConvKernel>(table, p, s, args.constants[1], constant, v);
}

int64_t convWorkspaceBytes(const KernelTable& table, const Primitive& prim,
                           const std::vector<TensorDesc>& d, ConvVariant variant,
                           bool constantWeights, int prepareThreads, int threads) {
  const auto& p = prim.as<Conv2dParams>();
  const ConvShape s = shapeOf(p, d[prim.inputs[0]], d[prim.inputs[1]], d[prim.outputs[0]]);
  const ConvVariant v =
      pickVariant(variantCosts(table, p, s, constantWeights, std::max(prepareThreads, 1)), variant);
  if (v == ConvVariant::Auto) return 0;
  return ConvKernel(table, p, s, nullptr, constantWeights, v).workspaceBytes(threads);
}

} // namespace tessel::x86

namespace tessel {

int64_t cpuX86WeightPackings() {
  return x86::packings.load();
}

int64_t cpuX86PackedBytes() {
  return x86::packedBytes.load();
}

} // namespace tessel
