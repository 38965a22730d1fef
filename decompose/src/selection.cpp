// Operators whose output sizes the values decide: NonZero, Compress, Unique, NonMaxSuppression.
// Each reads the values that decide (the mask, the condition, the data, the boxes and scores)
// when the plan is made: from constants, from inputs a plan is keyed on, or, computed from the
// run's data, once the nodes before have run (the graph is planned in stages there,
// docs/dynamic-shapes.md). What the values select is then written as index tables; data moves
// through gathers, so any element type passes unchanged.
#include "builder.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tessel::decompose {
namespace {

// Element i of a tensor of type t at p, as a double (for nonzero tests and ordering).
double elementAt(DType t, const void* p, int64_t i) {
  return loadAsDouble(t, static_cast<const uint8_t*>(p) + i * static_cast<int64_t>(dtypeSize(t)));
}

std::vector<double> asDoubles(const std::vector<int64_t>& v) {
  return {v.begin(), v.end()};
}

// x viewed as [outer, dim, inner] around the node's `axis` attribute, or, without one, as the
// flattened [1, numel, 1] (axis -1).
struct AxisView {
  int64_t outer = 1, dim = 0, inner = 1, axis = -1;
};
Result<AxisView> viewAroundAxis(const Node& n, const TensorDesc& x) {
  AxisView v;
  v.dim = x.numel();
  if (!n.hasAttr("axis")) return v;
  TESSEL_ASSIGN_OR_RETURN(int64_t a, n.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(v.axis, normalizeAxis(n, a, x.rank()));
  v.outer = product(x.shape, 0, static_cast<size_t>(v.axis));
  v.dim = x.shape[static_cast<size_t>(v.axis)];
  v.inner = product(x.shape, static_cast<size_t>(v.axis) + 1, x.shape.size());
  return v;
}

} // namespace

// NonZero: the coordinates of the elements that are not zero, [rank, count] in row-major order.
Status lowerNonZero(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("expects an input");
  const TensorDesc x = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(const void* data, n.constData(0, "X"));
  const int64_t rank = x.rank(), total = x.numel();
  std::vector<int64_t> hits;
  for (int64_t i = 0; i < total; ++i)
    if (elementAt(x.dtype, data, i) != 0) hits.push_back(i);
  const auto count = static_cast<int64_t>(hits.size());
  std::vector<double> coords(static_cast<size_t>(rank * count));
  for (int64_t k = 0; k < count; ++k) {
    int64_t rest = hits[static_cast<size_t>(k)];
    for (int64_t d = rank - 1; d >= 0; --d) {
      coords[static_cast<size_t>(d * count + k)] = static_cast<double>(rest % x.shape[d]);
      rest /= x.shape[d];
    }
  }
  writeTable(b, DType::I64, {rank, count}, coords);
  return Status::ok();
}

// Compress: the slices along `axis` (of the flattened input without one) whose condition entry is
// true; a condition shorter than the axis leaves the rest out.
Status lowerCompress(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects input and condition");
  const TensorDesc x = b.desc(b.input(0));
  const TensorDesc cond = b.desc(b.input(1));
  if (cond.dtype != DType::Bool || cond.rank() != 1)
    return n.error("condition must be a 1-D bool tensor, got " + cond.toString());
  TESSEL_ASSIGN_OR_RETURN(const void* mask, n.constData(1, "condition"));
  TESSEL_ASSIGN_OR_RETURN(const AxisView v, viewAroundAxis(n, x));
  const int64_t outer = v.outer, dim = v.dim, inner = v.inner, axis = v.axis;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!static_cast<const bool*>(mask)[i]) continue;
    if (i >= dim)
      return n.error("condition selects entry " + std::to_string(i) + " of an axis of " +
                     std::to_string(dim));
    keep.push_back(i);
  }
  Shape outShape{static_cast<int64_t>(keep.size())};
  if (axis >= 0) {
    outShape = x.shape;
    outShape[axis] = static_cast<int64_t>(keep.size());
  }
  gatherKnown(b, b.input(0), keep, outer, dim, inner, b.setOutput(0, {x.dtype, outShape}));
  return Status::ok();
}

