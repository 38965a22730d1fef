// Decomposition rules: shapes, errors, and numbers (run on the reference backend) against direct
// formulas; strided copies and raster fusion against naive index arithmetic.
#include "tessel/decompose/lowering.h"
#include "tessel/decompose/raster_fusion.h"
#include "tessel/decompose/strided_copy.h"
#include "tessel/frontend/graph.h"
#include "test_util.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace tessel;
using namespace tessel::decompose;
using test::randomFloats;

namespace {

NodeInput tensorInput(DType t, Shape s) {
  return {true, {t, std::move(s)}, nullptr};
}
NodeInput constInput(const std::vector<int64_t>& v) {
  return {true, {DType::I64, {static_cast<int64_t>(v.size())}}, v.data()};
}

// Lowers and evaluates a node whose inputs are given as float data (all f32 inputs).
std::vector<float> evaluate(const Node& node, const std::vector<std::vector<float>>& data,
                            TensorDesc* outDesc = nullptr) {
  auto low = lower(node);
  if (!low.isOk()) throw std::runtime_error(low.status().message());
  std::vector<const void*> ptrs;
  size_t next = 0;
  for (const NodeInput& in : node.inputs)
    ptrs.push_back(in.constant ? in.constant : in.present ? data.at(next++).data() : nullptr);
  auto outs = frontend::evaluateLowering(*low, ptrs);
  if (!outs.isOk()) throw std::runtime_error(outs.status().message());
  if (outDesc) *outDesc = low->outputDescs()[0];
  const auto& bytes = *(*outs)[0];
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

} // namespace

TEST_CASE("strided copies reproduce N-D transposes and slices") {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 100; ++trial) {
    const size_t rank = 1 + trial % 6;
    Shape shape(rank);
    for (auto& d : shape)
      d = 1 + static_cast<int64_t>(rng() % 4);
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const Shape inStrides = denseStrides(shape);
    Shape outShape, src;
    for (int64_t p : perm) {
      outShape.push_back(shape[p]);
      src.push_back(inStrides[p]);
    }
    std::vector<Region> regions;
    appendStridedCopy(&regions, 0, {0, src}, {0, denseStrides(outShape)}, outShape);
    const int64_t n = elementCount(shape).value();
    std::vector<int64_t> in(n), out(n, -1);
    std::iota(in.begin(), in.end(), 0);
    for (const Region& r : regions)
      for (int64_t i = 0; i < r.size[0]; ++i)
        for (int64_t j = 0; j < r.size[1]; ++j)
          for (int64_t k = 0; k < r.size[2]; ++k)
            out[r.dst.offset + i * r.dst.stride[0] + j * r.dst.stride[1] + k * r.dst.stride[2]] =
                in[r.src.offset + i * r.src.stride[0] + j * r.src.stride[1] + k * r.src.stride[2]];
    // Naive: walk the output index, read the permuted input index.
    Shape idx(rank, 0);
    for (int64_t flat = 0; flat < n; ++flat) {
      int64_t s = 0;
      for (size_t d = 0; d < rank; ++d)
        s += idx[d] * src[d];
      REQUIRE(out[flat] == s);
      for (size_t d = rank; d-- > 0;) {
        if (++idx[d] < outShape[d]) break;
        idx[d] = 0;
      }
    }
  }
}

