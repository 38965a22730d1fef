// GridSample and RoiAlign: sampling an image at positions a grid gives, as elementwise steps on the
// grid's coordinates, gathers of the taps they name, and weighted sums: no sampling primitive.
#include "builder.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace tessel::decompose {
namespace {

// Elementwise steps on tensors that broadcast against each other (numpy rules), each result a
// temp of the joint shape; comparisons and logic give bools.
class Steps {
public:
  explicit Steps(LoweringBuilder& b) : b_(b) {}

  int32_t k(double v) { return b_.scalar(DType::F32, v); }
  int32_t op(BinaryKind kind, int32_t x, int32_t y) {
    const Shape s = *broadcastShapes(b_.shape(x), b_.shape(y)); // shapes here always join
    const DType t =
        binaryIsComparison(kind) || binaryIsLogic(kind) ? DType::Bool : b_.desc(x).dtype;
    const int32_t out = b_.temp({t, s});
    b_.binary(kind, x, y, out);
    return out;
  }
  int32_t add(int32_t x, int32_t y) { return op(BinaryKind::Add, x, y); }
  int32_t sub(int32_t x, int32_t y) { return op(BinaryKind::Sub, x, y); }
  int32_t mul(int32_t x, int32_t y) { return op(BinaryKind::Mul, x, y); }
  int32_t unary(UnaryKind kind, int32_t x) { return b_.unaryTemp(kind, x); }
  int32_t select(int32_t c, int32_t x, int32_t y) {
    const Shape s = *broadcastShapes(*broadcastShapes(b_.shape(c), b_.shape(x)), b_.shape(y));
    const int32_t out = b_.temp({b_.desc(x).dtype, s});
    b_.select(c, x, y, out);
    return out;
  }
  // x clamped to [lo, hi] (NaN stays NaN).
  int32_t clamp(int32_t x, double lo, double hi) {
    return op(BinaryKind::Min, op(BinaryKind::Max, x, k(lo)), k(hi));
  }

private:
  LoweringBuilder& b_;
};

enum class Padding { Zeros, Border, Reflection };

// One spatial axis of the image: its size and the range coordinates may take before padding
// applies ([-0.5, size - 0.5], or [0, size - 1] with align_corners).
struct Axis {
  int64_t size;
  double lo, hi;
};

// x reflected into [lo, hi] by its borders as often as it takes: lo + the triangle wave of
// period 2 * (hi - lo) at x - lo.
int32_t reflect(Steps& e, int32_t x, const Axis& a) {
  const double range = a.hi - a.lo;
  if (range <= 0) return e.clamp(x, a.lo, a.hi); // one pixel with align_corners: a point
  const int32_t wrapped = e.op(BinaryKind::Mod, e.sub(x, e.k(a.lo)), e.k(2 * range));
  const int32_t folded = e.unary(UnaryKind::Abs, e.sub(wrapped, e.k(range)));
  return e.add(e.k(a.lo + range), e.unary(UnaryKind::Neg, folded));
}

// A tap's integer coordinate (f32) as an index inside the axis, and, for zero padding, whether
// the tap lies inside (else -1).
struct TapIndex {
  int32_t index; // i64
  int32_t inside = -1;
};

TapIndex tapIndex(LoweringBuilder& b, Steps& e, int32_t t, const Axis& a, Padding pad) {
  TapIndex r;
  int32_t at = t;
  if (pad == Padding::Zeros)
    r.inside = e.op(BinaryKind::And, e.op(BinaryKind::GreaterOrEqual, t, e.k(0)),
                    e.op(BinaryKind::LessOrEqual, t, e.k(static_cast<double>(a.size - 1))));
  if (pad == Padding::Reflection) at = reflect(e, t, a);
  // Clamped for every mode (border padding is exactly that; the others only guard the gather):
  // the cast truncates toward zero as ONNX's int() does, NaN becomes 0.
  at = e.clamp(at, 0, static_cast<double>(a.size - 1));
  r.index = b.castTemp(at, DType::I64);
  return r;
}

} // namespace

