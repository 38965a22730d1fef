// GridSample: sampling an image at positions a grid gives, as elementwise steps on the grid's
// coordinates, gathers of the taps they name, and weighted sums: no sampling primitive.
#include "builder.h"

#include <array>

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