TEST_CASE("composed rasters equal running them one after the other") {
  std::mt19937 rng(5);
  auto runRaster = [](const RasterParams& p, const std::vector<int64_t>& src, int64_t count) {
    std::vector<int64_t> out(count, -1);
    for (const Region& r : p.regions)
      for (int64_t i = 0; i < r.size[0]; ++i)
        for (int64_t j = 0; j < r.size[1]; ++j)
          for (int64_t k = 0; k < r.size[2]; ++k)
            out[r.dst.offset + i * r.dst.stride[0] + j * r.dst.stride[1] + k * r.dst.stride[2]] =
                src[r.src.offset + i * r.src.stride[0] + j * r.src.stride[1] + k * r.src.stride[2]];
    return out;
  };
  int composed = 0;
  for (int trial = 0; trial < 300; ++trial) {
    // Producer: a transpose of a 3-D tensor; consumer: a strided slice of its output.
    Shape shape{int64_t(1 + rng() % 4), int64_t(1 + rng() % 4), int64_t(1 + rng() % 4)};
    std::vector<int64_t> perm{0, 1, 2};
    std::shuffle(perm.begin(), perm.end(), rng);
    const Shape st = denseStrides(shape);
    Shape ps{shape[perm[0]], shape[perm[1]], shape[perm[2]]};
    RasterParams producer;
    appendStridedCopy(&producer.regions, 0, {0, {st[perm[0]], st[perm[1]], st[perm[2]]}},
                      {0, denseStrides(ps)}, ps);
    if (producer.regions.size() != 1) continue;
    Shape start(3), step(3), cs(3);
    for (int d = 0; d < 3; ++d) {
      start[d] = rng() % ps[d];
      step[d] = 1 + rng() % 2;
      cs[d] = 1 + (ps[d] - 1 - start[d]) / step[d];
    }
    const Shape pst = denseStrides(ps);
    RasterParams consumer;
    appendStridedCopy(&consumer.regions, 0,
                      {start[0] * pst[0] + start[1] * pst[1] + start[2] * pst[2],
                       {step[0] * pst[0], step[1] * pst[1], step[2] * pst[2]}},
                      {0, denseStrides(cs)}, cs);
    const int64_t n = shape[0] * shape[1] * shape[2];
    auto fused = composeRegions(producer, n, consumer, 0);
    if (!fused) continue;
    ++composed;
    std::vector<int64_t> src(n);
    std::iota(src.begin(), src.end(), 100);
    const int64_t outCount = cs[0] * cs[1] * cs[2];
    RasterParams f;
    f.regions = *fused;
    CHECK(runRaster(f, src, outCount) ==
          runRaster(consumer, runRaster(producer, src, n), outCount));
  }
  CHECK(composed > 100); // slices of transposes must usually compose
}

TEST_CASE("identity rasters are recognised") {
  RasterParams r;
  appendStridedCopy(&r.regions, 0, {0, {12, 4, 1}}, {0, {12, 4, 1}}, {2, 3, 4});
  CHECK(isIdentityRaster(r, 24, 24));
  r.fill = 0.0;
  CHECK_FALSE(isIdentityRaster(r, 24, 24));
  RasterParams t;
  appendStridedCopy(&t.regions, 0, {0, {1, 3}}, {0, {2, 1}}, {3, 2});
  CHECK_FALSE(isIdentityRaster(t, 6, 6));
}

TEST_CASE("unsupported operators name the operator, node and opset") {
  Node n;
  n.opType = "NonMaxSuppression";
  n.name = "nms_7";
  n.opset = 11;
  auto low = lower(n);
  REQUIRE_FALSE(low.isOk());
  CHECK(low.status().code() == StatusCode::kUnsupported);
  CHECK(low.status().message() ==
        "operator 'NonMaxSuppression' (node 'nms_7', opset 11) is not supported");
}

TEST_CASE("conv shape inference with explicit and automatic padding") {
  Node n;
  n.opType = "Conv";
  n.name = "c";
  n.inputs = {tensorInput(DType::F32, {1, 3, 10, 9}), tensorInput(DType::F32, {8, 3, 3, 3})};
  n.attrs["strides"] = std::vector<int64_t>{2, 2};
  n.attrs["auto_pad"] = std::string("SAME_UPPER");
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->outputDescs()[0].shape == Shape{1, 8, 5, 5});
  // H: 10 -> 5 needs 1 pad row, all at the bottom; W: 9 -> 5 needs 2, split evenly.
  CHECK(low->primitives[0].as<Conv2dParams>().pads == std::array<int64_t, 4>{0, 1, 1, 1});
  n.attrs["kernel_shape"] = std::vector<int64_t>{5, 5};
  auto bad = lower(n);
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message() == "Conv 'c': kernel shape [5,5] does not match weight dims [3,3]");
}

TEST_CASE("reshape resolves 0 and -1 and rejects impossible shapes") {
  std::vector<int64_t> target{0, -1, 2};
  Node n;
  n.opType = "Reshape";
  n.name = "r";
  n.inputs = {tensorInput(DType::F32, {3, 4, 6}), constInput(target)};
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->outputDescs()[0].shape == Shape{3, 12, 2});
  std::vector<int64_t> wrong{5, -1};
  n.inputs[1] = constInput(wrong);
  CHECK_FALSE(lower(n).isOk());
}