// Unique: the distinct elements (or slices along `axis`), sorted ascending or in order of first
// appearance; with each one's first index, every item's position among them, and their counts.
Status lowerUnique(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("expects an input");
  const TensorDesc x = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(int64_t sorted, n.intAttr("sorted", 1));
  TESSEL_ASSIGN_OR_RETURN(const void* data, n.constData(0, "X"));
  TESSEL_ASSIGN_OR_RETURN(const AxisView v, viewAroundAxis(n, x));
  const int64_t outer = v.outer, dim = v.dim, inner = v.inner, axis = v.axis;
  // Item i: the slice of `outer * inner` elements at position i of the axis, compared
  // lexicographically in (outer, inner) order.
  auto compare = [&](int64_t i, int64_t j) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < inner; ++k) {
        const double a = elementAt(x.dtype, data, (o * dim + i) * inner + k);
        const double c = elementAt(x.dtype, data, (o * dim + j) * inner + k);
        if (a != c) return a < c ? -1 : 1;
      }
    return 0;
  };
  std::vector<int64_t> order(static_cast<size_t>(dim));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t i, int64_t j) { return compare(i, j) < 0; });
  // Groups of equal items in sorted order; each group's first index is its smallest position.
  std::vector<int64_t> first, counts, inverse(static_cast<size_t>(dim));
  std::vector<int64_t> groupOf(static_cast<size_t>(dim));
  for (size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || compare(order[k - 1], order[k]) != 0) {
      first.push_back(order[k]);
      counts.push_back(0);
    }
    groupOf[static_cast<size_t>(order[k])] = static_cast<int64_t>(first.size()) - 1;
    ++counts.back();
  }
  std::vector<size_t> rank(first.size()); // output position of each group
  std::iota(rank.begin(), rank.end(), 0);
  if (!sorted) {
    std::vector<size_t> byAppearance(first.size());
    std::iota(byAppearance.begin(), byAppearance.end(), 0);
    std::sort(byAppearance.begin(), byAppearance.end(),
              [&](size_t p, size_t q) { return first[p] < first[q]; });
    for (size_t k = 0; k < byAppearance.size(); ++k)
      rank[byAppearance[k]] = k;
  }
  const auto unique = static_cast<int64_t>(first.size());
  std::vector<int64_t> outFirst(first.size()), outCounts(first.size());
  for (size_t g = 0; g < first.size(); ++g) {
    outFirst[rank[g]] = first[g];
    outCounts[rank[g]] = counts[g];
  }
  for (int64_t i = 0; i < dim; ++i)
    inverse[static_cast<size_t>(i)] =
        static_cast<int64_t>(rank[static_cast<size_t>(groupOf[static_cast<size_t>(i)])]);
  Shape yShape{unique};
  if (axis >= 0) {
    yShape = x.shape;
    yShape[axis] = unique;
  }
  gatherKnown(b, b.input(0), outFirst, outer, dim, inner, b.setOutput(0, {x.dtype, yShape}));
  if (n.numOutputs > 1) writeTable(b, DType::I64, {unique}, asDoubles(outFirst), 1);
  if (n.numOutputs > 2) writeTable(b, DType::I64, {dim}, asDoubles(inverse), 2);
  if (n.numOutputs > 3) writeTable(b, DType::I64, {unique}, asDoubles(outCounts), 3);
  return Status::ok();
}