// GridSample(X [N, C, H, W], grid [N, Ho, Wo, 2]) -> [N, C, Ho, Wo]: each grid point (x, y in
// [-1, 1]) denormalized, then the nearest pixel, the 2x2 bilinear or the 4x4 bicubic (Keys, a =
// -0.75) taps gathered and weighted, taps outside the image reading 0, the border or their
// reflection.
Status lowerGridSample(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects X and grid");
  const TensorDesc x = b.desc(b.input(0)), grid = b.desc(b.input(1));
  if (x.rank() != 4)
    return unsupported(n.label() + ": only 2-D sampling (a 4-D input) is supported, got " +
                       x.toString());
  if (x.dtype != DType::F32 || grid.dtype != DType::F32)
    return unsupported(n.label() + ": only f32 inputs are supported");
  if (grid.rank() != 4 || grid.shape[0] != x.shape[0] || grid.shape[3] != 2)
    return n.error("grid " + shapeToString(grid.shape) + " is not [N, H_out, W_out, 2] for " +
                   x.toString());
  TESSEL_ASSIGN_OR_RETURN(std::string mode, n.stringAttr("mode", "bilinear"));
  TESSEL_ASSIGN_OR_RETURN(std::string padding, n.stringAttr("padding_mode", "zeros"));
  TESSEL_ASSIGN_OR_RETURN(int64_t alignCorners, n.intAttr("align_corners", 0));
  if (mode == "linear") mode = "bilinear"; // opset 20's names
  if (mode == "cubic") mode = "bicubic";
  if (mode != "bilinear" && mode != "nearest" && mode != "bicubic")
    return n.error("mode '" + mode + "' (bilinear, nearest or bicubic expected)");
  Padding pad;
  if (padding == "zeros")
    pad = Padding::Zeros;
  else if (padding == "border")
    pad = Padding::Border;
  else if (padding == "reflection")
    pad = Padding::Reflection;
  else
    return n.error("padding_mode '" + padding + "' (zeros, border or reflection expected)");
  const int64_t batch = x.shape[0], channels = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t points = grid.shape[1] * grid.shape[2];
  const int32_t out = b.setOutput(0, {DType::F32, {batch, channels, grid.shape[1], grid.shape[2]}});
  if (batch * channels * points == 0) {
    RasterParams fill;
    fill.fill = 0.0;
    b.emit(fill, {b.input(0)}, out); // a fill: X only as the (unread) source
    return Status::ok();
  }
  if (h == 0 || w == 0) return n.error("samples an empty image " + x.toString());
  Steps e(b);
  const bool align = alignCorners != 0;
  const auto axisOf = [&](int64_t size) {
    return align ? Axis{size, 0.0, static_cast<double>(size - 1)}
                 : Axis{size, -0.5, static_cast<double>(size) - 0.5};
  };
  const std::array<Axis, 2> axes{axisOf(w), axisOf(h)}; // x (width), then y (height)
  const Shape perPoint{batch, 1, points};
  // Each coordinate denormalized, [N, 1, points]. Padding applies to each tap (as onnxruntime
  // and PyTorch do; moving the coordinate first, as ONNX's reference does, agrees but for cubic
  // taps at the border).
  std::array<int32_t, 2> coord{};
  for (int k = 0; k < 2; ++k) {
    const Axis& a = axes[static_cast<size_t>(k)];
    const int32_t g = b.temp({DType::F32, perPoint});
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&r.regions, 0, {k, {points * 2, 2}}, {0, {points, 1}}, {batch, points}));
    b.emit(r, {b.input(1)}, g);
    const double size = static_cast<double>(a.size);
    int32_t c = align ? e.mul(e.add(g, e.k(1)), e.k((size - 1) / 2))
                      : e.mul(e.sub(e.mul(e.add(g, e.k(1)), e.k(size)), e.k(1)), e.k(0.5));
    if (mode == "nearest") c = e.unary(UnaryKind::Round, c);
    coord[static_cast<size_t>(k)] = c;
  }
  // Taps per axis: their integer coordinates (f32) and weights.
  struct Taps {
    std::vector<int32_t> at, weight;
  };
  const auto tapsOf = [&](int32_t c) {
    Taps t;
    if (mode == "nearest") {
      t.at = {c};
      t.weight = {-1}; // no weighting
      return t;
    }
    const int32_t first = e.unary(UnaryKind::Floor, c);
    const int32_t s = e.sub(c, first); // in [0, 1)
    if (mode == "bilinear") {
      t.at = {first, e.add(first, e.k(1))};
      t.weight = {e.sub(e.k(1), s), s};
      return t;
    }
    constexpr double A = -0.75;
    // Keys' kernel for |d| in [1, 2) (outer taps) and [0, 1) (inner ones).
    const auto outer = [&](int32_t d) {
      const int32_t p = e.add(e.mul(e.sub(e.mul(e.k(A), d), e.k(5 * A)), d), e.k(8 * A));
      return e.sub(e.mul(p, d), e.k(4 * A));
    };
    const auto inner = [&](int32_t d) {
      const int32_t p = e.sub(e.mul(e.k(A + 2), d), e.k(A + 3));
      return e.add(e.mul(e.mul(p, d), d), e.k(1));
    };
    const int32_t rest = e.sub(e.k(1), s);
    t.at = {e.sub(first, e.k(1)), first, e.add(first, e.k(1)), e.add(first, e.k(2))};
    t.weight = {outer(e.add(s, e.k(1))), inner(s), inner(rest), outer(e.add(rest, e.k(1)))};
    return t;
  };
  const Taps tx = tapsOf(coord[0]), ty = tapsOf(coord[1]);
  std::vector<TapIndex> ix, iy;
  for (int32_t t : tx.at)
    ix.push_back(tapIndex(b, e, t, axes[0], pad));
  for (int32_t t : ty.at)
    iy.push_back(tapIndex(b, e, t, axes[1], pad));
  // The image as [N * C, H * W]; a tap's pixels through a gather of one index per output
  // element (the point's index repeated over the channels).
  const Shape values{batch, channels, points};
  const int32_t image = b.temp({DType::F32, {batch * channels, h * w}});
  b.view(b.input(0), image);
  const auto fetch = [&](const TapIndex& yi, const TapIndex& xi) -> Result<int32_t> {
    const int32_t flat =
        e.op(BinaryKind::Add, e.op(BinaryKind::Mul, yi.index, b.scalar(DType::I64, double(w))),
             xi.index);
    const int32_t spread = b.temp({DType::I64, {batch * channels, points}});
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, {0, {points, 0, 1}},
                                             {0, {channels * points, points, 1}},
                                             {batch, channels, points}));
    b.emit(r, {flat}, spread);
    GatherParams g{batch * channels, h * w, 1};
    g.elements = true;
    const int32_t picked = b.temp({DType::F32, {batch * channels, points}});
    b.emit(g, {image, spread}, picked);
    int32_t v = b.temp({DType::F32, values});
    b.view(picked, v);
    if (pad == Padding::Zeros) v = e.select(e.op(BinaryKind::And, yi.inside, xi.inside), v, e.k(0));
    return v;
  };
  // Sum over rows of taps of the row weight times the row's weighted sum.
  int32_t total = -1;
  for (size_t i = 0; i < iy.size(); ++i) {
    int32_t row = -1;
    for (size_t j = 0; j < ix.size(); ++j) {
      TESSEL_ASSIGN_OR_RETURN(int32_t v, fetch(iy[i], ix[j]));
      if (tx.weight[j] >= 0) v = e.mul(v, tx.weight[j]);
      row = row < 0 ? v : e.add(row, v);
    }
    if (ty.weight[i] >= 0) row = e.mul(row, ty.weight[i]);
    total = total < 0 ? row : e.add(total, row);
  }
  b.view(total, out);
  return Status::ok();
}

} // namespace tessel::decompose

