// LoweringBuilder: what every decomposition rule uses to create tensors and primitives.
#pragma once

#include "tessel/decompose/lowering.h"
#include "tessel/decompose/strided_copy.h"

#include <array>
#include <cstring>
#include <memory>
#include <vector>

namespace tessel::decompose {

// Descriptions whose references stay valid while more are added: the first few in place (most
// rules need no allocation for them), the rest one allocation each.
class StableDescs {
public:
  size_t size() const { return count_; }
  TensorDesc& operator[](size_t i) { return i < kInline ? inline_[i] : *overflow_[i - kInline]; }
  const TensorDesc& operator[](size_t i) const {
    return i < kInline ? inline_[i] : *overflow_[i - kInline];
  }
  void push_back(TensorDesc d) {
    if (count_ < kInline)
      inline_[count_] = std::move(d);
    else
      overflow_.push_back(std::make_unique<TensorDesc>(std::move(d)));
    ++count_;
  }
  void resize(size_t n) {
    while (count_ < n)
      push_back({});
  }

private:
  static constexpr size_t kInline = 8;
  std::array<TensorDesc, kInline> inline_;
  std::vector<std::unique_ptr<TensorDesc>> overflow_;
  size_t count_ = 0;
};

class LoweringBuilder {
public:
  explicit LoweringBuilder(const Node& node);

  const Node& node() const { return node_; }
  int32_t input(size_t i) const { return static_cast<int32_t>(i); }
  int32_t output(size_t i) const { return static_cast<int32_t>(node_.inputs.size() + i); }
  // References stay valid while a rule creates tensors (StableDescs does not move them);
  // setOutput() changes an output's description in place.
  const TensorDesc& desc(int32_t id) const { return tensors_[static_cast<size_t>(id)]; }
  const Shape& shape(int32_t id) const { return tensors_[static_cast<size_t>(id)].shape; }

  // Declares output i's description; every output must be declared before finish().
  int32_t setOutput(size_t i, TensorDesc desc);
  int32_t temp(TensorDesc desc);
  int32_t constant(TensorDesc desc, const void* bytes);
  int32_t scalar(DType dtype, double value); // a rank-0 constant of dtype

  void emit(PrimitiveParams params, std::vector<int32_t> inputs, int32_t out);
  void view(int32_t in, int32_t out) { emit(ViewParams{}, {in}, out); }
  void unary(UnaryKind kind, int32_t in, int32_t out, float alpha = 0, float beta = 0) {
    emit(UnaryParams{kind, alpha, beta}, {in}, out);
  }
  // A temp of `in`'s description holding kind(in; alpha, beta).
  int32_t unaryTemp(UnaryKind kind, int32_t in, float alpha = 0, float beta = 0) {
    const int32_t out = temp(desc(in));
    unary(kind, in, out, alpha, beta);
    return out;
  }
  // `in` as dtype `to`: itself when it has that type, else a temp cast from it.
  int32_t castTemp(int32_t in, DType to);
  // Numpy-broadcasting binary; `out` must have the broadcast shape.
  void binary(BinaryKind kind, int32_t lhs, int32_t rhs, int32_t out);
  // Binary where `rhs` (shape [C]) broadcasts along `axis` of lhs.
  void binaryPerChannel(BinaryKind kind, int32_t lhs, int32_t rhs, int64_t axis, int32_t out);
  // A temp of `lhs`'s shape holding lhs op rhs (numpy broadcasting).
  int32_t binaryTemp(BinaryKind kind, int32_t lhs, int32_t rhs);
  // Numpy-broadcasting select (Where): out[i] = cond[i] ? lhs[i] : rhs[i]; `out` must have the
  // broadcast shape.
  void select(int32_t cond, int32_t lhs, int32_t rhs, int32_t out);

  Result<Lowering> finish();

private:
  const Node& node_;
  Lowering lowering_;   // primitives and constants; tensors on finish()
  StableDescs tensors_; // inputs, outputs, then temporaries
};

// Output `output` as a table of `values` (row-major) of type t and `shape`, written when the plan
// is made.
void writeTable(LoweringBuilder& b, DType t, const Shape& shape, const std::vector<double>& values,
                size_t output = 0);

// out = data viewed as [outer, dim, inner] gathered along its middle dim at positions known when
// the plan is made (each in [0, dim)): strided copies when they form few runs, else a gather
// over an index table.
void gatherKnown(LoweringBuilder& b, int32_t data, const std::vector<int64_t>& idx, int64_t outer,
                 int64_t dim, int64_t inner, int32_t out);

// Output 0 of type `type` computed in type `compute`: the output itself when they agree, else a
// temp that finishCast casts into the output after the caller's primitives.
int32_t computedOutput(LoweringBuilder& b, const TensorDesc& type, DType compute);
void finishCast(LoweringBuilder& b, int32_t computed);

// The product of dims [from, to) of s (dims past its rank count as 1); shapes here passed
// elementCount, so it cannot overflow.
int64_t product(const Shape& s, size_t from, size_t to);
// Numpy broadcast of two shapes, or an error.
Result<Shape> broadcastShapes(const Shape& a, const Shape& b);
// Strides that read a tensor of shape `in` while iterating `out` (numpy broadcasting).
Shape broadcastStrides(const Shape& in, const Shape& out);
// Normalizes a possibly negative axis against rank; error names the node.
Result<int64_t> normalizeAxis(const Node& node, int64_t axis, int64_t rank);
// (Log-)softmax of an f32 tensor [outer, extent, inner] over its middle dim: a temp of its shape.
int32_t softmaxMiddle(LoweringBuilder& b, int32_t x3, bool log);

// The numpy matrix product of a and bm (one type: f32, or f64 on the reference), as output 0 or
// a temp; returns it.
Result<int32_t> numpyMatMul(LoweringBuilder& b, int32_t a, int32_t bm, bool asOutput);
// The node's Conv attributes (group, kernel_shape, strides, pads or auto_pad, dilations)
// checked against input x and weight wt (4-D): p's geometry and the output shape.
Result<Shape> convolutionParams(const Node& n, const TensorDesc& x, const TensorDesc& wt,
                                Conv2dParams* p);

// Reduces `src` over the runs of adjacent `reduced` axes (kept as dims of 1) into `dst`,
// innermost run first.
void reduceRuns(LoweringBuilder& b, ReduceKind kind, int32_t src, const std::vector<bool>& reduced,
                int32_t dst);

// The rule functions named in onnx_ops.def.
#define TESSEL_ONNX_OP(op, rule, summary) Status rule(LoweringBuilder& b);
#include "tessel/decompose/onnx_ops.def"
#undef TESSEL_ONNX_OP

} // namespace tessel::decompose