// NonMaxSuppression: per batch and class, boxes by descending score (ties by index) above the
// score threshold, each kept unless its IoU with a kept box exceeds the IoU threshold, at most
// max_output_boxes_per_class of them: rows (batch, class, box).
Status lowerNonMaxSuppression(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects boxes and scores");
  const TensorDesc boxes = b.desc(b.input(0));
  const TensorDesc scores = b.desc(b.input(1));
  if (boxes.dtype != DType::F32 || scores.dtype != DType::F32)
    return n.error("boxes and scores must be f32");
  if (boxes.rank() != 3 || boxes.shape[2] != 4 || scores.rank() != 3 ||
      scores.shape[0] != boxes.shape[0] || scores.shape[2] != boxes.shape[1])
    return n.error("boxes " + boxes.toString() + " and scores " + scores.toString() +
                   " must be [B, N, 4] and [B, C, N]");
  TESSEL_ASSIGN_OR_RETURN(int64_t centerBox, n.intAttr("center_point_box", 0));
  if (centerBox != 0 && centerBox != 1) return n.error("center_point_box must be 0 or 1");
  // Every value first, so a plan made in stages waits for all of them at once.
  auto boxData = n.constData(0, "boxes");
  auto scoreData = n.constData(1, "scores");
  int64_t maxOut = 0;
  double iouThreshold = 0, scoreThreshold = -INFINITY;
  Status optional = Status::ok();
  if (n.hasInput(2)) {
    auto v = n.constInts(2, "max_output_boxes_per_class");
    if (v.isOk() && v->size() > 1) return n.error("max_output_boxes_per_class must be one value");
    if (v.isOk() && !v->empty()) maxOut = (*v)[0];
    if (!v.isOk()) optional = v.status();
  }
  for (size_t i : {size_t{3}, size_t{4}}) {
    if (!n.hasInput(i)) continue;
    auto v = n.constFloats(i, i == 3 ? "iou_threshold" : "score_threshold");
    if (v.isOk() && v->size() > 1) return n.error("thresholds must be one value");
    if (v.isOk() && !v->empty()) (i == 3 ? iouThreshold : scoreThreshold) = (*v)[0];
    if (!v.isOk()) optional = v.status();
  }
  if (!boxData.isOk()) return boxData.status();
  if (!scoreData.isOk()) return scoreData.status();
  TESSEL_RETURN_IF_ERROR(optional);
  const auto* bx = static_cast<const float*>(*boxData);
  const auto* sc = static_cast<const float*>(*scoreData);
  const int64_t batches = boxes.shape[0], count = boxes.shape[1], classes = scores.shape[1];
  // Corners (y1, x1, y2, x2) ordered low to high, and the area.
  auto corners = [&](int64_t batch, int64_t i, float c[4]) {
    const float* p = bx + (batch * count + i) * 4;
    if (centerBox) {
      c[0] = p[1] - p[3] / 2, c[1] = p[0] - p[2] / 2, c[2] = p[1] + p[3] / 2,
      c[3] = p[0] + p[2] / 2;
    } else {
      c[0] = std::min(p[0], p[2]), c[1] = std::min(p[1], p[3]), c[2] = std::max(p[0], p[2]),
      c[3] = std::max(p[1], p[3]);
    }
  };
  auto suppresses = [&](int64_t batch, int64_t i, int64_t j) {
    float a[4], c[4];
    corners(batch, i, a);
    corners(batch, j, c);
    const float areaA = (a[2] - a[0]) * (a[3] - a[1]), areaC = (c[2] - c[0]) * (c[3] - c[1]);
    if (areaA <= 0 || areaC <= 0) return false;
    const float h = std::max(0.f, std::min(a[2], c[2]) - std::max(a[0], c[0]));
    const float w = std::max(0.f, std::min(a[3], c[3]) - std::max(a[1], c[1]));
    const float inter = h * w;
    return inter / (areaA + areaC - inter) > static_cast<float>(iouThreshold);
  };
  std::vector<double> rows;
  for (int64_t batch = 0; batch < batches && maxOut > 0; ++batch)
    for (int64_t cls = 0; cls < classes; ++cls) {
      const float* s = sc + (batch * classes + cls) * count;
      std::vector<int64_t> order;
      for (int64_t i = 0; i < count; ++i)
        if (s[i] > scoreThreshold) order.push_back(i);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t i, int64_t j) { return s[i] > s[j]; });
      std::vector<int64_t> kept;
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= maxOut) break;
        if (std::none_of(kept.begin(), kept.end(),
                         [&](int64_t k) { return suppresses(batch, k, i); }))
          kept.push_back(i);
      }
      for (int64_t i : kept)
        rows.insert(rows.end(), {double(batch), double(cls), double(i)});
    }
  writeTable(b, DType::I64, {static_cast<int64_t>(rows.size() / 3), 3}, rows);
  return Status::ok();
}

} // namespace tessel::decompose
