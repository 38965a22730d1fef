// Rules for operators that only move memory: views, transposes, slices, concatenation, gathers
// with constant indices, padding, broadcasting and nearest resizing. All become rasters or views.
#include "builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tessel::decompose {
namespace {

constexpr int64_t kMaxPad = int64_t{1} << 32;

// Axes from the input `index` (newer opsets) or the attribute `axes`.
Result<std::vector<int64_t>> axesArg(const Node& n, size_t index) {
  if (n.hasInput(index)) return n.constInts(index, "axes");
  return n.intsAttr("axes", {});
}

Result<Shape> reshapeTarget(const Node& n, const Shape& in) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> target, n.constInts(1, "shape"));
  TESSEL_ASSIGN_OR_RETURN(int64_t allowZero, n.intAttr("allowzero", 0));
  Shape out(target.size());
  int64_t known = 1, inferAt = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0 && !allowZero) {
      if (i >= in.size())
        return n.error("shape copies dim " + std::to_string(i) + " that the input lacks");
      d = in[i];
    }
    if (d == -1) {
      if (inferAt >= 0) return n.error("shape has more than one -1");
      inferAt = static_cast<int64_t>(i);
      continue;
    }
    if (d < 0) return n.error("shape has a negative dim");
    out[i] = d;
    if (__builtin_mul_overflow(known, d, &known)) return n.error("shape overflows");
  }
  const int64_t total = product(in, 0, in.size());
  if (inferAt >= 0) {
    if (known == 0 || total % known != 0)
      return n.error("cannot infer the -1 dim of " + shapeToString(target));
    out[inferAt] = total / known;
  } else if (known != total) {
    return n.error("cannot reshape " + shapeToString(in) + " to " + shapeToString(out));
  }
  return out;
}

Result<Shape> viewShape(const Node& n, const Shape& in) {
  const int64_t rank = static_cast<int64_t>(in.size());
  if (n.opType == "Reshape") return reshapeTarget(n, in);
  if (n.opType == "Flatten") {
    TESSEL_ASSIGN_OR_RETURN(int64_t axis, n.intAttr("axis", 1));
    if (axis < -rank || axis > rank) return n.error("axis out of range");
    if (axis < 0) axis += rank;
    return Shape{product(in, 0, axis), product(in, axis, in.size())};
  }
  if (n.opType == "Squeeze") {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes, axesArg(n, 1));
    std::vector<bool> drop(in.size(), axes.empty());
    if (axes.empty())
      for (size_t i = 0; i < in.size(); ++i)
        drop[i] = in[i] == 1;
    for (int64_t a : axes) {
      TESSEL_ASSIGN_OR_RETURN(int64_t ax, normalizeAxis(n, a, rank));
      if (in[ax] != 1)
        return n.error("cannot squeeze dim " + std::to_string(ax) + " of size " +
                       std::to_string(in[ax]));
      drop[ax] = true;
    }
    Shape out;
    for (size_t i = 0; i < in.size(); ++i)
      if (!drop[i]) out.push_back(in[i]);
    return out;
  }
  if (n.opType == "Unsqueeze") {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes, axesArg(n, 1));
    const int64_t outRank = rank + static_cast<int64_t>(axes.size());
    std::vector<bool> inserted(outRank, false);
    for (int64_t a : axes) {
      TESSEL_ASSIGN_OR_RETURN(int64_t ax, normalizeAxis(n, a, outRank));
      if (inserted[ax]) return n.error("repeated axis");
      inserted[ax] = true;
    }
    Shape out;
    size_t next = 0;
    for (int64_t i = 0; i < outRank; ++i)
      out.push_back(inserted[i] ? 1 : in[next++]);
    return out;
  }
  if (n.numOutputs != 1 && !(n.opType == "Dropout" && n.numOutputs == 2))
    return unsupported(n.label() + ": extra outputs");
  if (n.opType == "Dropout" && n.hasInput(2)) {
    // training_mode: Dropout is the identity when it is false, or when it is true with a ratio
    // of 0 (nothing dropped, nothing scaled: 1 / (1 - 0)); other training drops at random.
    TESSEL_ASSIGN_OR_RETURN(std::vector<double> training, n.constFloats(2, "training_mode"));
    if (training.size() != 1) return n.error("training_mode must hold one value");
    double ratio = 0.5;
    if (training[0] != 0.0 && n.hasInput(1)) {
      TESSEL_ASSIGN_OR_RETURN(std::vector<double> r, n.constFloats(1, "ratio"));
      if (r.size() != 1) return n.error("ratio must hold one value");
      ratio = r[0];
    }
    if (training[0] != 0.0 && ratio != 0.0)
      return unsupported(n.label() + ": training mode with a ratio above 0 (random)");
  }
  return in; // Identity, Dropout at inference
}

// Copies all of tensor `src` into `dst` at element offset `dstOffset` with `dstStrides`.
Status copyInto(RasterParams* r, int32_t source, const Shape& srcShape, int64_t dstOffset,
                const Shape& dstStrides) {
  return appendStridedCopy(&r->regions, source, {0, denseStrides(srcShape)},
                           {dstOffset, dstStrides}, srcShape);
}

// Output `output` = input 0 read through `src` over the index space `iter`, written densely and
// shaped `outShape` (the same element count): transposes, slices, splits, broadcasts.
Status readStrided(LoweringBuilder& b, const StridedView& src, const Shape& iter, DType dtype,
                   const Shape& outShape, size_t output = 0) {
  RasterParams r;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, src, {0, denseStrides(iter)}, iter));
  b.emit(r, {b.input(0)}, b.setOutput(output, {dtype, outShape}));
  return Status::ok();
}

// One step of an axis-by-axis rule: the tensor viewed as [before, extent, after] around `axis`
// becomes [before, outShape[axis], after], read from `in`, written to `out`.
struct AxisStep {
  int64_t axis, before, extent, after;
  int32_t in, out;
};

// Lowers a node axis by axis (Tile, Pad's edge and reflect modes, Resize's gathers): each axis of
// `axes` in turn takes its extent in `outShape` through `step(const AxisStep&)`, which emits the
// primitive; the first step reads input 0, the last writes `out`, temporaries lie between. No
// axis at all is one copy.
template <typename F>
Status chainAxes(LoweringBuilder& b, const TensorDesc& x, const std::vector<int64_t>& axes,
                 const Shape& outShape, int32_t out, F&& step) {
  if (axes.empty()) {
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(copyInto(&r, 0, x.shape, 0, denseStrides(x.shape)));
    b.emit(r, {b.input(0)}, out);
    return Status::ok();
  }
  int32_t cur = b.input(0);
  Shape shape = x.shape;
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t a = axes[k];
    AxisStep s{a, product(shape, 0, a), shape[a], product(shape, a + 1, shape.size()), cur, 0};
    shape[a] = outShape[a];
    s.out = k + 1 == axes.size() ? out : b.temp({x.dtype, shape});
    TESSEL_RETURN_IF_ERROR(step(s));
    cur = s.out;
  }
  return Status::ok();
}

// A nearest resize's coordinate transformation and rounding, read from the attributes once (the
// source index is asked for every output coordinate).
struct NearestRule {
  enum class Coord { HalfPixel, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNn };
  enum class Round { PreferFloor, PreferCeil, Floor, Ceil };
  Coord coord;
  Round round;
};

Result<NearestRule> nearestRule(const Node& n, const std::string& coord, const std::string& round) {
  using C = NearestRule::Coord;
  using R = NearestRule::Round;
  NearestRule rule{};
  if (coord == "half_pixel")
    rule.coord = C::HalfPixel;
  else if (coord == "pytorch_half_pixel")
    rule.coord = C::PytorchHalfPixel;
  else if (coord == "align_corners")
    rule.coord = C::AlignCorners;
  else if (coord == "asymmetric")
    rule.coord = C::Asymmetric;
  else if (coord == "tf_half_pixel_for_nn")
    rule.coord = C::TfHalfPixelForNn;
  else
    return unsupported(n.label() + ": coordinate_transformation_mode " + coord);
  if (round == "round_prefer_floor")
    rule.round = R::PreferFloor;
  else if (round == "round_prefer_ceil")
    rule.round = R::PreferCeil;
  else if (round == "floor")
    rule.round = R::Floor;
  else if (round == "ceil")
    rule.round = R::Ceil;
  else
    return unsupported(n.label() + ": nearest_mode " + round);
  return rule;
}

