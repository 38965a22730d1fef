// The kernels of one ISA family, as plain function pointers: the driver code (baseline x86-64,
// threads, blocking, packing plans) calls them; each family's translation unit fills its table
// from the same templates (kernels_impl.h) compiled with its own flags.
#pragma once

#include "cpu_features.h"

#include <cstdint>

namespace tessel::x86 {

// Where a binary post-op's operand value for output (row, col) comes from.
enum class Spread : uint8_t {
  Scalar, // data[0]
  Row,    // data[row]
  Column, // data[col]
  Full,   // data[row * ld + col]
};

// A post-op as the kernels apply it (from tessel::PostOp with its operand resolved).
struct EpilogueOp {
  bool isBinary = false;
  uint8_t op = 0; // UnaryKind or BinaryKind
  Spread spread = Spread::Scalar;
  bool operandFirst = false;
  float alpha = 0.f, beta = 0.f;
  const float* data = nullptr; // binary operand
  int64_t ld = 0;              // Full: elements between consecutive rows
  int64_t block = 0; // Full, channels-in-lanes epilogues only: the operand is blocked nchwc (row r
                     // = channel, col = position: data + (r / block) * ld * block + col * block +
                     // r % block); 0 for plain
};

// The post-ops of one output, in order (a bias is an "add" by row or column in front).
struct Epilogue {
  const EpilogueOp* ops = nullptr;
  int count = 0;
};

// The common epilogues decoded once per call: an optional per-row add (a bias), an optional
// activation (relu, clip, hardswish, hardsigmoid, leaky relu), then an optional scalar scale and
// shift. Anything else goes through epilogue() op by op.
struct FastEpilogue {
  bool usable = false;
  const float* rowAdd = nullptr;
  // Channels in the columns (a GEMM tile stored straight into a blocked output): a per-column
  // add (the bias, by channel), then a residual laid out as the tile's C (GemmTile::residual).
  const float* colAdd = nullptr;
  bool residual = false;
  int act = 0; // 0 none, 1 relu, 2 clip, 3 hardswish, 4 hardsigmoid, 5 leaky relu
  float alpha = 0.f, beta = 0.f;
  bool affine = false; // v * scale + shift
  float scale = 1.f, shift = 0.f;
};

// columns: the tile's channels are its columns (GemmTile::residual set when a Full operand is
// there): a column add and a residual may lead; otherwise a row add, then with rowResidual (the
// caller has the Full operand at GemmTile::residual) a residual. Baseline code (driver.cpp): what
// the families' kernels apply fast, and what planning for a family asks without its kernels.
FastEpilogue decodeEpilogue(const Epilogue* ep, bool columns = false, bool rowResidual = false);

// The most microkernel rows of any family (buffers of one row's values per tile row).
constexpr int kMaxMr = 16;

// One microkernel call: C[rows x cols] (+)= A panel (kc x MR, packed) * B panel (kc x NR,
// packed), then the epilogue when given (the last K block). row0/col0 locate C in the output
// for the epilogue's operands.
struct GemmTile {
  int64_t kc = 0;
  const float* a = nullptr;
  int64_t lda = 0; // floats between consecutive k rows of a: mr for a packed panel (0 means mr);
                   // a pointwise convolution's transposed form reads its input in place (h * w)
  // gemmDirect only: a row r, column k is a[koff[k] + r * ars] (a direct convolution, the
  // padded input read in place), or a[koff[k] + aoff[r]] when aoff is set (rows = output
  // positions anywhere in the input: a panel may span output rows); no koff: a[k + r * ars]
  // (row-major A read in place: Winograd's transformed tiles).
  const int64_t* koff = nullptr;
  int64_t ars = 1;
  const int64_t* aoff = nullptr; // rows entries (at most kMaxMr)
  const float* b = nullptr;
  int64_t ldb = 0; // floats between consecutive k rows of b: nr for a packed panel; a pointwise
                   // convolution reads full panels straight from its input (ldb = h * w)
  float* c = nullptr;
  int64_t ldc = 0;
  // Floats between the NV vectors of a row of C: 0 for W (contiguous); a blocked output's
  // plane * W (each vector a block of channels). Partial vectors are then stored whole, the
  // lanes past cols zero (a blocked tensor's padded channels).
  int64_t ldcv = 0;
  // columnEpilogue: the channels are the columns (bias per column, EpiloguePlan with
  // Spread::Column) and a Full residual operand is at residual, addressed like c.
  bool columnEpilogue = false;
  const float* residual = nullptr;
  int rows = 0;
  int cols = 0;
  bool accumulate = false;
  const Epilogue* ep = nullptr;
  int64_t row0 = 0, col0 = 0;
  // A run of `panels` tiles of this shape in one call (the epilogue decoded once, no call per
  // tile): tile i reads a + i * aStep and b + i * bStep, writes c + i * cStep (its residual at
  // residual + i * cStep) and takes its epilogue operands at row0 + i * rowStep, col0 + i *
  // colStep. With aoff, every tile reads its rows at the same offsets from its a.
  int panels = 1;
  int64_t aStep = 0, bStep = 0, cStep = 0, rowStep = 0, colStep = 0;
  // Packed B panels (ldb = nr), any form of A: the B panel a later call will read (the next
  // panel of weights), fetched into L2 a k row (every line of it) per k step during the first
  // tile, so that its cold read from memory overlaps this call's arithmetic (one line per step,
  // half a 32-float row, left the 7x7 layers of resnet18 waiting on memory); null for none.
  const float* prefetchB = nullptr;
};

// Geometry of one convolution group's input plane stack, for implicit im2col packing.
// Where position p of a panel's rows lies in a blocked input, counted in positions:
// (p / cols) * rowStep + (p % cols) * colStep. Every position of the input: dense(width); the
// positions a 1x1 convolution with stride (sh, sw) reads: cols = its output width, rowStep = sh
// * the input's width, colStep = sw.
struct PositionGrid {
  int64_t cols = 1, rowStep = 1, colStep = 1;
  static PositionGrid dense(int64_t width) { return {width, width, 1}; }
};

struct ConvGeometry {
  const float* x = nullptr; // [C, H, W] of this batch image and group
  int64_t h = 0, w = 0, kh = 0, kw = 0, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t oh = 0, ow = 0;
  // Channels-in-lanes kernels only (window, Winograd input): 0 when x is plain NCHW (x: the first
  // channel's plane), else the nchwc block size B (x: the first channel's float in its block;
  // positions B floats apart, the first channel at a lane offset below B that W channels fit).
  int64_t block = 0;
};

// Where a channels-in-lanes kernel writes channel c at position p (row-major over the output
// plane) of one image: plain NCHW (y + c * plane + p) or blocked nchwc (y + (c / block) * plane *
// block + p * block + c % block). Lanes of a blocked block past the tensor's channels are
// written as zeros (by the store that ends at the last channel).
struct LaneOutput {
  float* y = nullptr;
  int64_t plane = 0;
  int64_t block = 0;
  int64_t channels = 0; // the tensor's: a store that ends here zeroes the rest of its block
};
inline int64_t laneOffset(int64_t block, int64_t plane, int64_t c, int64_t p) {
  return block ? (c / block) * plane * block + p * block + c % block : c * plane + p;
}

// What a window kernel computes over each window of one plane.
enum class WindowMode : uint8_t { Depthwise, Max, Avg };

// The strip a window kernel works on: output rows per strip (the input rows they need,
// transposed once, stay near 96 KiB), its input rows and padded columns (whole tiles of W output
// columns), and the scratch floats one call needs (a multiple of 16).
struct WindowStrip {
  int64_t rows = 1, inRows = 1, cols = 1, floats = 0;
};
WindowStrip windowStrip(const ConvGeometry& g, int lanes);

// A window op over a block of up to W channels (W = the family's vector width), the channels in
// the vector lanes. Depthwise: y[oh, ow] = sum w[ky, kx] x[oy*sh - ph + ky*dh, ox*sw - pw +
// kx*dw]; Max: the largest input inside the window (padding ignored); Avg: the mean over the
// window, dividing by the inputs inside it, or with countIncludePad by the window clipped to the
// padded input (padBottom, padRight).
//
// The kernel works on strips of strip.rows output rows: the input rows a strip needs are
// transposed (copied, from a blocked input) into the scratch as [rows][cols][W] with the padding
// filled in (the nchwc layout of a blocked tensor), each tile of W output columns accumulates in
// registers (one vector per column, every tap a full aligned load), and the tile is stored with
// the epilogue: transposed back into NCHW planes, or as it is into a blocked output.
struct WindowBlock {
  ConvGeometry g; // x: the block's first channel (its plane, or its float in a blocked input)
  WindowMode mode = WindowMode::Depthwise;
  const float* weight = nullptr; // depthwise: [channels][kh * kw] from the first channel
  int channels = 0;              // 1..W
  bool countIncludePad = false;
  int64_t padBottom = 0, padRight = 0;
  float* y = nullptr; // the output of channel 0: channel `channel` (the first of the block) is
                      // written at laneOffset(yBlock, oh * ow, channel, position) from here
  int64_t yBlock = 0; // 0: plain NCHW output; else blocked nchwc with this block size
  int64_t oy0 = 0, oy1 = 0; // output rows to compute
  WindowStrip strip;        // windowStrip(g, W)
  float* scratch = nullptr; // strip.floats, 64-byte aligned
  const Epilogue* ep = nullptr;
  int64_t channel = 0; // the first channel: the epilogue's row and the output's channel
};

// Scratch floats of windowDepthwiseFilled: the weights as [taps][lanes], one int64 per tap.
inline int64_t windowTapFloats(const ConvGeometry& g, int lanes) {
  const int64_t taps = g.kh * g.kw;
  return (taps * lanes + 2 * taps + 15) / 16 * 16;
}

// Winograd F(m x m, 3x3), m = 2 or 4, with channels in the vector lanes, over a block of whole
// tile rows from blockTy0: v[point][tile][c] (tiles numbered (ty - blockTy0) * tilesW + tx, no
// padding, `tiles` of them per point), the GEMM result m[point][tile][o], and yt[position][o],
// the block's output rows by position (from row blockTy0 * m) before their transpose into NCHW.
struct WinogradLanesPlan {
  const float* x = nullptr; // [c][h][w], or blocked nchwc when xBlock
  int64_t xBlock = 0;
  int64_t c = 0, h = 0, w = 0, ph = 0, pw = 0;
  int64_t o = 0, oh = 0, ow = 0;
  int m = 4;
  int64_t tilesH = 0, tilesW = 0;
  int64_t blockTy0 = 0, tiles = 0;
  float* v = nullptr;
  const float* mres = nullptr;
  float* yt = nullptr;
};
inline int winogradLanesPoints(int m) {
  return (m + 2) * (m + 2);
}

struct KernelTable {
  IsaFamily family = IsaFamily::None;
  // Multiply-adds of `iterations` rounds of 12 independent vector FMAs; returns the FLOPs done.
  double (*fmaProbe)(int64_t iterations) = nullptr;
  int vectorWidth = 0;
  int mr = 0; // microkernel rows
  int nr = 0; // microkernel columns
  void (*gemm)(const GemmTile& t) = nullptr;
  // The same with a read in place (GemmTile::koff): rows r of column k at a + koff[k] + r * ars.
  void (*gemmDirect)(const GemmTile& t) = nullptr;
  // Packs rows k0..k0+kc of a row-major matrix (ld elements per row), columns n0..n0+cols
  // (cols <= nr), into one B panel (kc x nr, zero-padded).
  void (*packB)(const float* src, int64_t ld, int64_t k0, int64_t kc, int64_t n0, int cols,
                float* dst) = nullptr;
  // The same from the implicit im2col matrix of a convolution: row k = (c, ky, kx), column n =
  // (oy, ox).
  void (*packBConv)(const ConvGeometry& g, int64_t k0, int64_t kc, int64_t n0, int cols,
                    float* dst) = nullptr;
  // The transposed im2col of a convolution as one A panel: row n (an output position,
  // n0..n0+rows, rows <= mr), column k = (c, ky, kx), for rows k0..k0+kc of im2col.
  void (*packAConv)(const ConvGeometry& g, int64_t k0, int64_t kc, int64_t n0, int rows,
                    float* dst) = nullptr;
  // Packs rows m0..m0+rows (rows <= mr) of a matrix with strides (rs, ks) over (m, k) into one
  // A panel (kc x mr, zero-padded), columns k0..k0+kc.
  void (*packA)(const float* src, int64_t rs, int64_t ks, int64_t m0, int rows, int64_t k0,
                int64_t kc, float* dst) = nullptr;
  // The same from a blocked input (block size W): rows = positions p0..p0+rows of grid,
  // columns = channels k0..k0+kc, k0 at a block boundary; block b at x + b * blockStride.
  void (*packABlocked)(const float* x, int64_t blockStride, const PositionGrid& grid, int64_t p0,
                       int rows, int64_t k0, int64_t kc, float* dst) = nullptr;
  void (*window)(const WindowBlock& p) = nullptr;
  // Depthwise over a strip the caller filled as the window kernel fills its own ([input rows
  // from p.oy0 * sh - ph][p.strip.cols][W], padding included): output rows p.oy0..p.oy1;
  // p.scratch holds the weights and tap offsets (windowTapFloats).
  void (*windowDepthwiseFilled)(const WindowBlock& p, const float* strip) = nullptr;
  // Reduce kinds as in core/reduce.def. rows: y[o] = reduce(x[o * extent .. + extent]) for o in
  // o0..o1 (inner = 1). columns: y[o * inner + i] = reduce over e of x[(o * extent + e) * inner
  // + i], for one o.
  void (*reduceRows)(const float* x, int64_t o0, int64_t o1, int64_t extent, uint8_t kind,
                     float* y) = nullptr;
  void (*reduceColumns)(const float* x, int64_t extent, int64_t inner, uint8_t kind,
                        float* y) = nullptr;
  // Input channels c0..c0+channels (channels <= W) of tile rows ty0..ty1 into v; scratch:
  // winogradLanesScratch floats.
  void (*winogradLanesInput)(const WinogradLanesPlan& p, int64_t c0, int channels, int64_t ty0,
                             int64_t ty1, float* scratch) = nullptr;
  // Output channels o0..o1 (o0 a multiple of W) of tile rows ty0..ty1 from mres into yt, tile by
  // tile, every block of W channels of a tile before the next tile (a tile's results at one point
  // are o floats together: whole cache lines).
  void (*winogradLanesOutput)(const WinogradLanesPlan& p, int64_t o0, int64_t o1, int64_t ty0,
                              int64_t ty1) = nullptr;
  // y[i] = epilogue(x[i]) for n consecutive elements of one row starting at column col (x may
  // be y).
  void (*epilogueRow)(const float* x, float* y, int64_t n, const Epilogue& ep, int64_t row,
                      int64_t col) = nullptr;
  // Output channel o at position col0 + i = epilogue(x[i * ldx + o - o0]) for o in [o0, o1) and
  // i in [0, n): a positions-by-channels result into the output, plain (W x W blocks transposed
  // in registers) or blocked (lanes stored as they are); ep may be null.
  void (*transposeEpilogue)(const float* x, int64_t ldx, int64_t n, int64_t o0, int64_t o1,
                            const LaneOutput& out, int64_t col0, const Epilogue* ep) = nullptr;
};

// Each family's vector width and microkernel (mr rows by nv vectors): the one source of the
// tables' shapes and of the offline targets' (describedTable).
// nominalL2Bytes: a core's private cache on the family's common parts (Zen 2/3 and Zen 4/5), what
// the cost model takes for a target planned offline; on the host, the one it reports.
struct FamilyShape {
  IsaFamily family;
  int vectorWidth, mr, nv;
  int64_t nominalL2Bytes;
};
inline constexpr FamilyShape kAvx2Shape{IsaFamily::Avx2, 8, 6, 2, int64_t{512} << 10};
inline constexpr FamilyShape kAvx512Shape{IsaFamily::Avx512, 16, 12, 2, int64_t{1} << 20};

const KernelTable& avx2Kernels();
const KernelTable& avx512Kernels();
// A family's shape with no kernels: what the descriptor reads (supports, candidates, estimates)
// to plan for a CPU of that family offline, on any CPU (no code of the family runs).
KernelTable describedTable(const FamilyShape& shape);
// A core's private cache as the cost model takes it for a table: for the host's own kernels the
// L2 the OS reports (else the family's nominal one), for a described table the nominal one.
int64_t privateCacheBytes(const KernelTable& t);

} // namespace tessel::x86