TEST_CASE("slice clamps bounds and walks negative steps") {
  std::vector<int64_t> starts{-1, 100}, ends{INT64_MIN, -100}, axes{1, 0}, steps{-2, -1};
  Node n;
  n.opType = "Slice";
  n.name = "s";
  n.inputs = {tensorInput(DType::F32, {2, 5}), constInput(starts), constInput(ends),
              constInput(axes), constInput(steps)};
  std::vector<float> x(10);
  std::iota(x.begin(), x.end(), 0.f);
  TensorDesc d;
  auto y = evaluate(n, {x}, &d);
  CHECK(d.shape == Shape{2, 3});
  CHECK(y == std::vector<float>{9, 7, 5, 4, 2, 0});
}

TEST_CASE("transposed convolution equals its definition") {
  const int64_t cin = 2, cout = 3, h = 3, w = 4, k = 3, s = 2;
  Node n;
  n.opType = "ConvTranspose";
  n.name = "ct";
  n.inputs = {tensorInput(DType::F32, {1, cin, h, w}), tensorInput(DType::F32, {cin, cout, k, k}),
              tensorInput(DType::F32, {cout})};
  n.attrs["strides"] = std::vector<int64_t>{s, s};
  n.attrs["pads"] = std::vector<int64_t>{1, 0, 0, 1};
  n.attrs["output_padding"] = std::vector<int64_t>{1, 0};
  auto x = randomFloats(cin * h * w, 1), wt = randomFloats(cin * cout * k * k, 2),
       b = randomFloats(cout, 3);
  TensorDesc d;
  auto y = evaluate(n, {x, wt, b}, &d);
  const int64_t oh = (h - 1) * s + k - 1 + 1, ow = (w - 1) * s + k - 1; // pads and output_padding
  REQUIRE(d.shape == Shape{1, cout, oh, ow});
  // Definition: y[o][i*s + ky - pad_top][j*s + kx - pad_left] += x[c][i][j] * w[c][o][ky][kx].
  std::vector<float> want(cout * oh * ow, 0.f);
  for (int64_t o = 0; o < cout; ++o)
    for (int64_t t = 0; t < oh * ow; ++t)
      want[o * oh * ow + t] = b[o];
  for (int64_t c = 0; c < cin; ++c)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j)
        for (int64_t o = 0; o < cout; ++o)
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t yy = i * s + ky - 1, xx = j * s + kx;
              if (yy < 0 || yy >= oh || xx < 0 || xx >= ow) continue;
              want[(o * oh + yy) * ow + xx] +=
                  x[(c * h + i) * w + j] * wt[((c * cout + o) * k + ky) * k + kx];
            }
  REQUIRE(y.size() == want.size());
  for (size_t i = 0; i < y.size(); ++i)
    CHECK(y[i] == Approx(want[i]).margin(1e-5));
}

TEST_CASE("softmax and multi-axis reduce-mean") {
  Node sm;
  sm.opType = "Softmax";
  sm.name = "sm";
  sm.inputs = {tensorInput(DType::F32, {2, 3})};
  std::vector<float> x{1, 2, 3, -1, 0, 100};
  auto y = evaluate(sm, {x});
  for (int r = 0; r < 2; ++r) {
    double z = 0;
    for (int c = 0; c < 3; ++c)
      z += std::exp(x[r * 3 + c] - x[r * 3 + 2]);
    for (int c = 0; c < 3; ++c)
      CHECK(y[r * 3 + c] == Approx(std::exp(x[r * 3 + c] - x[r * 3 + 2]) / z));
  }
  Node rm;
  rm.opType = "ReduceMean";
  rm.name = "rm";
  rm.inputs = {tensorInput(DType::F32, {2, 3, 4})};
  rm.attrs["axes"] = std::vector<int64_t>{0, -1};
  rm.attrs["keepdims"] = int64_t{0};
  auto v = randomFloats(24, 4);
  TensorDesc d;
  auto m = evaluate(rm, {v}, &d);
  CHECK(d.shape == Shape{3});
  for (int j = 0; j < 3; ++j) {
    float sum = 0;
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 4; ++k)
        sum += v[(i * 3 + j) * 4 + k];
    CHECK(m[j] == Approx(sum / 8));
  }
}