// Source index for output coordinate y of a nearest resize, per ONNX's coordinate modes.
int64_t nearestSource(const NearestRule& rule, int64_t y, int64_t in, int64_t out, double scale) {
  using C = NearestRule::Coord;
  using R = NearestRule::Round;
  double x = 0;
  switch (rule.coord) {
  case C::HalfPixel: x = (y + 0.5) / scale - 0.5; break;
  case C::PytorchHalfPixel: x = out > 1 ? (y + 0.5) / scale - 0.5 : 0; break;
  case C::AlignCorners: // ONNX's resized length: in * scale, unrounded
    x = out > 1 ? y * double(in - 1) / (in * scale - 1) : 0;
    break;
  case C::Asymmetric: x = y / scale; break;
  case C::TfHalfPixelForNn: x = (y + 0.5) / scale; break;
  }
  double r = 0;
  switch (rule.round) {
  case R::PreferFloor: r = (x - std::floor(x) == 0.5) ? std::floor(x) : std::round(x); break;
  case R::PreferCeil: r = std::round(x); break;
  case R::Floor: r = std::floor(x); break;
  case R::Ceil: r = std::ceil(x); break;
  }
  return static_cast<int64_t>(std::clamp<double>(r, 0.0, static_cast<double>(in - 1)));
}

// Index tensor `index` (i64) with its negative values moved up by `extent` (counting from the
// end, as ONNX's index operands do): a comparison, an add and a select.
int32_t fromEnd(LoweringBuilder& b, int32_t index, int64_t extent) {
  const Shape shape = b.shape(index);
  const int32_t negative = b.temp({DType::Bool, shape});
  b.binary(BinaryKind::Less, index, b.scalar(DType::I64, 0), negative);
  const int32_t raised = b.binaryTemp(BinaryKind::Add, index, b.scalar(DType::I64, double(extent)));
  const int32_t normalized = b.temp({DType::I64, shape});
  b.select(negative, raised, index, normalized);
  return normalized;
}

// Whether each element of index tensor `index` (i64) lies in [0, extent): a bool temp.
int32_t withinExtent(LoweringBuilder& b, int32_t index, int64_t extent) {
  const TensorDesc flags{DType::Bool, b.shape(index)};
  const int32_t low = b.temp(flags), high = b.temp(flags), both = b.temp(flags);
  b.binary(BinaryKind::GreaterOrEqual, index, b.scalar(DType::I64, 0), low);
  b.binary(BinaryKind::Less, index, b.scalar(DType::I64, double(extent)), high);
  b.binary(BinaryKind::And, low, high, both);
  return both;
}

// The conjunction of bool masks `all` (-1: none yet) and `mask`, broadcast.
int32_t conjoin(LoweringBuilder& b, int32_t all, int32_t mask) {
  if (all < 0) return mask;
  const int32_t both = b.temp({DType::Bool, broadcastShapes(b.shape(all), b.shape(mask)).value()});
  b.binary(BinaryKind::And, all, mask, both);
  return both;
}

} // namespace

Status lowerView(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  TESSEL_ASSIGN_OR_RETURN(Shape shape, viewShape(n, b.shape(b.input(0))));
  b.view(b.input(0), b.setOutput(0, {b.desc(b.input(0)).dtype, shape}));
  if (n.numOutputs == 2) { // Dropout's mask at inference: every element kept (all true)
    RasterParams r;
    r.fill = 1.0;
    b.emit(r, {b.input(0)}, b.setOutput(1, {DType::Bool, shape}));
  }
  return Status::ok();
}

Status lowerTranspose(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  std::vector<int64_t> dflt(x.rank());
  for (int64_t i = 0; i < x.rank(); ++i)
    dflt[i] = x.rank() - 1 - i;
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> perm, n.intsAttr("perm", dflt));
  if (static_cast<int64_t>(perm.size()) != x.rank())
    return n.error("perm length differs from rank");
  std::vector<bool> seen(perm.size(), false);
  const Shape inStrides = denseStrides(x.shape);
  Shape outShape, srcStrides;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[p]) return n.error("perm is not a permutation");
    seen[p] = true;
    outShape.push_back(x.shape[p]);
    srcStrides.push_back(inStrides[p]);
  }
  TESSEL_RETURN_IF_ERROR(readStrided(b, {0, srcStrides}, outShape, x.dtype, outShape));
  return Status::ok();
}

Status lowerSlice(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  std::vector<int64_t> starts, ends, axes, steps;
  if (n.opset < 10) {
    TESSEL_ASSIGN_OR_RETURN(starts, n.intsAttr("starts", {}));
    TESSEL_ASSIGN_OR_RETURN(ends, n.intsAttr("ends", {}));
    TESSEL_ASSIGN_OR_RETURN(axes, n.intsAttr("axes", {}));
  } else {
    TESSEL_ASSIGN_OR_RETURN(starts, n.constInts(1, "starts"));
    TESSEL_ASSIGN_OR_RETURN(ends, n.constInts(2, "ends"));
    if (n.hasInput(3)) {
      TESSEL_ASSIGN_OR_RETURN(axes, n.constInts(3, "axes"));
    }
    if (n.hasInput(4)) {
      TESSEL_ASSIGN_OR_RETURN(steps, n.constInts(4, "steps"));
    }
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return n.error("starts, ends, axes and steps differ in length");
  const Shape inStrides = denseStrides(x.shape);
  Shape outShape = x.shape, srcStrides = inStrides;
  int64_t offset = 0;
  for (size_t i = 0; i < starts.size(); ++i) {
    TESSEL_ASSIGN_OR_RETURN(int64_t ax, normalizeAxis(n, axes[i], x.rank()));
    const int64_t dim = x.shape[ax], step = steps[i];
    if (step == 0 || step == INT64_MIN) return n.error("step is zero or out of range");
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s = s < -dim ? 0 - (step < 0) : s + dim;
    if (e < 0) e = e < -dim ? -1 : e + dim;
    int64_t len = 0;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      len = e > s ? (e - s - 1) / step + 1 : 0;
    } else {
      s = std::clamp<int64_t>(s, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      len = s > e ? (s - e - 1) / -step + 1 : 0;
    }
    outShape[ax] = len;
    if (len > 0) offset += s * inStrides[ax];
    // With two or more elements |step| < dim, so the stride stays inside the tensor's span; a
    // step past the dim (2^62) must not be multiplied when it picks one element or none.
    srcStrides[ax] = len > 1 ? inStrides[ax] * step : 0;
  }
  TESSEL_RETURN_IF_ERROR(readStrided(b, {offset, srcStrides}, outShape, x.dtype, outShape));
  return Status::ok();
}

Status lowerConcat(LoweringBuilder& b) {
  const Node& n = b.node();
  if (n.inputs.empty() || !n.hasInput(0)) return n.error("expects at least one input");
  const TensorDesc& first = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, first.rank()));
  Shape outShape = first.shape;
  outShape[axis] = 0;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!n.hasInput(i)) return n.error("missing input " + std::to_string(i));
    const TensorDesc& d = b.desc(b.input(i));
    if (d.dtype != first.dtype || d.rank() != first.rank())
      return n.error("inputs differ in type or rank");
    for (int64_t k = 0; k < d.rank(); ++k)
      if (k != axis && d.shape[k] != first.shape[k])
        return n.error("input " + std::to_string(i) + " shape " + shapeToString(d.shape) +
                       " does not match " + shapeToString(first.shape));
    outShape[axis] += d.shape[axis];
  }
  const Shape outStrides = denseStrides(outShape);
  RasterParams r;
  int64_t at = 0;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    TESSEL_RETURN_IF_ERROR(copyInto(&r, static_cast<int32_t>(i), b.shape(b.input(i)),
                                    at * outStrides[axis], outStrides));
    at += b.shape(b.input(i))[axis];
  }
  std::vector<int32_t> ins;
  for (size_t i = 0; i < n.inputs.size(); ++i)
    ins.push_back(b.input(i));
  b.emit(r, ins, b.setOutput(0, {first.dtype, outShape}));
  return Status::ok();
}

Status lowerSplit(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  std::vector<int64_t> parts;
  if (n.hasInput(1)) {
    TESSEL_ASSIGN_OR_RETURN(parts, n.constInts(1, "split"));
  } else {
    TESSEL_ASSIGN_OR_RETURN(parts, n.intsAttr("split", {}));
  }
  const int64_t dim = x.shape[axis];
  if (parts.empty()) {
    const int64_t k = n.numOutputs;
    const int64_t each = (dim + k - 1) / k;
    for (int64_t i = 0; i < k; ++i)
      parts.push_back(std::max<int64_t>(0, std::min(each, dim - i * each)));
  }
  int64_t total = 0;
  for (int64_t p : parts) {
    if (p < 0 || p > dim) return n.error("split size " + std::to_string(p) + " out of range");
    total += p;
  }
  if (static_cast<int>(parts.size()) != n.numOutputs || total != dim)
    return n.error("split sizes do not add up to dim " + std::to_string(dim));
  const Shape inStrides = denseStrides(x.shape);
  int64_t at = 0;
  for (int i = 0; i < n.numOutputs; ++i) {
    Shape outShape = x.shape;
    outShape[axis] = parts[i];
    TESSEL_RETURN_IF_ERROR(
        readStrided(b, {at * inStrides[axis], inStrides}, outShape, x.dtype, outShape, i));
    at += parts[i];
  }
  return Status::ok();
}