namespace tessel::decompose {

// RoiAlign: per region of interest (its box and batch index known when the plan is made), a grid
// of output bins, each the average (or the max) of bilinear samples, as onnxruntime samples them:
// a sample outside [-1, size] reads zeros, one inside clamps to the image. The image's pixels are
// gathered as rows of channels at every sample's four corners (an index table), weighted by a
// table (divided by the sample count for averages) and reduced over the taps of each bin.
Status lowerRoiAlign(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1) || !n.hasInput(2))
    return n.error("expects X, rois and batch_indices");
  const TensorDesc x = b.desc(b.input(0));
  const TensorDesc rois = b.desc(b.input(1));
  const TensorDesc batchIdx = b.desc(b.input(2));
  if (x.dtype != DType::F32 || x.rank() != 4)
    return unsupported(n.label() + ": X must be f32 [N, C, H, W], got " + x.toString());
  if (rois.dtype != DType::F32 || rois.rank() != 2 || rois.shape[1] != 4 || batchIdx.rank() != 1 ||
      batchIdx.shape[0] != rois.shape[0])
    return n.error("rois " + rois.toString() + " and batch_indices " + batchIdx.toString() +
                   " must be f32 [R, 4] and [R]");
  TESSEL_ASSIGN_OR_RETURN(std::string mode, n.stringAttr("mode", "avg"));
  if (mode != "avg" && mode != "max") return n.error("mode must be avg or max");
  TESSEL_ASSIGN_OR_RETURN(int64_t outH, n.intAttr("output_height", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t outW, n.intAttr("output_width", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t ratio, n.intAttr("sampling_ratio", 0));
  TESSEL_ASSIGN_OR_RETURN(double scale, n.floatAttr("spatial_scale", 1.0));
  TESSEL_ASSIGN_OR_RETURN(std::string coords,
                          n.stringAttr("coordinate_transformation_mode",
                                       n.opset >= 16 ? "half_pixel" : "output_half_pixel"));
  if (coords != "half_pixel" && coords != "output_half_pixel")
    return n.error("coordinate_transformation_mode must be half_pixel or output_half_pixel");
  constexpr int64_t kMaxGrid = 1 << 10;
  if (outH < 1 || outW < 1 || outH > kMaxGrid || outW > kMaxGrid || ratio < 0 || ratio > 64)
    return n.error("output size must be in [1, 1024] and sampling_ratio in [0, 64]");
  auto boxes = n.constFloats(1, "rois");
  auto batches = n.constInts(2, "batch_indices");
  if (!boxes.isOk()) return boxes.status();
  if (!batches.isOk()) return batches.status();
  const int64_t r = rois.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t bins = outH * outW;
  const double offset = coords == "half_pixel" ? 0.5 : 0.0;
  // Per ROI its sample grid; taps per bin = 4 corners x the largest grid (others pad with zero
  // weights), so the tables are rectangular.
  struct Roi {
    double y0, x0, binH, binW;
    int64_t gridH, gridW;
  };
  std::vector<Roi> regions;
  int64_t taps = 4;
  for (int64_t i = 0; i < r; ++i) {
    const double* box = boxes->data() + 4 * i;
    const int64_t batch = (*batches)[static_cast<size_t>(i)];
    if (batch < 0 || batch >= x.shape[0])
      return n.error("batch index " + std::to_string(batch) + " of roi " + std::to_string(i) +
                     " is outside [0, " + std::to_string(x.shape[0]) + ")");
    for (int k = 0; k < 4; ++k)
      if (!std::isfinite(box[k]) || std::abs(box[k] * scale) > double(int64_t{1} << 40))
        return n.error("roi " + std::to_string(i) + " is not finite or out of range");
    Roi roi{box[1] * scale - offset, box[0] * scale - offset, 0, 0, 0, 0};
    double roiH = box[3] * scale - offset - roi.y0, roiW = box[2] * scale - offset - roi.x0;
    if (offset == 0) roiH = std::max(roiH, 1.0), roiW = std::max(roiW, 1.0);
    roi.binH = roiH / double(outH);
    roi.binW = roiW / double(outW);
    roi.gridH = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(roiH / double(outH)));
    roi.gridW = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(roiW / double(outW)));
    roi.gridH = std::clamp<int64_t>(roi.gridH, 0, 64);
    roi.gridW = std::clamp<int64_t>(roi.gridW, 0, 64);
    taps = std::max(taps, 4 * roi.gridH * roi.gridW);
    regions.push_back(roi);
  }
  const int64_t rows = r * bins;
  constexpr int64_t kMaxGathered = int64_t{1} << 26;
  if (rows * taps > kMaxGathered / std::max<int64_t>(c, 1))
    return n.error(std::to_string(r) + " regions of " + std::to_string(bins) + " bins x " +
                   std::to_string(taps) + " taps x " + std::to_string(c) +
                   " channels gather more than 2^26 elements");
  const bool avg = mode == "avg";
  std::vector<int64_t> index(static_cast<size_t>(rows * taps), 0);
  std::vector<float> weight(static_cast<size_t>(rows * taps), 0.f);
  for (int64_t i = 0; i < r; ++i) {
    const Roi& roi = regions[static_cast<size_t>(i)];
    const int64_t base = (*batches)[static_cast<size_t>(i)] * h * w;
    const double count = double(std::max<int64_t>(roi.gridH * roi.gridW, 1));
    for (int64_t ph = 0; ph < outH; ++ph)
      for (int64_t pw = 0; pw < outW; ++pw) {
        const size_t row = static_cast<size_t>(((i * outH + ph) * outW + pw) * taps);
        size_t t = 0;
        for (int64_t iy = 0; iy < roi.gridH; ++iy)
          for (int64_t ix = 0; ix < roi.gridW; ++ix, t += 4) {
            double y =
                roi.y0 + double(ph) * roi.binH + (double(iy) + 0.5) * roi.binH / double(roi.gridH);
            double xx =
                roi.x0 + double(pw) * roi.binW + (double(ix) + 0.5) * roi.binW / double(roi.gridW);
            float wts[4] = {0, 0, 0, 0};
            int64_t pos[4] = {0, 0, 0, 0};
            if (!(y < -1.0 || y > double(h) || xx < -1.0 || xx > double(w))) {
              y = std::max(y, 0.0);
              xx = std::max(xx, 0.0);
              auto yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(xx);
              int64_t yh = yl + 1, xh = xl + 1;
              if (yl >= h - 1) yh = yl = h - 1, y = double(yl);
              if (xl >= w - 1) xh = xl = w - 1, xx = double(xl);
              const double ly = y - double(yl), lx = xx - double(xl);
              const double hy = 1 - ly, hx = 1 - lx;
              const double ws[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
              const int64_t ps[4] = {yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh};
              for (int k = 0; k < 4; ++k) {
                wts[k] = static_cast<float>(avg ? ws[k] / count : ws[k]);
                pos[k] = ps[k];
              }
            }
            for (int k = 0; k < 4; ++k) {
              index[row + t + static_cast<size_t>(k)] = base + pos[k];
              weight[row + t + static_cast<size_t>(k)] = wts[k];
            }
          }
        // Taps past this ROI's grid: zero weight for sums; for max, a copy of the first tap.
        for (; t < static_cast<size_t>(taps); ++t) {
          index[row + t] = index[row];
          weight[row + t] = avg ? 0.f : weight[row];
        }
      }
  }
  // Channels last: X [N, C, H*W] -> [N * H * W, C] rows, gathered at every tap.
  const int32_t rowsOfC = b.temp({DType::F32, {x.shape[0] * h * w, c}});
  RasterParams t;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&t.regions, 0, {0, {c * h * w, 1, h * w}},
                                           {0, {h * w * c, c, 1}}, {x.shape[0], h * w, c}));
  b.emit(t, {b.input(0)}, rowsOfC);
  const int32_t idx = b.constant({DType::I64, {rows, taps}}, index.data());
  const int32_t gathered = b.temp({DType::F32, {rows, taps, c}});
  b.emit(GatherParams{1, x.shape[0] * h * w, c}, {rowsOfC, idx}, gathered);
  const int32_t wt = b.constant({DType::F32, {rows, taps, 1}}, weight.data());
  const int32_t weighted = b.binaryTemp(BinaryKind::Mul, gathered, wt);
  const int32_t reduced = b.temp({DType::F32, {r, bins, c}});
  ReduceParams red;
  red.kind = avg ? ReduceKind::Sum : ReduceKind::Max;
  red.outer = rows;
  red.extent = taps;
  red.inner = c;
  b.emit(red, {weighted}, reduced);
  // [R, bins, C] -> [R, C, outH, outW].
  RasterParams back;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&back.regions, 0, {0, {bins * c, 1, c}},
                                           {0, {c * bins, bins, 1}}, {r, c, bins}));
  b.emit(back, {reduced}, b.setOutput(0, {DType::F32, {r, c, outH, outW}}));
  return Status::ok();
}

} // namespace tessel::decompose
