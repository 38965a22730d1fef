#include "builder.h"

#include <algorithm>

namespace tessel::decompose {

LoweringBuilder::LoweringBuilder(const Node& node) : node_(node) {
  lowering_.numInputs = static_cast<int>(node.inputs.size());
  lowering_.numOutputs = node.numOutputs;
  for (const NodeInput& in : node.inputs)
    tensors_.push_back(in.desc);
  tensors_.resize(node.inputs.size() + node.numOutputs);
}

int32_t LoweringBuilder::setOutput(size_t i, TensorDesc d) {
  tensors_[static_cast<size_t>(output(i))] = std::move(d);
  return output(i);
}

int32_t LoweringBuilder::temp(TensorDesc d) {
  tensors_.push_back(std::move(d));
  return static_cast<int32_t>(tensors_.size() - 1);
}

int32_t LoweringBuilder::constant(TensorDesc d, const void* bytes) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  std::vector<uint8_t> data(p, p + d.byteSize());
  int32_t id = temp(std::move(d));
  lowering_.constants[id] = std::move(data);
  return id;
}

int32_t LoweringBuilder::scalar(DType dtype, double value) {
  uint8_t bytes[8];
  storeDouble(dtype, value, bytes);
  return constant({dtype, {}}, bytes);
}

void LoweringBuilder::emit(PrimitiveParams params, std::vector<int32_t> inputs, int32_t out) {
  Primitive p;
  p.params = std::move(params);
  p.inputs = std::move(inputs);
  p.outputs = {out};
  p.origin = node_.name;
  lowering_.primitives.push_back(std::move(p));
}

void writeTable(LoweringBuilder& b, DType t, const Shape& shape, const std::vector<double>& values,
                size_t output) {
  const TensorDesc out{t, shape};
  std::vector<uint8_t> bytes(static_cast<size_t>(out.byteSize()));
  const size_t elem = dtypeSize(t);
  for (size_t i = 0; i < values.size(); ++i)
    storeDouble(t, values[i], bytes.data() + i * elem);
  b.view(b.constant(out, bytes.data()), b.setOutput(output, out));
}

void gatherKnown(LoweringBuilder& b, int32_t data, const std::vector<int64_t>& idx, int64_t outer,
                 int64_t dim, int64_t inner, int32_t out) {
  const auto count = static_cast<int64_t>(idx.size());
  constexpr size_t kMaxRuns = 16;
  std::vector<std::pair<int64_t, int64_t>> runs; // (first index position, length)
  for (int64_t j = 0; j < count && runs.size() <= kMaxRuns;) {
    int64_t len = 1;
    if (j + 1 < count) {
      const int64_t step = idx[j + 1] - idx[j];
      while (j + len < count && idx[j + len] - idx[j + len - 1] == step)
        ++len;
    }
    runs.push_back({j, len});
    j += len;
  }
  if (runs.size() <= kMaxRuns) {
    RasterParams r;
    for (auto [j, len] : runs) {
      const int64_t step = len > 1 ? idx[j + 1] - idx[j] : 0;
      // Shapes passed elementCount, and the positions are in range: this cannot fail.
      (void)appendStridedCopy(&r.regions, 0, {idx[j] * inner, {dim * inner, step * inner, 1}},
                              {j * inner, {count * inner, inner, 1}}, {outer, len, inner});
    }
    b.emit(r, {data}, out);
    return;
  }
  const int32_t table = b.constant({DType::I64, {count}}, idx.data());
  b.emit(GatherParams{outer, dim, inner}, {data, table}, out);
}

int32_t computedOutput(LoweringBuilder& b, const TensorDesc& type, DType compute) {
  const int32_t out = b.setOutput(0, type);
  if (type.dtype == compute) return out;
  return b.temp({compute, type.shape});
}

void finishCast(LoweringBuilder& b, int32_t computed) {
  if (computed != b.output(0)) b.unary(UnaryKind::Cast, computed, b.output(0));
}

int32_t LoweringBuilder::castTemp(int32_t in, DType to) {
  if (desc(in).dtype == to) return in;
  TensorDesc d = desc(in);
  d.dtype = to;
  const int32_t out = temp(std::move(d));
  unary(UnaryKind::Cast, in, out);
  return out;
}

void LoweringBuilder::binary(BinaryKind kind, int32_t lhs, int32_t rhs, int32_t out) {
  const Shape& o = shape(out);
  emit(BinaryParams{kind, broadcastStrides(shape(lhs), o), broadcastStrides(shape(rhs), o)},
       {lhs, rhs}, out);
}

void LoweringBuilder::binaryPerChannel(BinaryKind kind, int32_t lhs, int32_t rhs, int64_t axis,
                                       int32_t out) {
  Shape rs(shape(out).size(), 0);
  rs[axis] = 1;
  emit(BinaryParams{kind, denseStrides(shape(lhs)), rs}, {lhs, rhs}, out);
}

void LoweringBuilder::select(int32_t cond, int32_t lhs, int32_t rhs, int32_t out) {
  const Shape& o = shape(out);
  emit(SelectParams{broadcastStrides(shape(cond), o), broadcastStrides(shape(lhs), o),
                    broadcastStrides(shape(rhs), o)},
       {cond, lhs, rhs}, out);
}

int32_t LoweringBuilder::binaryTemp(BinaryKind kind, int32_t lhs, int32_t rhs) {
  int32_t t = temp(desc(lhs));
  binary(kind, lhs, rhs, t);
  return t;
}

Result<Lowering> LoweringBuilder::finish() {
  for (int i = 0; i < node_.numOutputs; ++i)
    if (tensors_[static_cast<size_t>(output(i))].dtype == DType::Undefined)
      return node_.error("declares " + std::to_string(node_.numOutputs) + " outputs; output " +
                         std::to_string(i) + " is not one this operator produces");
  lowering_.tensors.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i)
    lowering_.tensors.push_back(std::move(tensors_[i]));
  return std::move(lowering_);
}

int64_t product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i)
    p *= s[i];
  return p;
}

Result<Shape> broadcastShapes(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return invalidArgument("shapes " + shapeToString(a) + " and " + shapeToString(b) +
                             " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcastStrides(const Shape& in, const Shape& out) {
  Shape strides(out.size(), 0);
  const size_t lead = out.size() - in.size();
  int64_t dense = 1; // in's dense stride of dim i, innermost first
  for (size_t i = in.size(); i-- > 0;) {
    strides[lead + i] = in[i] == 1 ? 0 : dense;
    dense *= in[i];
  }
  return strides;
}

Result<int64_t> normalizeAxis(const Node& node, int64_t axis, int64_t rank) {
  if (rank == 0) return node.error("has an axis but its input is a scalar");
  if (axis < -rank || axis >= rank)
    return node.error("axis " + std::to_string(axis) + " out of range for rank " +
                      std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

} // namespace tessel::decompose