// Constant indices that fall into a few arithmetic runs (a slice, a reversal, a handful of
// rows) become one raster region per run, which later passes can fuse; longer lists and
// indices known only at run time become a gather primitive reading the index tensor.
Status lowerGather(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects data and indices");
  const TensorDesc& x = b.desc(b.input(0));
  const TensorDesc idxDesc = b.desc(b.input(1));
  if (idxDesc.dtype != DType::I64 && idxDesc.dtype != DType::I32)
    return n.error("indices are " + std::string(dtypeName(idxDesc.dtype)) +
                   " (i32 or i64 expected)");
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  Shape outShape(x.shape.begin(), x.shape.begin() + axis);
  outShape.insert(outShape.end(), idxDesc.shape.begin(), idxDesc.shape.end());
  outShape.insert(outShape.end(), x.shape.begin() + axis + 1, x.shape.end());
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  const int64_t outer = product(x.shape, 0, axis),
                inner = product(x.shape, axis + 1, x.shape.size());
  const int64_t dim = x.shape[axis];
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  if (n.inputs[1].constant) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> idx, n.constInts(1, "indices"));
    for (int64_t& i : idx) {
      auto row = gatherRow(i, dim);
      if (!row.isOk()) return n.error(row.status().message() + " on axis " + std::to_string(axis));
      i = *row;
    }
    gatherKnown(b, b.input(0), idx, outer, dim, inner, out);
    return Status::ok();
  }
  b.emit(GatherParams{outer, dim, inner}, {b.input(0), b.input(1)}, out);
  return Status::ok();
}

// GatherElements: one gather in `elements` form over the data viewed as [outer, extent, inner]
// around the axis, the indices laid out as the output. Indices shorter than the data along other
// axes read a slice of it (one raster) first.
Status lowerGatherElements(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects data and indices");
  const TensorDesc x = b.desc(b.input(0)), idx = b.desc(b.input(1));
  if (idx.dtype != DType::I64 && idx.dtype != DType::I32)
    return n.error("indices are " + std::string(dtypeName(idx.dtype)) + " (i32 or i64 expected)");
  if (idx.rank() != x.rank())
    return n.error("indices " + shapeToString(idx.shape) + " and data " + shapeToString(x.shape) +
                   " differ in rank");
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  Shape sliced = idx.shape; // the data's part the indices address: theirs but along the axis
  sliced[axis] = x.shape[axis];
  for (size_t d = 0; d < sliced.size(); ++d)
    if (sliced[d] > x.shape[d])
      return n.error("indices " + shapeToString(idx.shape) + " exceed data " +
                     shapeToString(x.shape) + " along axis " + std::to_string(d));
  const int32_t out = b.setOutput(0, {x.dtype, idx.shape});
  int32_t data = b.input(0);
  if (sliced != x.shape) {
    data = b.temp({x.dtype, sliced});
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, {0, denseStrides(x.shape)},
                                             {0, denseStrides(sliced)}, sliced));
    b.emit(r, {b.input(0)}, data);
  }
  GatherParams g{product(sliced, 0, axis), sliced[axis], product(sliced, axis + 1, sliced.size())};
  g.elements = true;
  b.emit(g, {data, b.input(1)}, out);
  return Status::ok();
}

// The rows that the index tuples of input `indicesInput` (its last dim, k values; i64) name in
// data of shape `data` viewed as [rows, rest] after `batchDims` batch dims: per tuple the batch
// number times the rows a batch holds, plus the tuple's components (negative from the end)
// times their strides; a tuple with a component out of range becomes row `rows`, out of range,
// so the gather or scatter reading it fails the run rather than touching a neighbour.
struct TupleRows {
  int32_t rows; // i64 [tuples]
  int64_t rowCount, rest, k;
};

Result<TupleRows> tupleRows(LoweringBuilder& b, size_t indicesInput, const Shape& data,
                            int64_t batchDims) {
  const Node& n = b.node();
  const TensorDesc idx = b.desc(b.input(indicesInput));
  if (idx.dtype != DType::I64) return n.error("indices must be i64");
  const int64_t r = static_cast<int64_t>(data.size()), q = idx.rank();
  if (q < 1 || batchDims < 0 || batchDims >= std::min(r, q))
    return n.error("batch_dims " + std::to_string(batchDims) + " does not fit data rank " +
                   std::to_string(r) + " and indices rank " + std::to_string(q));
  const int64_t k = idx.shape[q - 1];
  if (k < 1 || batchDims + k > r)
    return n.error("index tuples of " + std::to_string(k) + " values do not fit the data's " +
                   std::to_string(r - batchDims) + " dims after the batch dims");
  for (int64_t d = 0; d < batchDims; ++d)
    if (data[d] != idx.shape[d]) return n.error("batch dims of data and indices differ");
  const int64_t batches = product(data, 0, batchDims);
  const int64_t perBatch = product(data, batchDims, batchDims + k); // rows a batch holds
  const int64_t tuples = product(idx.shape, 0, q - 1),
                perBatchTuples = tuples / std::max<int64_t>(batches, 1);
  const TensorDesc column{DType::I64, {tuples}};
  int32_t row = -1, valid = -1;
  int64_t stride = perBatch;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t dim = data[batchDims + j];
    stride /= std::max<int64_t>(dim, 1);
    RasterParams pick; // component j of every tuple
    if (tuples > 0)
      pick.regions.push_back(Region{0, {j, {0, k, 1}}, {0, {0, 1, 1}}, {1, tuples, 1}});
    const int32_t c = b.temp(column);
    b.emit(pick, {b.input(indicesInput)}, c);
    const int32_t norm = fromEnd(b, c, dim);
    valid = conjoin(b, valid, withinExtent(b, norm, dim));
    const int32_t scaled =
        b.binaryTemp(BinaryKind::Mul, norm, b.scalar(DType::I64, double(stride)));
    if (row < 0) {
      row = scaled;
    } else {
      const int32_t sum = b.temp(column);
      b.binary(BinaryKind::Add, row, scaled, sum);
      row = sum;
    }
  }
  if (batches > 1) { // each batch's rows follow the previous batch's
    std::vector<int64_t> base(static_cast<size_t>(tuples));
    for (int64_t t = 0; t < tuples; ++t)
      base[t] = t / std::max<int64_t>(perBatchTuples, 1) * perBatch;
    const int32_t offset = b.constant(column, base.data());
    const int32_t sum = b.temp(column);
    b.binary(BinaryKind::Add, row, offset, sum);
    row = sum;
  }
  const int64_t rows = batches * perBatch;
  const int32_t checked = b.temp(column);
  b.select(valid, row, b.scalar(DType::I64, double(rows)), checked); // rows: out of range
  return TupleRows{checked, rows, product(data, batchDims + k, data.size()), k};
}

// GatherND: each index tuple names a slice of the data after its batch dims: one gather of the
// rows they name (tupleRows).
Status lowerGatherND(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects data and indices");
  const TensorDesc x = b.desc(b.input(0)), idx = b.desc(b.input(1));
  TESSEL_ASSIGN_OR_RETURN(int64_t batchDims, n.intAttr("batch_dims", 0));
  TESSEL_ASSIGN_OR_RETURN(TupleRows t, tupleRows(b, 1, x.shape, batchDims));
  Shape outShape(idx.shape.begin(), idx.shape.end() - 1);
  outShape.insert(outShape.end(), x.shape.begin() + batchDims + t.k, x.shape.end());
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  b.emit(GatherParams{1, t.rowCount, t.rest}, {b.input(0), t.rows}, out);
  return Status::ok();
}

// MaxUnpool(X, I[, output_shape]): zeros of the output's shape (given, or each spatial dim
// (in - 1) * stride + kernel - pads), then X's values scattered to the flat positions I names
// (MaxPool's indices: over the whole tensor).
Status lowerMaxUnpool(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects X and I");
  const TensorDesc x = b.desc(b.input(0)), idx = b.desc(b.input(1));
  if (idx.dtype != DType::I64 || idx.shape != x.shape)
    return n.error("indices must be i64 of X's shape " + shapeToString(x.shape));
  const int64_t spatial = x.rank() - 2;
  if (spatial < 1) return n.error("X must have spatial dims");
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, n.intsAttr("kernel_shape", {}));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                          n.intsAttr("strides", std::vector<int64_t>(spatial, 1)));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                          n.intsAttr("pads", std::vector<int64_t>(2 * spatial, 0)));
  if (static_cast<int64_t>(kernel.size()) != spatial ||
      static_cast<int64_t>(strides.size()) != spatial ||
      static_cast<int64_t>(pads.size()) != 2 * spatial)
    return n.error("kernel_shape, strides and pads must match " + std::to_string(spatial) +
                   " spatial dims");
  constexpr int64_t kMax = int64_t{1} << 20; // no product below can overflow
  for (int64_t d = 0; d < spatial; ++d)
    if (kernel[d] < 1 || kernel[d] > kMax || strides[d] < 1 || strides[d] > kMax || pads[d] < 0 ||
        pads[d] > kMax || pads[spatial + d] < 0 || pads[spatial + d] > kMax ||
        x.shape[2 + d] > kMax)
      return n.error("kernel_shape, strides, pads and dims must lie in [1, 2^20] (pads from 0)");
  Shape inferred = x.shape;
  for (int64_t d = 0; d < spatial; ++d)
    inferred[2 + d] = (x.shape[2 + d] - 1) * strides[d] + kernel[d] - pads[d] - pads[spatial + d];
  for (int64_t d : inferred)
    if (d < 0) return n.error("output shape " + shapeToString(inferred) + " is negative");
  Shape outShape = inferred;
  if (n.hasInput(2)) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> given, n.constInts(2, "output_shape"));
    bool fits = given.size() == inferred.size();
    for (size_t d = 0; fits && d < given.size(); ++d)
      fits = d < 2 ? given[d] == inferred[d] : given[d] >= inferred[d];
    if (!fits)
      return n.error("output_shape " + shapeToString(given) + " is not " + shapeToString(inferred) +
                     " or larger in its spatial dims");
    outShape = given;
  }
  TESSEL_ASSIGN_OR_RETURN(const int64_t total, elementCount(inferred));
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  const TensorDesc unpooled{x.dtype, inferred};
  RasterParams zeros; // a fill: X only as the raster's (unread) source
  zeros.fill = 0.0;
  const int32_t base = b.temp(unpooled);
  b.emit(zeros, {b.input(0)}, base);
  const int32_t positions = b.temp({DType::I64, {idx.numel()}});
  b.view(b.input(1), positions);
  const int32_t values = b.temp({x.dtype, {x.numel()}});
  b.view(b.input(0), values);
  // The indices address the inferred shape; a larger output_shape pads it with zeros after.
  const bool padded = outShape != inferred;
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  const int32_t scattered = padded ? b.temp(unpooled) : out;
  b.emit(ScatterParams{1, total, 1, false, BinaryKind::Add}, {base, positions, values}, scattered);
  if (padded) {
    RasterParams pad;
    pad.fill = 0.0;
    TESSEL_RETURN_IF_ERROR(copyInto(&pad, 0, inferred, 0, denseStrides(outShape)));
    b.emit(pad, {scattered}, out);
  }
  return Status::ok();
}

// ReverseSequence(input, sequence_lens): along the time axis the first sequence_lens[b]
// elements of batch b reversed, the rest kept: an elements gather whose index at (t, b) is
// len[b] - 1 - t below len[b], t above.
Status lowerReverseSequence(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects input and sequence_lens");
  const TensorDesc x = b.desc(b.input(0)), lens = b.desc(b.input(1));
  TESSEL_ASSIGN_OR_RETURN(int64_t batchAxis, n.intAttr("batch_axis", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t timeAxis, n.intAttr("time_axis", 0));
  if (x.rank() < 2 || batchAxis == timeAxis || batchAxis < 0 || batchAxis > 1 || timeAxis < 0 ||
      timeAxis > 1)
    return n.error("batch_axis and time_axis must be 0 and 1 of an input of rank >= 2");
  const int64_t steps = x.shape[timeAxis], batch = x.shape[batchAxis];
  if ((lens.dtype != DType::I64 && lens.dtype != DType::I32) || lens.shape != Shape{batch})
    return n.error("sequence_lens must be i32 or i64 [" + std::to_string(batch) + "]");
  // [T, B] or [B, T] as the axes lie: the positions t and the lengths, broadcast.
  Shape tShape{1, 1}, bShape{1, 1}, pair{1, 1};
  tShape[timeAxis] = steps;
  bShape[batchAxis] = batch;
  pair[timeAxis] = steps;
  pair[batchAxis] = batch;
  std::vector<int64_t> iota(static_cast<size_t>(steps));
  for (int64_t t = 0; t < steps; ++t)
    iota[static_cast<size_t>(t)] = t;
  const int32_t t = b.constant({DType::I64, tShape}, iota.data());
  const int32_t len = b.temp({DType::I64, bShape});
  b.view(b.castTemp(b.input(1), DType::I64), len);
  const int32_t inside = b.temp({DType::Bool, pair});
  b.binary(BinaryKind::Less, t, len, inside);
  const int32_t last = b.binaryTemp(BinaryKind::Sub, len, b.scalar(DType::I64, 1));
  const int32_t mirrored = b.temp({DType::I64, pair});
  b.binary(BinaryKind::Sub, last, t, mirrored);
  const int32_t index2 = b.temp({DType::I64, pair});
  b.select(inside, mirrored, t, index2);
  // The index for every element: the pair's, repeated over the trailing dims.
  const int64_t inner = product(x.shape, 2, x.shape.size());
  const int32_t index = b.temp({DType::I64, x.shape});
  RasterParams spread;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&spread.regions, 0, {0, {pair[1], 1, 0}},
                                           {0, {pair[1] * inner, inner, 1}},
                                           {pair[0], pair[1], inner}));
  b.emit(spread, {index2}, index);
  GatherParams g{timeAxis == 0 ? 1 : batch, steps, timeAxis == 0 ? batch * inner : inner};
  g.elements = true;
  b.emit(g, {b.input(0), index}, b.setOutput(0, x));
  return Status::ok();
}

// The `reduction` attribute of the scatter operators: none, or the binary kind it combines by.
Result<std::optional<BinaryKind>> scatterReduction(const Node& n) {
  TESSEL_ASSIGN_OR_RETURN(std::string r, n.stringAttr("reduction", "none"));
  if (r == "none") return std::optional<BinaryKind>{};
  if (r == "add") return std::optional<BinaryKind>{BinaryKind::Add};
  if (r == "mul") return std::optional<BinaryKind>{BinaryKind::Mul};
  if (r == "max") return std::optional<BinaryKind>{BinaryKind::Max};
  if (r == "min") return std::optional<BinaryKind>{BinaryKind::Min};
  return n.error("reduction '" + r + "' (none, add, mul, max or min expected)");
}

// The scatter primitive over rows `rows` (i64, one per update row) of the data viewed as
// [1, rowCount, rest], the updates as [1, count, rest], into output 0.
Status scatterRows(LoweringBuilder& b, int32_t rows, int64_t rowCount, int64_t rest,
                   int32_t updates) {
  const Node& n = b.node();
  TESSEL_ASSIGN_OR_RETURN(std::optional<BinaryKind> reduction, scatterReduction(n));
  const TensorDesc x = b.desc(b.input(0)), u = b.desc(updates);
  if (u.dtype != x.dtype) return n.error("updates' element type differs from the data's");
  if (u.numel() != b.desc(rows).numel() * rest)
    return n.error("updates " + shapeToString(u.shape) + " do not match the indices");
  if (reduction && (x.dtype == DType::Bool || dtypeIsHalf(x.dtype)))
    return unsupported(n.label() + ": reduction on " + std::string(dtypeName(x.dtype)));
  ScatterParams p{1, rowCount, rest, reduction.has_value(), reduction.value_or(BinaryKind::Add)};
  b.emit(p, {b.input(0), rows, updates}, b.setOutput(0, x));
  return Status::ok();
}

// ScatterND(data, indices, updates): the rows the index tuples name (tupleRows) replaced or
// combined by the updates, in order.
Status lowerScatterND(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1) || !n.hasInput(2))
    return n.error("expects data, indices and updates");
  const TensorDesc x = b.desc(b.input(0)), idx = b.desc(b.input(1)), u = b.desc(b.input(2));
  TESSEL_ASSIGN_OR_RETURN(TupleRows t, tupleRows(b, 1, x.shape, 0));
  Shape want(idx.shape.begin(), idx.shape.end() - 1);
  want.insert(want.end(), x.shape.begin() + t.k, x.shape.end());
  if (u.shape != want)
    return n.error("updates " + shapeToString(u.shape) + " are not " + shapeToString(want));
  return scatterRows(b, t.rows, t.rowCount, t.rest, b.input(2));
}

// ScatterElements(data, indices, updates, axis) (and Scatter, its old name): each update goes
// to its own position with the index along the axis, every other coordinate its own. The
// position becomes one flat row of the data viewed as [elements, 1]: a constant of the other
// coordinates' offsets plus the index (negative from the end) times the axis' stride; an index
// out of range becomes a row out of range, failing the run.
Status lowerScatterElements(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1) || !n.hasInput(2))
    return n.error("expects data, indices and updates");
  const TensorDesc x = b.desc(b.input(0)), idx = b.desc(b.input(1)), u = b.desc(b.input(2));
  if (idx.dtype != DType::I64 && idx.dtype != DType::I32)
    return n.error("indices are " + std::string(dtypeName(idx.dtype)) + " (i32 or i64 expected)");
  if (idx.rank() != x.rank() || u.shape != idx.shape)
    return n.error("indices " + shapeToString(idx.shape) + " and updates " +
                   shapeToString(u.shape) + " must have one shape of the data's rank " +
                   std::to_string(x.rank()));
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, x.rank()));
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d != axis && idx.shape[d] > x.shape[d])
      return n.error("indices " + shapeToString(idx.shape) + " exceed data " +
                     shapeToString(x.shape) + " along axis " + std::to_string(d));
  const int64_t count = idx.numel(), elements = x.numel();
  const Shape strides = denseStrides(x.shape);
  std::vector<int64_t> base(static_cast<size_t>(count));
  const Shape position = denseStrides(idx.shape);
  for (int64_t q = 0; q < count; ++q) {
    int64_t offset = 0;
    for (int64_t d = 0; d < x.rank(); ++d)
      if (d != axis) offset += q / position[d] % idx.shape[d] * strides[d];
    base[static_cast<size_t>(q)] = offset;
  }
  const TensorDesc flat{DType::I64, {count}};
  int32_t index = b.temp({idx.dtype, {count}});
  b.view(b.input(1), index);
  index = fromEnd(b, b.castTemp(index, DType::I64), x.shape[axis]);
  const int32_t offsets = b.binaryTemp(
      BinaryKind::Add,
      b.binaryTemp(BinaryKind::Mul, index, b.scalar(DType::I64, double(strides[axis]))),
      b.constant(flat, base.data()));
  const int32_t rows = b.temp(flat);
  b.select(withinExtent(b, index, x.shape[axis]), offsets, b.scalar(DType::I64, double(elements)),
           rows);
  const int32_t updates = b.temp({u.dtype, {count}});
  b.view(b.input(2), updates);
  return scatterRows(b, rows, elements, 1, updates);
}

// Range: start, start + delta, ... up to limit (exclusive), as a table the rule writes: its
// values are known when the plan is made (constants, or graph inputs' values at run time). At
// most 2^20 elements: the table lies in the artifact or the plan.
Status lowerRange(LoweringBuilder& b) {
  const Node& n = b.node();
  for (size_t i = 0; i < 3; ++i)
    if (!n.hasInput(i)) return n.error("expects start, limit and delta");
  const DType dt = b.desc(b.input(0)).dtype;
  if (dt != DType::F32 && dt != DType::F64 && dt != DType::I32 && dt != DType::I64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(dt)));
  double v[3];
  const char* names[3] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    if (b.desc(b.input(i)).dtype != dt) return n.error("inputs have different element types");
    TESSEL_ASSIGN_OR_RETURN(std::vector<double> x, n.constFloats(i, names[i]));
    if (x.size() != 1) return n.error(std::string(names[i]) + " must hold one value");
    v[i] = x[0];
  }
  if (v[2] == 0 || !std::isfinite(v[0]) || !std::isfinite(v[1]) || !std::isfinite(v[2]))
    return n.error("start, limit and delta must be finite and delta non-zero");
  const double count = std::max(std::ceil((v[1] - v[0]) / v[2]), 0.0);
  constexpr int64_t kMaxRange = int64_t{1} << 20;
  if (count > double(kMaxRange))
    return n.error("range of " + std::to_string(count) + " elements (at most 2^20)");
  const auto len = static_cast<int64_t>(count);
  std::vector<double> values(static_cast<size_t>(len));
  for (int64_t i = 0; i < len; ++i)
    values[static_cast<size_t>(i)] = v[0] + double(i) * v[2];
  writeTable(b, dt, {len}, values);
  return Status::ok();
}

// HannWindow, HammingWindow, BlackmanWindow: a table of `size` values (its value known when
// the plan is made, as Range's operands), cosine sums over 2 pi n / N (N = size when periodic,
// size - 1 when symmetric), in the type output_datatype names.
Status lowerWindowFunction(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("expects size");
  TESSEL_ASSIGN_OR_RETURN(std::vector<double> sizeValue, n.constFloats(0, "size"));
  if (sizeValue.size() != 1 || !(sizeValue[0] >= 0) || sizeValue[0] > double(int64_t{1} << 20))
    return n.error("size must be one value in [0, 2^20]");
  TESSEL_ASSIGN_OR_RETURN(int64_t periodic, n.intAttr("periodic", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t typeCode, n.intAttr("output_datatype", 1));
  const std::optional<DType> type = dtypeFromOnnx(static_cast<int>(typeCode));
  if (!type || *type == DType::Bool)
    return n.error("output_datatype " + std::to_string(typeCode) + " is not a numeric type");
  const auto size = static_cast<int64_t>(sizeValue[0]);
  // Cosine coefficients a0 - a1 cos(x) + a2 cos(2x).
  double a[3] = {0.5, 0.5, 0.0};
  if (n.opType == "HammingWindow") {
    a[0] = 25.0 / 46.0;
    a[1] = 1.0 - a[0];
  } else if (n.opType == "BlackmanWindow") {
    a[0] = 0.42;
    a[1] = 0.5;
    a[2] = 0.08;
  }
  const double period = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> values(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) {
    const double x = period > 0 ? 2.0 * M_PI * static_cast<double>(i) / period : 0.0;
    values[static_cast<size_t>(i)] = a[0] - a[1] * std::cos(x) + a[2] * std::cos(2.0 * x);
  }
  writeTable(b, *type, {size}, values);
  return Status::ok();
}

// OneHot: indices (any numeric type, cast to i64; negative ones count from the end) compared
// with the positions 0..depth-1 along the new axis, then a select of the on or off value;
// indices outside [-depth, depth) match nothing and give off everywhere, as ONNX says.
Status lowerOneHot(LoweringBuilder& b) {
  const Node& n = b.node();
  for (size_t i = 0; i < 3; ++i)
    if (!n.hasInput(i)) return n.error("expects indices, depth and values");
  const TensorDesc idx = b.desc(b.input(0)), values = b.desc(b.input(2));
  TESSEL_ASSIGN_OR_RETURN(std::vector<double> depthValue, n.constFloats(1, "depth"));
  if (depthValue.size() != 1) return n.error("depth must hold one value");
  // The positions are a table in the artifact (8 bytes each): at most 2^20 of them.
  constexpr int64_t kMaxDepth = int64_t{1} << 20;
  if (!(depthValue[0] >= 1 && depthValue[0] <= double(kMaxDepth)))
    return n.error("depth " + std::to_string(depthValue[0]) + " out of range [1, 2^20]");
  const auto depth = static_cast<int64_t>(depthValue[0]);
  if (values.numel() != 2) return n.error("values must hold [off, on]");
  if (idx.dtype == DType::Bool || idx.dtype == DType::Undefined)
    return n.error("indices are " + std::string(dtypeName(idx.dtype)));
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", -1));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, idx.rank() + 1));
  Shape outShape = idx.shape, expanded = idx.shape, positions(idx.rank() + 1, 1);
  outShape.insert(outShape.begin() + axis, depth);
  expanded.insert(expanded.begin() + axis, 1);
  positions[axis] = depth;
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  // Indices as i64, negative ones moved up by depth.
  int32_t index = b.input(0);
  if (idx.dtype != DType::I64) {
    index = b.temp({DType::I64, idx.shape});
    b.unary(UnaryKind::Cast, b.input(0), index);
  }
  const int32_t normalized = fromEnd(b, index, depth);
  const int32_t column = b.temp({DType::I64, expanded}); // a 1 where the positions go
  b.view(normalized, column);
  std::vector<int64_t> iota(static_cast<size_t>(depth));
  std::iota(iota.begin(), iota.end(), int64_t{0});
  const int32_t hot = b.temp({DType::Bool, outShape});
  b.binary(BinaryKind::Equal, column, b.constant({DType::I64, positions}, iota.data()), hot);
  // off = values[0], on = values[1], as scalars.
  const auto element = [&](int64_t at) {
    RasterParams r;
    r.regions.push_back(Region{0, {at, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 1}});
    const int32_t t = b.temp({values.dtype, {}});
    b.emit(r, {b.input(2)}, t);
    return t;
  };
  b.select(hot, element(1), element(0), b.setOutput(0, {values.dtype, outShape}));
  return Status::ok();
}

Status lowerShape(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const Shape& in = b.shape(b.input(0));
  const int64_t rank = static_cast<int64_t>(in.size());
  TESSEL_ASSIGN_OR_RETURN(int64_t start, n.intAttr("start", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t end, n.intAttr("end", rank));
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  std::vector<int64_t> dims(in.begin() + start, in.begin() + end);
  const TensorDesc d{DType::I64, {static_cast<int64_t>(dims.size())}};
  int32_t c = b.constant(d, dims.data());
  RasterParams r;
  TESSEL_RETURN_IF_ERROR(copyInto(&r, 0, d.shape, 0, {1}));
  b.emit(r, {c}, b.setOutput(0, d));
  return Status::ok();
}

Status lowerConstantOfShape(LoweringBuilder& b) {
  const Node& n = b.node();
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> shape, n.constInts(0, "shape"));
  TESSEL_ASSIGN_OR_RETURN(double value, n.floatAttr("value", 0.0));
  TESSEL_ASSIGN_OR_RETURN(int64_t onnxType, n.intAttr("value.dtype", 1));
  auto dt = dtypeFromOnnx(static_cast<int>(onnxType));
  if (!dt) return unsupported(n.label() + ": value of ONNX type " + std::to_string(onnxType));
  for (int64_t d : shape)
    if (d < 0) return n.error("negative dim in shape");
  RasterParams r;
  r.fill = value;
  b.emit(r, {b.input(0)}, b.setOutput(0, {*dt, shape}));
  return Status::ok();
}

Status lowerPad(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(std::string mode, n.stringAttr("mode", "constant"));
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    return unsupported(n.label() + ": pad mode '" + mode + "'");
  std::vector<int64_t> pads;
  double value = 0;
  if (n.opset < 11) {
    TESSEL_ASSIGN_OR_RETURN(pads, n.intsAttr("pads", {}));
    TESSEL_ASSIGN_OR_RETURN(value, n.floatAttr("value", 0.0));
  } else {
    TESSEL_ASSIGN_OR_RETURN(pads, n.constInts(1, "pads"));
    if (n.hasInput(2)) {
      TESSEL_ASSIGN_OR_RETURN(std::vector<double> v, n.constFloats(2, "constant_value"));
      if (v.size() != 1) return n.error("constant_value must be a scalar");
      value = v[0];
    }
    if (n.hasInput(3)) return unsupported(n.label() + ": the axes input");
  }
  if (static_cast<int64_t>(pads.size()) != 2 * x.rank())
    return n.error("pads must have 2*rank values");
  Shape outShape = x.shape;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (pads[i] < 0 || pads[i + x.rank()] < 0) return unsupported(n.label() + ": negative pads");
    if (pads[i] > kMaxPad || pads[i + x.rank()] > kMaxPad) return n.error("pads out of range");
    outShape[i] += pads[i] + pads[i + x.rank()];
  }
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  if (mode == "constant") {
    const Shape outStrides = denseStrides(outShape);
    int64_t offset = 0;
    for (int64_t i = 0; i < x.rank(); ++i)
      offset += pads[i] * outStrides[i];
    RasterParams r;
    r.fill = value;
    TESSEL_RETURN_IF_ERROR(copyInto(&r, 0, x.shape, offset, outStrides));
    b.emit(r, {b.input(0)}, out);
    return Status::ok();
  }
  // Edge and reflect: one raster per padded axis, viewed as [before, dim, after]: the input rows,
  // then each band as one strided copy of a border row (edge: stride 0) or of the rows next to
  // it in reverse order (reflect: stride -after).
  const bool reflect = mode == "reflect";
  std::vector<int64_t> padded;
  for (int64_t a = 0; a < x.rank(); ++a) {
    const int64_t lo = pads[a], hi = pads[a + x.rank()], d = x.shape[a];
    if (lo == 0 && hi == 0) continue;
    if (d == 0 || (reflect && (lo > d - 1 || hi > d - 1)))
      return n.error(mode + " pads " + std::to_string(lo) + ", " + std::to_string(hi) +
                     " on axis " + std::to_string(a) + " of size " + std::to_string(d) +
                     (reflect ? " (reflect needs pads below the size)" : ""));
    padded.push_back(a);
  }
  return chainAxes(b, x, padded, outShape, out, [&](const AxisStep& s) {
    const int64_t lo = pads[s.axis], hi = pads[s.axis + x.rank()], d = s.extent;
    const int64_t before = s.before, after = s.after;
    RasterParams r;
    const Shape dst{(lo + d + hi) * after, after, 1};
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, {0, {d * after, after, 1}},
                                             {lo * after, dst}, {before, d, after}));
    const int64_t step = reflect ? -after : 0;
    if (lo > 0) // output row i < lo reads row lo - i (reflect) or 0 (edge)
      TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0,
                                               {reflect ? lo * after : 0, {d * after, step, 1}},
                                               {0, dst}, {before, lo, after}));
    if (hi > 0) // output row lo + d + j reads row d - 2 - j (reflect) or d - 1 (edge)
      TESSEL_RETURN_IF_ERROR(appendStridedCopy(
          &r.regions, 0, {(reflect ? d - 2 : d - 1) * after, {d * after, step, 1}},
          {(lo + d) * after, dst}, {before, hi, after}));
    b.emit(r, {s.in}, s.out);
    return Status::ok();
  });
}

Status lowerExpand(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> target, n.constInts(1, "shape"));
  auto out = broadcastShapes(x.shape, target);
  if (!out.isOk()) return n.error(out.status().message());
  TESSEL_RETURN_IF_ERROR(elementCount(*out).status().withContext(n.label()));
  TESSEL_RETURN_IF_ERROR(readStrided(b, {0, broadcastStrides(x.shape, *out)}, *out, x.dtype, *out));
  return Status::ok();
}

// An output extent past which a resize is refused (its rule maps every output coordinate).
constexpr int64_t kMaxResizeExtent = int64_t{1} << 22;

// Linear and cubic resizes, separable: along each resized axis every output coordinate reads
// T input rows (2 or 4, clamped to the edge as ONNX pads) with weights, so the axis is T
// gathers through i32 tables, each times its weight table, summed. tf_crop_and_resize sets
// outputs whose source lies outside the input to extrapolation_value (a select at the end).
Status resizeByTaps(LoweringBuilder& b, const std::string& mode, const std::string& coord,
                    const std::vector<double>& scales, const Shape& outShape) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32)
    return unsupported(n.label() + ": " + mode + " resize of element type " +
                       std::string(dtypeName(x.dtype)) + " (only f32)");
  TESSEL_ASSIGN_OR_RETURN(int64_t antialias, n.intAttr("antialias", 0));
  if (antialias != 0) return unsupported(n.label() + ": antialias");
  TESSEL_ASSIGN_OR_RETURN(double a, n.floatAttr("cubic_coeff_a", -0.75));
  TESSEL_ASSIGN_OR_RETURN(int64_t excludeOutside, n.intAttr("exclude_outside", 0));
  TESSEL_ASSIGN_OR_RETURN(double extrapolation, n.floatAttr("extrapolation_value", 0.0));
  const int64_t rank = x.rank();
  std::vector<double> roi;
  if (coord == "tf_crop_and_resize") {
    if (n.opset < 11) return n.error("tf_crop_and_resize needs an roi input");
    TESSEL_ASSIGN_OR_RETURN(roi, n.constFloats(1, "roi"));
    if (static_cast<int64_t>(roi.size()) != 2 * rank)
      return n.error("roi holds " + std::to_string(roi.size()) + " values, not 2 x rank");
  }
  const int taps = mode == "linear" ? 2 : 4;
  struct Axis {
    std::vector<std::vector<int32_t>> index; // per tap, per output coordinate
    std::vector<std::vector<float>> weight;
    std::vector<uint8_t> inside; // tf_crop_and_resize: the source lies in the input
    bool identity = true, cropped = false;
  };
  std::vector<Axis> axes(rank);
  for (int64_t d = 0; d < rank; ++d) {
    Axis& ax = axes[d];
    const int64_t in = x.shape[d], out = outShape[d];
    ax.index.assign(taps, std::vector<int32_t>(out));
    ax.weight.assign(taps, std::vector<float>(out));
    ax.inside.assign(out, 1);
    for (int64_t y = 0; y < out; ++y) {
      double src = 0;
      if (coord == "half_pixel")
        src = (y + 0.5) / scales[d] - 0.5;
      else if (coord == "pytorch_half_pixel")
        src = out > 1 ? (y + 0.5) / scales[d] - 0.5 : 0;
      else if (coord == "align_corners") // ONNX's resized length: in * scale, unrounded
        src = out > 1 ? y * double(in - 1) / (in * scales[d] - 1) : 0;
      else if (coord == "asymmetric")
        src = y / scales[d];
      else if (coord == "tf_crop_and_resize") {
        const double start = roi[d], end = roi[rank + d];
        src = out > 1 ? start * (in - 1) + y * (end - start) * (in - 1) / double(out - 1)
                      : 0.5 * (start + end) * (in - 1);
        if (src < 0 || src > in - 1) ax.inside[y] = 0, ax.cropped = true;
      } else {
        return unsupported(n.label() + ": coordinate_transformation_mode " + coord);
      }
      if (!std::isfinite(src)) return n.error("source coordinate is not finite");
      src = std::clamp(src, -1e9, 1e9);
      const double base = std::floor(src), r = src - base;
      double w[4];
      if (taps == 2) {
        w[0] = 1 - r, w[1] = r;
      } else {
        const auto outer = [a](double t) { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a; };
        const auto inner = [a](double t) { return ((a + 2) * t - (a + 3)) * t * t + 1; };
        w[0] = outer(r + 1), w[1] = inner(r), w[2] = inner(1 - r), w[3] = outer(2 - r);
      }
      const int64_t first = static_cast<int64_t>(base) - (taps == 4 ? 1 : 0);
      double total = 0;
      for (int t = 0; t < taps; ++t) {
        const int64_t i = first + t;
        if (excludeOutside && (i < 0 || i >= in)) w[t] = 0;
        total += w[t];
      }
      for (int t = 0; t < taps; ++t) {
        const double wt = excludeOutside && total != 0 ? w[t] / total : w[t];
        ax.index[t][y] = static_cast<int32_t>(std::clamp<int64_t>(first + t, 0, in - 1));
        ax.weight[t][y] = static_cast<float>(wt);
        const bool unit = ax.index[t][y] == y && std::abs(wt - 1) < 1e-12;
        if (!(unit || std::abs(wt) < 1e-12) || (unit && in != out)) ax.identity = false;
      }
      bool any = false;
      for (int t = 0; t < taps; ++t)
        any = any || (ax.index[t][y] == y && std::abs(ax.weight[t][y] - 1) < 1e-12);
      if (!any) ax.identity = false;
    }
    if (in != out || ax.cropped) ax.identity = false;
  }
  std::vector<int64_t> moved;
  bool cropped = false;
  for (int64_t d = 0; d < rank; ++d) {
    if (!axes[d].identity) moved.push_back(d);
    cropped = cropped || axes[d].cropped;
  }
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  const int32_t result = cropped ? b.temp({x.dtype, outShape}) : out;
  TESSEL_RETURN_IF_ERROR(chainAxes(b, x, moved, outShape, result, [&](const AxisStep& s) {
    const Axis& ax = axes[s.axis];
    const int64_t o = outShape[s.axis];
    const TensorDesc rows{DType::F32, {s.before, o, s.after}};
    int32_t acc = -1;
    for (int t = 0; t < taps; ++t) {
      bool zero = true;
      for (float w : ax.weight[t])
        zero = zero && w == 0.f;
      if (zero) continue; // a tap no output reads (integer-aligned coordinates)
      const int32_t table = b.constant({DType::I32, {o}}, ax.index[t].data());
      const int32_t picked = b.temp(rows);
      b.emit(GatherParams{s.before, s.extent, s.after}, {s.in, table}, picked);
      const int32_t weight = b.constant({DType::F32, {1, o, 1}}, ax.weight[t].data());
      const int32_t term = b.temp(rows);
      b.binary(BinaryKind::Mul, picked, weight, term);
      if (acc < 0) {
        acc = term;
      } else {
        const int32_t sum = b.temp(rows);
        b.binary(BinaryKind::Add, acc, term, sum);
        acc = sum;
      }
    }
    if (acc < 0) { // every weight zero (a degenerate cubic): zeros
      RasterParams zeros;
      zeros.fill = 0.0;
      b.emit(zeros, {s.in}, s.out);
      return Status::ok();
    }
    b.view(acc, s.out);
    return Status::ok();
  }));
  if (!cropped) return Status::ok();
  // tf_crop_and_resize: outputs whose source lies outside the input on any axis extrapolate.
  int32_t inside = -1;
  for (int64_t d = 0; d < rank; ++d) {
    if (!axes[d].cropped) continue;
    Shape shape(rank, 1);
    shape[d] = outShape[d];
    inside = conjoin(b, inside, b.constant({DType::Bool, shape}, axes[d].inside.data()));
  }
  b.select(inside, result, b.scalar(DType::F32, extrapolation), out);
  return Status::ok();
}
// Integer upsamplings with at most this many phases are one raster (a strided copy per phase);
// other nearest mappings gather along each resized axis through an index table.
constexpr int64_t kMaxResizePhases = 64;

// Nearest resize: one raster of strided copies when every axis is a plain integer upsampling
// with few phases, otherwise one gather per axis whose mapping is not the identity.
Status lowerResize(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(std::string mode, n.stringAttr("mode", "nearest"));
  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    return unsupported(n.label() + ": resize mode '" + mode + "'");
  TESSEL_ASSIGN_OR_RETURN(
      std::string coord,
      n.stringAttr("coordinate_transformation_mode", n.opset < 11 ? "asymmetric" : "half_pixel"));
  TESSEL_ASSIGN_OR_RETURN(
      std::string round,
      n.stringAttr("nearest_mode", n.opset < 11 ? "floor" : "round_prefer_floor"));
  const size_t scalesAt = n.opset < 11 ? 1 : 2, sizesAt = 3;
  std::vector<double> scales;
  Shape outShape;
  if (n.hasInput(sizesAt) && b.desc(b.input(sizesAt)).numel() > 0) {
    TESSEL_ASSIGN_OR_RETURN(outShape, n.constInts(sizesAt, "sizes"));
    for (int64_t i = 0; i < x.rank() && i < static_cast<int64_t>(outShape.size()); ++i)
      scales.push_back(x.shape[i] ? double(outShape[i]) / x.shape[i] : 1.0);
  } else {
    if (n.opType == "Upsample" && n.hasAttr("scales")) { // Upsample-7: an attribute
      TESSEL_ASSIGN_OR_RETURN(scales, n.floatsAttr("scales"));
    } else {
      TESSEL_ASSIGN_OR_RETURN(scales, n.constFloats(scalesAt, "scales"));
    }
    for (double s : scales)
      if (!(s > 0 && s <= 1e6)) return n.error("scale " + std::to_string(s) + " out of range");
    for (int64_t i = 0; i < x.rank() && i < static_cast<int64_t>(scales.size()); ++i)
      outShape.push_back(static_cast<int64_t>(std::floor(x.shape[i] * scales[i])));
  }
  if (static_cast<int64_t>(outShape.size()) != x.rank() ||
      static_cast<int64_t>(scales.size()) != x.rank())
    return n.error("scales or sizes do not match the input rank");
  // Checked before the per-coordinate loops below walk every output row and column.
  for (int64_t d : outShape)
    if (d < 0 || d > kMaxResizeExtent)
      return n.error("output dim " + std::to_string(d) + " out of range (at most " +
                     std::to_string(kMaxResizeExtent) + ")");
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  for (int64_t a = 0; a < x.rank(); ++a)
    if (x.shape[a] == 0 && outShape[a] != 0)
      return n.error("resizes an empty axis " + std::to_string(a) + " to " +
                     std::to_string(outShape[a]));
  if (mode != "nearest") return resizeByTaps(b, mode, coord, scales, outShape);
  // The source coordinate of every output coordinate, per axis.
  std::vector<std::vector<int32_t>> maps(x.rank());
  bool integer = true;
  int64_t phases = 1;
  Shape factor(x.rank(), 1);
  TESSEL_ASSIGN_OR_RETURN(const NearestRule rule, nearestRule(n, coord, round));
  for (int64_t a = 0; a < x.rank(); ++a) {
    maps[a].reserve(static_cast<size_t>(outShape[a]));
    for (int64_t y = 0; y < outShape[a]; ++y)
      maps[a].push_back(
          static_cast<int32_t>(nearestSource(rule, y, x.shape[a], outShape[a], scales[a])));
    if (x.shape[a] == 0 || outShape[a] % x.shape[a] != 0) {
      integer = false;
      continue;
    }
    factor[a] = outShape[a] / x.shape[a];
    for (int64_t y = 0; y < outShape[a]; ++y)
      integer = integer && maps[a][y] == y / factor[a];
    phases = std::min(phases * factor[a], kMaxResizePhases + 1);
  }
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  if (integer && phases <= kMaxResizePhases) {
    const Shape outStrides = denseStrides(outShape);
    Shape dstStrides(x.rank());
    for (int64_t a = 0; a < x.rank(); ++a)
      dstStrides[a] = outStrides[a] * factor[a];
    // The phases differ only in where they start: phase 0's regions, shifted for each.
    RasterParams first, r;
    TESSEL_RETURN_IF_ERROR(copyInto(&first, 0, x.shape, 0, dstStrides));
    r.regions.reserve(first.regions.size() * static_cast<size_t>(phases));
    Shape phase(x.rank(), 0);
    while (true) {
      int64_t offset = 0;
      for (int64_t a = 0; a < x.rank(); ++a)
        offset += phase[a] * outStrides[a];
      for (Region region : first.regions) {
        region.dst.offset += offset;
        r.regions.push_back(region);
      }
      int64_t a = x.rank() - 1;
      for (; a >= 0; --a) {
        if (++phase[a] < factor[a]) break;
        phase[a] = 0;
      }
      if (a < 0) break;
    }
    b.emit(r, {b.input(0)}, out);
    return Status::ok();
  }
  // Gathers along the axes whose mapping is not the identity (none: a copy).
  std::vector<int64_t> moved;
  for (int64_t a = 0; a < x.rank(); ++a) {
    bool identity = outShape[a] == x.shape[a];
    for (int64_t y = 0; identity && y < outShape[a]; ++y)
      identity = maps[a][y] == y;
    if (!identity) moved.push_back(a);
  }
  return chainAxes(b, x, moved, outShape, out, [&](const AxisStep& s) {
    const int32_t table = b.constant({DType::I32, {outShape[s.axis]}}, maps[s.axis].data());
    b.emit(GatherParams{s.before, s.extent, s.after}, {s.in, table}, s.out);
    return Status::ok();
  });
}

// Tiling one axis at a time: each step is one region reading its input with stride 0 along the
// repeat ([before, repeat, axis * after] <- [before, 0, axis * after]), so a raster never needs
// more than one region per tiled axis, whatever the repeats.
Status lowerTile(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> repeats, n.constInts(1, "repeats"));
  if (static_cast<int64_t>(repeats.size()) != x.rank())
    return n.error("repeats length differs from rank");
  Shape outShape(x.rank());
  std::vector<int64_t> tiled;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (repeats[i] < 0) return n.error("negative repeat");
    if (__builtin_mul_overflow(x.shape[i], repeats[i], &outShape[i]))
      return n.error("output too large");
    if (repeats[i] != 1) tiled.push_back(i);
  }
  auto total = elementCount(outShape);
  if (!total.isOk()) return total.status().withContext(n.label());
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  if (*total == 0) { // nothing to write
    b.emit(RasterParams{}, {b.input(0)}, out);
    return Status::ok();
  }
  return chainAxes(b, x, tiled, outShape, out, [&](const AxisStep& s) {
    const int64_t block = s.extent * s.after, reps = repeats[s.axis];
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(
        &r.regions, 0, {0, {block, 0, 1}}, {0, {reps * block, block, 1}}, {s.before, reps, block}));
    b.emit(r, {s.in}, s.out);
    return Status::ok();
  });
}

// Trilu: the kept triangle of every [rows, cols] matrix, one region per row across the batch
// (row i keeps columns j - i >= k when upper, j - i <= k when lower); the rest is filled with 0.
// Trilu with k known only at run time: keep[i][j] = (j - i) >= k (upper) or <= k (lower),
// j - i from a column and a row of indices, then a select of the input or zero.
Status triluByMask(LoweringBuilder& b, bool upper) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(b.input(0)), k = b.desc(b.input(1));
  if (k.numel() != 1 || k.dtype != DType::I64)
    return n.error("k must be one i64 value, got " + k.toString());
  const int64_t rows = x.shape[x.rank() - 2], cols = x.shape[x.rank() - 1];
  std::vector<int64_t> rowIdx(static_cast<size_t>(rows)), colIdx(static_cast<size_t>(cols));
  std::iota(rowIdx.begin(), rowIdx.end(), int64_t{0});
  std::iota(colIdx.begin(), colIdx.end(), int64_t{0});
  const int32_t row = b.constant({DType::I64, {rows, 1}}, rowIdx.data());
  const int32_t col = b.constant({DType::I64, {1, cols}}, colIdx.data());
  const int32_t diff = b.temp({DType::I64, {rows, cols}});
  b.binary(BinaryKind::Sub, col, row, diff);
  const int32_t kScalar = b.temp({DType::I64, {}});
  b.view(b.input(1), kScalar);
  const int32_t keep = b.temp({DType::Bool, {rows, cols}});
  b.binary(upper ? BinaryKind::GreaterOrEqual : BinaryKind::LessOrEqual, diff, kScalar, keep);
  const std::vector<uint8_t> zero(dtypeSize(x.dtype), 0);
  b.select(keep, b.input(0), b.constant({x.dtype, {}}, zero.data()), b.setOutput(0, x));
  return Status::ok();
}

Status lowerTrilu(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.rank() < 2) return n.error("needs a tensor of rank 2 or more");
  TESSEL_ASSIGN_OR_RETURN(int64_t upper, n.intAttr("upper", 1));
  if (n.hasInput(1) && !n.inputs[1].constant) return triluByMask(b, upper != 0);
  int64_t k = 0;
  if (n.hasInput(1)) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> kv, n.constInts(1, "k"));
    if (kv.size() != 1) return n.error("k must hold one value");
    k = kv[0];
  }
  const int64_t rows = x.shape[x.rank() - 2], cols = x.shape[x.rank() - 1];
  const int64_t batch = product(x.shape, 0, x.shape.size() - 2);
  if (rows > static_cast<int64_t>(kMaxRasterRegions)) return n.error("more than 2^18 rows");
  RasterParams r;
  r.fill = 0.0;
  for (int64_t i = 0; i < rows && batch > 0; ++i) {
    // Columns [lo, hi) of row i are kept; k is clamped so i + k cannot overflow.
    const int64_t shift = std::clamp<int64_t>(k, -cols - rows, cols + rows);
    const int64_t lo = upper ? std::clamp<int64_t>(i + shift, 0, cols) : 0;
    const int64_t hi = upper ? cols : std::clamp<int64_t>(i + shift + 1, 0, cols);
    if (hi <= lo) continue;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, {i * cols + lo, {rows * cols, 1}},
                                             {i * cols + lo, {rows * cols, 1}}, {batch, hi - lo}));
  }
  b.emit(r, {b.input(0)}, b.setOutput(0, x));
  return Status::ok();
}

// EyeLike: zeros of the input's shape (or the dtype attribute's type) with ones on the diagonal
// shifted by k: one region writing a scalar one with stride cols + 1.
Status lowerEyeLike(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.rank() != 2) return n.error("needs a 2-D input");
  DType dt = x.dtype;
  if (n.hasAttr("dtype")) {
    TESSEL_ASSIGN_OR_RETURN(int64_t onnxType, n.intAttr("dtype", 1));
    auto t = dtypeFromOnnx(static_cast<int>(onnxType));
    if (!t) return unsupported(n.label() + ": dtype of ONNX type " + std::to_string(onnxType));
    dt = *t;
  }
  TESSEL_ASSIGN_OR_RETURN(int64_t k, n.intAttr("k", 0));
  const int64_t rows = x.shape[0], cols = x.shape[1];
  const int64_t row0 = std::clamp<int64_t>(k < 0 ? -k : 0, 0, rows);
  const int64_t col0 = std::clamp<int64_t>(k > 0 ? k : 0, 0, cols);
  const int64_t count = std::min(rows - row0, cols - col0);
  RasterParams r;
  r.fill = 0.0;
  if (count > 0)
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&r.regions, 0, {0, {0}}, {row0 * cols + col0, {cols + 1}}, {count}));
  b.emit(r, {b.scalar(dt, 1.0)}, b.setOutput(0, {dt, x.shape}));
  return Status::ok();
}

// DepthToSpace and SpaceToDepth: a 6-D transpose, one raster.
Status lowerDepthSpace(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.rank() != 4) return n.error("input must be 4-D");
  TESSEL_ASSIGN_OR_RETURN(int64_t bs, n.intAttr("blocksize", 0));
  if (bs < 1 || bs > 1 << 16) return n.error("blocksize out of range");
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  Shape iter, src, outShape;
  if (n.opType == "DepthToSpace") {
    if (C % (bs * bs) != 0) return n.error("channels are not a multiple of blocksize^2");
    TESSEL_ASSIGN_OR_RETURN(std::string mode, n.stringAttr("mode", "DCR"));
    if (mode != "DCR" && mode != "CRD") return n.error("unknown mode '" + mode + "'");
    const int64_t c = C / (bs * bs), hw = H * W;
    // Output [N, c, H, bs, W, bs]: channel read = DCR (i*bs + j)*c + ch, CRD ch*bs*bs + i*bs + j.
    iter = {N, c, H, bs, W, bs};
    src = mode == "DCR" ? Shape{C * hw, hw, W, bs * c * hw, 1, c * hw}
                        : Shape{C * hw, bs * bs * hw, W, bs * hw, 1, hw};
    outShape = {N, c, H * bs, W * bs};
  } else {
    if (H % bs != 0 || W % bs != 0) return n.error("spatial dims are not multiples of blocksize");
    // Output [N, bs, bs, C, H/bs, W/bs]: channel (i*bs + j)*C + c reads x[c][h*bs + i][w*bs + j].
    iter = {N, bs, bs, C, H / bs, W / bs};
    src = {C * H * W, W, 1, H * W, bs * W, bs};
    outShape = {N, C * bs * bs, H / bs, W / bs};
  }
  TESSEL_RETURN_IF_ERROR(readStrided(b, {0, src}, iter, x.dtype, outShape));
  return Status::ok();
}

Status lowerSize(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const int64_t count = b.desc(b.input(0)).numel();
  const TensorDesc d{DType::I64, {}};
  RasterParams r;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, {0, {}}, {0, {}}, {}));
  b.emit(r, {b.constant(d, &count)}, b.setOutput(0, d));
  return Status::ok();
}

} // namespace tessel::decompose
