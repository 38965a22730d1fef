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

// Runs a raster on integer sources, element by element (-1 where nothing is written).
std::vector<int64_t> runRaster(const RasterParams& p, const std::vector<std::vector<int64_t>>& srcs,
                               int64_t count) {
  std::vector<int64_t> out(count, -1);
  for (const Region& r : p.regions)
    for (int64_t i = 0; i < r.size[0]; ++i)
      for (int64_t j = 0; j < r.size[1]; ++j)
        for (int64_t k = 0; k < r.size[2]; ++k)
          out[r.dst.offset + i * r.dst.stride[0] + j * r.dst.stride[1] + k * r.dst.stride[2]] =
              srcs[r.source]
                  [r.src.offset + i * r.src.stride[0] + j * r.src.stride[1] + k * r.src.stride[2]];
  return out;
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
    REQUIRE(appendStridedCopy(&regions, 0, {0, src}, {0, denseStrides(outShape)}, outShape).isOk());
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
  int composed = 0;
  for (int trial = 0; trial < 300; ++trial) {
    // Producer: a transpose of a 3-D tensor; consumer: a strided slice of its output.
    Shape shape{int64_t(1 + rng() % 4), int64_t(1 + rng() % 4), int64_t(1 + rng() % 4)};
    std::vector<int64_t> perm{0, 1, 2};
    std::shuffle(perm.begin(), perm.end(), rng);
    const Shape st = denseStrides(shape);
    Shape ps{shape[perm[0]], shape[perm[1]], shape[perm[2]]};
    RasterParams producer;
    REQUIRE(appendStridedCopy(&producer.regions, 0, {0, {st[perm[0]], st[perm[1]], st[perm[2]]}},
                              {0, denseStrides(ps)}, ps)
                .isOk());
    if (producer.regions.size() != 1) continue;
    Shape start(3), step(3), cs(3);
    for (int d = 0; d < 3; ++d) {
      start[d] = rng() % ps[d];
      step[d] = 1 + rng() % 2;
      cs[d] = 1 + (ps[d] - 1 - start[d]) / step[d];
    }
    const Shape pst = denseStrides(ps);
    RasterParams consumer;
    REQUIRE(appendStridedCopy(&consumer.regions, 0,
                              {start[0] * pst[0] + start[1] * pst[1] + start[2] * pst[2],
                               {step[0] * pst[0], step[1] * pst[1], step[2] * pst[2]}},
                              {0, denseStrides(cs)}, cs)
                .isOk());
    const int64_t n = shape[0] * shape[1] * shape[2];
    auto fused = composeRegions(producer, n, consumer, 0);
    if (!fused) continue;
    ++composed;
    std::vector<int64_t> src(n);
    std::iota(src.begin(), src.end(), 100);
    const int64_t outCount = cs[0] * cs[1] * cs[2];
    RasterParams f;
    f.regions = *fused;
    CHECK(runRaster(f, {src}, outCount) ==
          runRaster(consumer, {runRaster(producer, {src}, n)}, outCount));
  }
  CHECK(composed > 100); // slices of transposes must usually compose
}

TEST_CASE("rasters reading a concat compose through its blocks") {
  const auto& run = runRaster;
  // A channel shuffle as shufflenet spells it: concat of a (c x hw, the first half of a bigger
  // tensor) and b (c x hw), then the transpose [2, c, hw] -> [c, 2, hw].
  for (const auto& [c, hw] : std::vector<std::pair<int64_t, int64_t>>{{3, 4}, {5, 1}, {1, 7}}) {
    const int64_t half = c * hw;
    std::vector<std::vector<int64_t>> srcs(2);
    for (int64_t i = 0; i < 2 * half; ++i)
      srcs[0].push_back(i);
    for (int64_t i = 0; i < half; ++i)
      srcs[1].push_back(1000 + i);
    RasterParams concat;
    REQUIRE(
        appendStridedCopy(&concat.regions, 0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, half}).isOk());
    REQUIRE(appendStridedCopy(&concat.regions, 1, {0, {0, 0, 1}}, {half, {0, 0, 1}}, {1, 1, half})
                .isOk());
    RasterParams shuffle;
    REQUIRE(
        appendStridedCopy(&shuffle.regions, 0, {0, {hw, half, 1}}, {0, {2 * hw, hw, 1}}, {c, 2, hw})
            .isOk());
    auto fused = composeThroughBlocks(concat, 2 * half, shuffle, 0, {0, 1});
    REQUIRE(fused.has_value());
    RasterParams f;
    f.regions = *fused;
    CHECK(run(f, srcs, 2 * half) == run(shuffle, {run(concat, srcs, 2 * half)}, 2 * half));
  }
  // A run straddling two blocks splits into single elements, within the region budget only.
  RasterParams concat;
  REQUIRE(appendStridedCopy(&concat.regions, 0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 5}).isOk());
  REQUIRE(appendStridedCopy(&concat.regions, 1, {0, {0, 0, 1}}, {5, {0, 0, 1}}, {1, 1, 5}).isOk());
  RasterParams straddle;
  REQUIRE(
      appendStridedCopy(&straddle.regions, 0, {3, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 4}).isOk());
  const std::vector<std::vector<int64_t>> two{{0, 1, 2, 3, 4}, {10, 11, 12, 13, 14}};
  auto pieces = composeThroughBlocks(concat, 10, straddle, 0, {0, 1});
  REQUIRE(pieces.has_value());
  CHECK(pieces->size() == 4);
  RasterParams f;
  f.regions = *pieces;
  CHECK(run(f, two, 4) == std::vector<int64_t>{3, 4, 10, 11});
  CHECK_FALSE(composeThroughBlocks(concat, 10, straddle, 0, {0, 1}, 2).has_value());
  // Blocks that do not cover the producer (a fill would be needed): refused.
  RasterParams partial;
  REQUIRE(appendStridedCopy(&partial.regions, 0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 5}).isOk());
  CHECK_FALSE(composeThroughBlocks(partial, 10, straddle, 0, {0}).has_value());
}

TEST_CASE("identity rasters are recognised") {
  RasterParams r;
  REQUIRE(appendStridedCopy(&r.regions, 0, {0, {12, 4, 1}}, {0, {12, 4, 1}}, {2, 3, 4}).isOk());
  CHECK(isIdentityRaster(r, 24, 24));
  r.fill = 0.0;
  CHECK_FALSE(isIdentityRaster(r, 24, 24));
  RasterParams t;
  REQUIRE(appendStridedCopy(&t.regions, 0, {0, {1, 3}}, {0, {2, 1}}, {3, 2}).isOk());
  CHECK_FALSE(isIdentityRaster(t, 6, 6));
}

TEST_CASE("unsupported operators name the operator, node and opset") {
  Node n;
  n.opType = "TfIdfVectorizer";
  n.name = "tfidf_7";
  n.opset = 11;
  auto low = lower(n);
  REQUIRE_FALSE(low.isOk());
  CHECK(low.status().code() == StatusCode::kUnsupported);
  CHECK(low.status().message() ==
        "operator 'TfIdfVectorizer' (node 'tfidf_7', opset 11) is not supported");
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

namespace {

struct TransposedCase {
  int64_t n, cin, cout, h, w, kh, kw, sh, sw;
  std::vector<int64_t> pads, outPad;
  bool bias;
};

// Lowers a ConvTranspose, runs it, compares with the definition; returns the lowering.
Lowering checkTransposed(const TransposedCase& c, uint32_t seed) {
  Node n;
  n.opType = "ConvTranspose";
  n.name = "ct";
  n.inputs = {tensorInput(DType::F32, {c.n, c.cin, c.h, c.w}),
              tensorInput(DType::F32, {c.cin, c.cout, c.kh, c.kw})};
  if (c.bias) n.inputs.push_back(tensorInput(DType::F32, {c.cout}));
  n.attrs["strides"] = std::vector<int64_t>{c.sh, c.sw};
  n.attrs["pads"] = c.pads;
  n.attrs["output_padding"] = c.outPad;
  auto x = randomFloats(c.n * c.cin * c.h * c.w, seed),
       wt = randomFloats(c.cin * c.cout * c.kh * c.kw, seed + 1),
       b = randomFloats(c.cout, seed + 2);
  std::vector<std::vector<float>> data{x, wt};
  if (c.bias) data.push_back(b);
  TensorDesc d;
  auto y = evaluate(n, data, &d);
  const int64_t oh = (c.h - 1) * c.sh + c.kh - c.pads[0] - c.pads[2] + c.outPad[0];
  const int64_t ow = (c.w - 1) * c.sw + c.kw - c.pads[1] - c.pads[3] + c.outPad[1];
  REQUIRE(d.shape == Shape{c.n, c.cout, oh, ow});
  // y[o][i*s + ky - pad_top][j*s + kx - pad_left] += x[c][i][j] * w[c][o][ky][kx].
  std::vector<float> want(c.n * c.cout * oh * ow, 0.f);
  for (int64_t b0 = 0; b0 < c.n; ++b0)
    for (int64_t o = 0; o < c.cout; ++o)
      for (int64_t t = 0; t < oh * ow; ++t)
        want[(b0 * c.cout + o) * oh * ow + t] = c.bias ? b[o] : 0.f;
  for (int64_t b0 = 0; b0 < c.n; ++b0)
    for (int64_t ci = 0; ci < c.cin; ++ci)
      for (int64_t i = 0; i < c.h; ++i)
        for (int64_t j = 0; j < c.w; ++j)
          for (int64_t o = 0; o < c.cout; ++o)
            for (int64_t ky = 0; ky < c.kh; ++ky)
              for (int64_t kx = 0; kx < c.kw; ++kx) {
                const int64_t yy = i * c.sh + ky - c.pads[0], xx = j * c.sw + kx - c.pads[1];
                if (yy < 0 || yy >= oh || xx < 0 || xx >= ow) continue;
                want[((b0 * c.cout + o) * oh + yy) * ow + xx] +=
                    x[((b0 * c.cin + ci) * c.h + i) * c.w + j] *
                    wt[((ci * c.cout + o) * c.kh + ky) * c.kw + kx];
              }
  REQUIRE(y.size() == want.size());
  for (size_t i = 0; i < y.size(); ++i)
    CHECK(y[i] == Approx(want[i]).margin(1e-5));
  auto low = lower(n);
  REQUIRE(low.isOk());
  return std::move(low).value();
}

} // namespace

TEST_CASE("transposed convolution equals its definition") {
  checkTransposed({1, 2, 3, 3, 4, 3, 3, 2, 2, {1, 0, 0, 1}, {1, 0}, true}, 1);
  checkTransposed({2, 3, 2, 2, 3, 2, 2, 1, 1, {0, 0, 0, 0}, {0, 0}, false}, 4);
}

TEST_CASE("transposed convolution with kernel = stride multiplies no inserted zeros") {
  for (const TransposedCase& c :
       {TransposedCase{1, 3, 4, 5, 6, 2, 2, 2, 2, {0, 0, 0, 0}, {0, 0}, true},
        TransposedCase{2, 2, 3, 3, 2, 2, 3, 2, 3, {0, 0, 0, 0}, {0, 0}, false},
        TransposedCase{1, 1, 1, 1, 1, 4, 4, 4, 4, {0, 0, 0, 0}, {0, 0}, true}}) {
    const Lowering low = checkTransposed(c, 10);
    // One 1x1 convolution over the input itself, and no raster that spreads it with zeros.
    int convs = 0;
    for (const Primitive& p : low.primitives) {
      if (p.kind() == PrimitiveKind::Raster) CHECK_FALSE(p.as<RasterParams>().fill.has_value());
      if (p.kind() != PrimitiveKind::Conv2d) continue;
      ++convs;
      CHECK(low.tensors[p.inputs[1]].shape == Shape{c.cout * c.kh * c.kw, c.cin, 1, 1});
      CHECK(p.inputs[0] == 0);
    }
    CHECK(convs == 1);
  }
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

TEST_CASE("a raster past the region budget is refused before it is built") {
  // A 4-D copy whose leading dims would need 2^20 regions; and one region past a full raster.
  std::vector<Region> regions;
  const Status s = appendStridedCopy(&regions, 0, {0, {0, 0, 0, 0, 0}},
                                     {0, {1 << 22, 1 << 11, 1, 5, 3}}, {1 << 10, 1 << 10, 2, 2, 2});
  CHECK(s.code() == StatusCode::kUnsupported);
  CHECK(regions.empty());
  regions.resize(kMaxRasterRegions);
  CHECK_FALSE(appendStridedCopy(&regions, 0, {0, {1}}, {0, {1}}, {4}).isOk());
  CHECK(regions.size() == kMaxRasterRegions);
}

namespace {

int countKind(const Lowering& low, PrimitiveKind k) {
  int n = 0;
  for (const Primitive& p : low.primitives)
    n += p.kind() == k;
  return n;
}

Node gatherNode(Shape data, int64_t axis, NodeInput indices) {
  Node n;
  n.opType = "Gather";
  n.name = "g";
  n.inputs = {tensorInput(DType::F32, std::move(data)), std::move(indices)};
  n.attrs["axis"] = axis;
  return n;
}

} // namespace

TEST_CASE("gather: a few index runs are raster regions; long lists and run-time indices gather") {
  const auto data = randomFloats(4 * 10 * 3, 11);
  // Reversal, stride-3 slice and a repeated row: three runs, one region each.
  std::vector<int64_t> runs;
  for (int64_t i = 9; i >= 0; --i)
    runs.push_back(i);
  for (int64_t i = 0; i < 10; i += 3)
    runs.push_back(i);
  for (int k = 0; k < 4; ++k)
    runs.push_back(-5);
  // 40 pseudo-random indices: too many runs, one gather primitive reading the constant.
  std::vector<int64_t> scattered;
  for (int64_t j = 0; j < 40; ++j)
    scattered.push_back((j * 7 + 3) % 19 - 9);
  for (const auto* idx : {&runs, &scattered}) {
    Node n = gatherNode({4, 10, 3}, 1, constInput(*idx));
    auto low = lower(n);
    REQUIRE(low.isOk());
    const bool few = idx == &runs;
    CHECK(countKind(*low, PrimitiveKind::Raster) == (few ? 1 : 0));
    CHECK(countKind(*low, PrimitiveKind::Gather) == (few ? 0 : 1));
    if (few) CHECK(low->primitives[0].as<RasterParams>().regions.size() == 3);
    TensorDesc d;
    const auto got = evaluate(n, {data}, &d);
    CHECK(d.shape == Shape{4, static_cast<int64_t>(idx->size()), 3});
    for (int64_t o = 0; o < 4; ++o)
      for (size_t j = 0; j < idx->size(); ++j)
        for (int64_t k = 0; k < 3; ++k) {
          const int64_t r = (*idx)[j] < 0 ? (*idx)[j] + 10 : (*idx)[j];
          REQUIRE(got[(o * idx->size() + j) * 3 + k] == data[(o * 10 + r) * 3 + k]);
        }
  }
  // Indices known only at run time: shape from the index tensor, checked values at run time.
  Node n = gatherNode({4, 10, 3}, -2, tensorInput(DType::I32, {2, 2}));
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->outputDescs()[0].shape == Shape{4, 2, 2, 3});
  CHECK(countKind(*low, PrimitiveKind::Gather) == 1);
  const std::vector<int32_t> idx{3, -1, 0, 9};
  auto outs = frontend::evaluateLowering(*low, {data.data(), idx.data()});
  REQUIRE(outs.isOk());
  std::vector<float> got((*outs)[0]->size() / 4);
  std::memcpy(got.data(), (*outs)[0]->data(), (*outs)[0]->size());
  CHECK(got[3] == data[27]); // o 0, j 1: index -1 -> row 9, k 0
  CHECK(got[(3 * 4 + 3) * 3 + 2] == data[(3 * 10 + 9) * 3 + 2]);
  const std::vector<int32_t> bad{3, 10, 0, 0};
  auto refused = frontend::evaluateLowering(*low, {data.data(), bad.data()});
  REQUIRE_FALSE(refused.isOk());
  CHECK_THAT(refused.status().message(), Catch::Contains("gather index 10 out of range [-10, 10)"));
  // A constant index out of range names the node at convert time; float indices are refused.
  CHECK_THAT(lower(gatherNode({4, 10, 3}, 1, constInput({10}))).status().message(),
             Catch::Contains("'g'") && Catch::Contains("gather index 10"));
  CHECK_FALSE(lower(gatherNode({4, 10, 3}, 1, tensorInput(DType::F32, {2}))).isOk());
}

TEST_CASE("tile: one single-region raster per tiled axis, whatever the repeats") {
  Node n;
  n.opType = "Tile";
  n.name = "t";
  const std::vector<int64_t> repeats{3, 1, 2};
  n.inputs = {tensorInput(DType::F32, {2, 3, 4}), constInput(repeats)};
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->primitives.size() == 2);
  for (const Primitive& p : low->primitives)
    CHECK(p.as<RasterParams>().regions.size() == 1);
  const auto data = randomFloats(24, 12);
  TensorDesc d;
  const auto got = evaluate(n, {data}, &d);
  REQUIRE(d.shape == Shape{6, 3, 8});
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 8; ++k)
        REQUIRE(got[(i * 3 + j) * 8 + k] == data[((i % 2) * 3 + j) * 4 + k % 4]);
  // Repeats that once meant a region per tile (2^20 of them) stay two regions.
  const std::vector<int64_t> huge{1 << 10, 1 << 10};
  Node big;
  big.opType = "Tile";
  big.name = "big";
  big.inputs = {tensorInput(DType::F32, {3, 5}), constInput(huge)};
  auto bigLow = lower(big);
  REQUIRE(bigLow.isOk());
  size_t regions = 0;
  for (const Primitive& p : bigLow->primitives)
    regions += p.as<RasterParams>().regions.size();
  CHECK(regions == 2);
  CHECK(bigLow->outputDescs()[0].shape == Shape{3 << 10, 5 << 10});
}

TEST_CASE("resize: few-phase integer upsampling is one raster; other nearest maps gather by axis") {
  const auto data = randomFloats(1 * 2 * 5 * 7, 13);
  const auto resize = [&](const std::vector<int64_t>& sizes, const std::string& coord,
                          const std::string& round) {
    Node n;
    n.opType = "Resize";
    n.name = "r";
    n.inputs = {tensorInput(DType::F32, {1, 2, 5, 7}), {}, {}, constInput(sizes)};
    n.attrs["coordinate_transformation_mode"] = coord;
    n.attrs["nearest_mode"] = round;
    return n;
  };
  std::vector<int64_t> twice{1, 2, 10, 14}, odd{1, 2, 8, 11}, many{1, 2, 80, 112};
  auto up = lower(resize(twice, "asymmetric", "floor"));
  REQUIRE(up.isOk());
  CHECK(countKind(*up, PrimitiveKind::Raster) == 1);
  // 8/5 and 11/7 (asymmetric, floor): gathers along H and W; 16 x 16 = 256 phases: gathers too.
  for (const auto* sizes : {&odd, &many}) {
    Node n = resize(*sizes, "asymmetric", "floor");
    auto low = lower(n);
    REQUIRE(low.isOk());
    CHECK(countKind(*low, PrimitiveKind::Gather) == 2);
    CHECK(countKind(*low, PrimitiveKind::Raster) == 0);
    TensorDesc d;
    const auto got = evaluate(n, {data}, &d);
    REQUIRE(d.shape == Shape(*sizes));
    const int64_t H = (*sizes)[2], W = (*sizes)[3];
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const auto sy = static_cast<int64_t>(std::floor(y * 5.0 / H));
          const auto sx = static_cast<int64_t>(std::floor(x * 7.0 / W));
          REQUIRE(got[(c * H + y) * W + x] == data[(c * 5 + sy) * 7 + sx]);
        }
  }
  // Downsampling with half_pixel rounding: still a gather, no error.
  std::vector<int64_t> down{1, 2, 3, 4};
  CHECK(lower(resize(down, "half_pixel", "round_prefer_floor")).isOk());
}

TEST_CASE("pad edge and reflect: one raster per padded axis, three regions each") {
  const Shape xs{2, 3, 4};
  const auto data = randomFloats(24, 14);
  const std::vector<int64_t> pads{1, 0, 3, 0, 2, 2}; // axis 0: 1 before; 1: 2 after; 2: 3, 2
  for (const char* mode : {"edge", "reflect"}) {
    INFO(mode);
    Node n;
    n.opType = "Pad";
    n.name = "p";
    n.inputs = {tensorInput(DType::F32, xs), constInput(pads)};
    n.attrs["mode"] = std::string(mode);
    auto low = lower(n);
    REQUIRE(low.isOk());
    CHECK(low->primitives.size() == 3);
    for (const Primitive& p : low->primitives)
      CHECK(p.as<RasterParams>().regions.size() <= 3);
    TensorDesc d;
    const auto got = evaluate(n, {data}, &d);
    REQUIRE(d.shape == Shape{3, 5, 9});
    const bool reflect = std::string(mode) == "reflect";
    // numpy's pad: an index outside [0, dim) clamps (edge) or mirrors without the edge (reflect).
    const auto source = [&](int64_t i, int64_t dim) {
      if (reflect) return i < 0 ? -i : i >= dim ? 2 * (dim - 1) - i : i;
      return std::clamp<int64_t>(i, 0, dim - 1);
    };
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 5; ++j)
        for (int64_t k = 0; k < 9; ++k)
          REQUIRE(got[(i * 5 + j) * 9 + k] ==
                  data[(source(i - 1, 2) * 3 + source(j, 3)) * 4 + source(k - 3, 4)]);
  }
  // Reflect needs pads below the size: 4 on an axis of 4 is an error naming the node.
  Node bad;
  bad.opType = "Pad";
  bad.name = "p";
  const std::vector<int64_t> wide{0, 0, 4, 0, 0, 0};
  bad.inputs = {tensorInput(DType::F32, xs), constInput(wide)};
  bad.attrs["mode"] = std::string("reflect");
  CHECK_THAT(lower(bad).status().message(),
             Catch::Contains("'p'") && Catch::Contains("reflect needs pads below the size"));
  bad.attrs["mode"] = std::string("edge");
  CHECK(lower(bad).isOk());
}

TEST_CASE("trilu keeps a triangle of every matrix for any k; eyelike sets a shifted diagonal") {
  const Shape xs{2, 3, 5};
  const auto data = randomFloats(30, 15);
  for (int64_t upper : {0, 1})
    for (int64_t k : {-4, -1, 0, 2, 9}) {
      INFO("upper " << upper << " k " << k);
      Node n;
      n.opType = "Trilu";
      n.name = "t";
      const std::vector<int64_t> kv{k};
      n.inputs = {tensorInput(DType::F32, xs), constInput(kv)};
      n.attrs["upper"] = upper;
      auto low = lower(n);
      REQUIRE(low.isOk());
      CHECK(low->primitives.at(0).as<RasterParams>().regions.size() <= 3); // a region per row
      const auto got = evaluate(n, {data});
      // k known only at run time: a mask of j - i against k, then a select.
      n.inputs[1] = tensorInput(DType::I64, {});
      auto masked = lower(n);
      REQUIRE(masked.isOk());
      CHECK(countKind(*masked, PrimitiveKind::Select) == 1);
      auto outs = frontend::evaluateLowering(*masked, {data.data(), kv.data()});
      REQUIRE(outs.isOk());
      std::vector<float> byMask(30);
      std::memcpy(byMask.data(), (*outs)[0]->data(), 120);
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 5; ++j) {
            const bool keep = upper ? j - i >= k : j - i <= k;
            const size_t at = static_cast<size_t>((b * 3 + i) * 5 + j);
            REQUIRE(got[at] == (keep ? data[at] : 0.f));
            REQUIRE(byMask[at] == got[at]);
          }
    }
  for (int64_t k : {-2, 0, 3, 7}) {
    Node n;
    n.opType = "EyeLike";
    n.name = "e";
    n.inputs = {tensorInput(DType::F32, {3, 4})};
    n.attrs["k"] = k;
    const auto got = evaluate(n, {std::vector<float>(12, 5.f)});
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j)
        REQUIRE(got[static_cast<size_t>(i * 4 + j)] == (j - i == k ? 1.f : 0.f));
  }
}

TEST_CASE("gather elements: indices shorter than the data off the axis read a slice first") {
  // data [3, 5], indices [2, 3] along axis 1: rows 0..1 of the data, the first 3 positions.
  Node n;
  n.opType = "GatherElements";
  n.name = "ge";
  n.inputs = {tensorInput(DType::F32, {3, 5}), tensorInput(DType::I64, {2, 3})};
  n.attrs["axis"] = int64_t{-1};
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(countKind(*low, PrimitiveKind::Raster) == 1);
  CHECK(countKind(*low, PrimitiveKind::Gather) == 1);
  CHECK(low->outputDescs()[0].shape == Shape{2, 3});
  const auto data = randomFloats(15, 3);
  const std::vector<int64_t> idx{4, 0, -1, 2, -5, 3};
  auto outs = frontend::evaluateLowering(*low, {data.data(), idx.data()});
  REQUIRE(outs.isOk());
  std::vector<float> got(6);
  std::memcpy(got.data(), (*outs)[0]->data(), 24);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      const int64_t c = idx[i * 3 + j] < 0 ? idx[i * 3 + j] + 5 : idx[i * 3 + j];
      CHECK(got[i * 3 + j] == data[i * 5 + c]);
    }
  // Indices past the data off the axis, or of another rank, are errors naming the node.
  n.inputs[1] = tensorInput(DType::I64, {4, 3});
  CHECK_THAT(lower(n).status().message(), Catch::Contains("'ge'") && Catch::Contains("exceed"));
  n.inputs[1] = tensorInput(DType::I64, {6});
  CHECK_THAT(lower(n).status().message(), Catch::Contains("differ in rank"));
}

TEST_CASE("where broadcasts its three operands; a non-bool condition is refused") {
  Node n;
  n.opType = "Where";
  n.name = "w";
  n.inputs = {tensorInput(DType::Bool, {2, 1}), tensorInput(DType::F32, {3}),
              tensorInput(DType::F32, {2, 3})};
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->outputDescs()[0].shape == Shape{2, 3});
  const bool cond[] = {true, false};
  const auto x = randomFloats(3, 4), y = randomFloats(6, 5);
  auto outs = frontend::evaluateLowering(*low, {cond, x.data(), y.data()});
  REQUIRE(outs.isOk());
  std::vector<float> got(6);
  std::memcpy(got.data(), (*outs)[0]->data(), 24);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      CHECK(got[i * 3 + j] == (cond[i] ? x[j] : y[i * 3 + j]));
  n.inputs[0] = tensorInput(DType::F32, {2, 1});
  CHECK_THAT(lower(n).status().message(), Catch::Contains("bool expected"));
  n.inputs[0] = tensorInput(DType::Bool, {4, 1});
  CHECK_THAT(lower(n).status().message(), Catch::Contains("do not broadcast"));
}

TEST_CASE("negative log-likelihood: weights, ignore_index and every reduction") {
  // input [N=3, C=4, D=2], target [3, 2] with one ignored position holding a value outside the
  // classes, weights per class.
  const auto input = randomFloats(24, 6);
  const std::vector<int64_t> target{1, 3, -7, 0, 2, 3};
  const std::vector<float> weight{0.5f, 2.f, 1.f, 3.f};
  const auto expected = [&](const std::string& reduction, bool weighted) {
    double sum = 0, norm = 0;
    std::vector<float> each;
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t d = 0; d < 2; ++d) {
        const int64_t t = target[n * 2 + d];
        const double w = t == -7 ? 0.0 : weighted ? weight[t] : 1.0;
        const double v = t == -7 ? 0.0 : -input[(n * 4 + t) * 2 + d] * w;
        each.push_back(static_cast<float>(v));
        sum += v;
        norm += w;
      }
    if (reduction == "none") return each;
    return std::vector<float>{static_cast<float>(reduction == "sum" ? sum : sum / norm)};
  };
  for (const char* reduction : {"none", "sum", "mean"})
    for (bool weighted : {false, true}) {
      INFO(reduction << (weighted ? ", weighted" : ""));
      Node n;
      n.opType = "NegativeLogLikelihoodLoss";
      n.name = "nll";
      n.opset = 13;
      n.inputs = {tensorInput(DType::F32, {3, 4, 2}), tensorInput(DType::I64, {3, 2})};
      if (weighted) n.inputs.push_back(tensorInput(DType::F32, {4}));
      n.attrs["reduction"] = std::string(reduction);
      n.attrs["ignore_index"] = int64_t{-7};
      auto low = lower(n);
      REQUIRE(low.isOk());
      CHECK(low->outputDescs()[0].shape ==
            (std::string(reduction) == "none" ? Shape{3, 2} : Shape{}));
      std::vector<const void*> in{input.data(), target.data()};
      if (weighted) in.push_back(weight.data());
      auto outs = frontend::evaluateLowering(*low, in);
      REQUIRE(outs.isOk());
      const std::vector<float> want = expected(reduction, weighted);
      REQUIRE((*outs)[0]->size() == want.size() * 4);
      std::vector<float> got(want.size());
      std::memcpy(got.data(), (*outs)[0]->data(), want.size() * 4);
      for (size_t i = 0; i < want.size(); ++i)
        CHECK(got[i] == Approx(want[i]).epsilon(1e-5));
      // A target outside the classes that is not ignored fails the run.
      std::vector<int64_t> bad = target;
      bad[4] = 4;
      in[1] = bad.data();
      auto refused = frontend::evaluateLowering(*low, in);
      REQUIRE_FALSE(refused.isOk());
      CHECK_THAT(refused.status().message(), Catch::Contains("out of range [-4, 4)"));
    }
}

TEST_CASE("clip with bounds known only at run time, and of integers, is max then min") {
  const auto data = randomFloats(12, 21);
  for (int bounds = 1; bounds < 4; ++bounds) { // min, max, both
    Node n;
    n.opType = "Clip";
    n.name = "c";
    n.opset = 13;
    n.inputs = {tensorInput(DType::F32, {3, 4}), tensorInput(DType::F32, {}),
                tensorInput(DType::F32, {})};
    if (!(bounds & 1)) n.inputs[1].present = false;
    if (!(bounds & 2)) n.inputs[2].present = false;
    auto low = lower(n);
    REQUIRE(low.isOk());
    CHECK(countKind(*low, PrimitiveKind::Binary) == (bounds == 3 ? 2 : 1));
    const float lo = -0.25f, hi = 0.5f;
    auto outs = frontend::evaluateLowering(*low, {data.data(), &lo, &hi});
    REQUIRE(outs.isOk());
    std::vector<float> got(12);
    std::memcpy(got.data(), (*outs)[0]->data(), 48);
    for (size_t i = 0; i < 12; ++i) {
      float want = data[i];
      if (bounds & 1) want = std::max(want, lo);
      if (bounds & 2) want = std::min(want, hi);
      REQUIRE(got[i] == want);
    }
  }
  // Integers, with min above max: max everywhere, as ONNX says.
  Node n;
  n.opType = "Clip";
  n.name = "c";
  n.opset = 13;
  const std::vector<int64_t> lo{5}, hi{2};
  n.inputs = {tensorInput(DType::I64, {4}), constInput(lo), constInput(hi)};
  auto low = lower(n);
  REQUIRE(low.isOk());
  const std::vector<int64_t> x{-3, 1, 4, 9};
  auto outs = frontend::evaluateLowering(*low, {x.data(), lo.data(), hi.data()});
  REQUIRE(outs.isOk());
  std::vector<int64_t> got(4);
  std::memcpy(got.data(), (*outs)[0]->data(), 32);
  CHECK(got == std::vector<int64_t>{2, 2, 2, 2});
  // A bound of another type or size is an error naming the node.
  n.inputs[1] = tensorInput(DType::F32, {});
  CHECK_THAT(lower(n).status().message(), Catch::Contains("'c'") && Catch::Contains("'min'"));
}

TEST_CASE("linear resize: two gathers and weights per resized axis, untouched axes skipped") {
  // [1, 1, 3, 4] -> [1, 1, 3, 7] along the last axis only (half_pixel): the height keeps its
  // size and its mapping, so only the width gathers.
  Node n;
  n.opType = "Resize";
  n.name = "r";
  n.opset = 13;
  const std::vector<int64_t> sizes{1, 1, 3, 7};
  n.inputs = {tensorInput(DType::F32, {1, 1, 3, 4}), {}, {}, constInput(sizes)};
  n.attrs["mode"] = std::string("linear");
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(countKind(*low, PrimitiveKind::Gather) == 2);
  const auto data = randomFloats(12, 31);
  const auto got = evaluate(n, {data});
  REQUIRE(got.size() == 21);
  for (int64_t row = 0; row < 3; ++row)
    for (int64_t y = 0; y < 7; ++y) {
      const double src = std::clamp((y + 0.5) * 4.0 / 7.0 - 0.5, 0.0, 3.0);
      const int64_t i0 = static_cast<int64_t>(std::floor(src)), i1 = std::min<int64_t>(i0 + 1, 3);
      const double r = src - i0;
      const double want = data[row * 4 + i0] * (1 - r) + data[row * 4 + i1] * r;
      CHECK(got[row * 7 + y] == Approx(want).epsilon(1e-6));
    }
  // Other element types and antialiasing are refused, naming the node.
  n.attrs["antialias"] = int64_t{1};
  CHECK_THAT(lower(n).status().message(), Catch::Contains("'r'") && Catch::Contains("antialias"));
}

TEST_CASE("cumsum by doubling equals the running sum, exclusive and reversed, on any axis") {
  const Shape xs{3, 37, 2};
  std::vector<int64_t> x(3 * 37 * 2);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<int64_t>((i * 7919) % 23) - 11;
  for (int64_t exclusive : {0, 1})
    for (int64_t reverse : {0, 1}) {
      INFO("exclusive " << exclusive << " reverse " << reverse);
      Node n;
      n.opType = "CumSum";
      n.name = "c";
      const std::vector<int64_t> axis{-2};
      n.inputs = {tensorInput(DType::I64, xs), constInput(axis)};
      n.attrs["exclusive"] = exclusive;
      n.attrs["reverse"] = reverse;
      auto low = lower(n);
      REQUIRE(low.isOk());
      CHECK(countKind(*low, PrimitiveKind::Binary) == 6); // ceil(log2 37) doubling steps
      auto outs = frontend::evaluateLowering(*low, {x.data(), axis.data()});
      REQUIRE(outs.isOk());
      std::vector<int64_t> got(x.size());
      std::memcpy(got.data(), (*outs)[0]->data(), got.size() * 8);
      for (int64_t o = 0; o < 3; ++o)
        for (int64_t k = 0; k < 2; ++k) {
          int64_t sum = 0;
          for (int64_t step = 0; step < 37; ++step) {
            const int64_t i = reverse ? 36 - step : step;
            const int64_t at = (o * 37 + i) * 2 + k;
            if (!exclusive) sum += x[at];
            REQUIRE(got[at] == sum);
            if (exclusive) sum += x[at];
          }
        }
    }
}

TEST_CASE("onehot: negative indices count from the end, out-of-range ones are all off") {
  Node n;
  n.opType = "OneHot";
  n.name = "h";
  n.opset = 11;
  const std::vector<int64_t> depth{4};
  n.inputs = {tensorInput(DType::I64, {5}), constInput(depth), tensorInput(DType::F32, {2})};
  n.attrs["axis"] = int64_t{0};
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->outputDescs()[0].shape == Shape{4, 5});
  const std::vector<int64_t> idx{0, 3, -1, 4, -5};
  const std::vector<float> values{-2.f, 7.f};
  auto outs = frontend::evaluateLowering(*low, {idx.data(), depth.data(), values.data()});
  REQUIRE(outs.isOk());
  std::vector<float> got(20);
  std::memcpy(got.data(), (*outs)[0]->data(), 80);
  for (int64_t d = 0; d < 4; ++d)
    for (int64_t j = 0; j < 5; ++j) {
      const int64_t i = idx[j] < 0 ? idx[j] + 4 : idx[j];
      CHECK(got[d * 5 + j] == (i == d ? 7.f : -2.f));
    }
  const std::vector<int64_t> huge{int64_t{1} << 40};
  n.inputs[1] = constInput(huge);
  CHECK_THAT(lower(n).status().message(),
             Catch::Contains("'h'") && Catch::Contains("out of range"));
}

TEST_CASE("gathernd: tuples become row numbers; a component out of range fails the run") {
  // data [2, 3, 4], indices [2, 1, 2] with batch_dims 1: per batch, one (row, column) tuple.
  Node n;
  n.opType = "GatherND";
  n.name = "g";
  n.inputs = {tensorInput(DType::F32, {2, 3, 4}), tensorInput(DType::I64, {2, 1, 2})};
  n.attrs["batch_dims"] = int64_t{1};
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->outputDescs()[0].shape == Shape{2, 1});
  const auto data = randomFloats(24, 41);
  const std::vector<int64_t> idx{2, -1, 0, 1}; // batch 0: (2, 3); batch 1: (0, 1)
  auto outs = frontend::evaluateLowering(*low, {data.data(), idx.data()});
  REQUIRE(outs.isOk());
  std::vector<float> got(2);
  std::memcpy(got.data(), (*outs)[0]->data(), 8);
  CHECK(got[0] == data[0 * 12 + 2 * 4 + 3]);
  CHECK(got[1] == data[1 * 12 + 0 * 4 + 1]);
  // Column 4 is out of range although row * 4 + 4 would land inside the batch: refused.
  const std::vector<int64_t> bad{0, 4, 0, 0};
  auto refused = frontend::evaluateLowering(*low, {data.data(), bad.data()});
  REQUIRE_FALSE(refused.isOk());
  CHECK_THAT(refused.status().message(), Catch::Contains("out of range"));
}

TEST_CASE("topk: positions by value, ties in order, NaN largest; values gathered from them") {
  // x [2, 5, 2] along axis 1, k = 3: each (o, :, i) row ranked.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x{3, 1, 2, 2,  2, nan, -1, 7, 2, 0, // o = 0: rows i = 0, 1 interleaved
                             5, 5, 4, -4, 5, 1,   9,  9, 0, 1};
  for (int64_t largest : {1, 0}) {
    INFO("largest " << largest);
    Node n;
    n.opType = "TopK";
    n.name = "t";
    n.opset = 11;
    n.numOutputs = 2;
    const std::vector<int64_t> k{3};
    n.inputs = {tensorInput(DType::F32, {2, 5, 2}), constInput(k)};
    n.attrs["axis"] = int64_t{1};
    n.attrs["largest"] = largest;
    auto low = lower(n);
    REQUIRE(low.isOk());
    auto outs = frontend::evaluateLowering(*low, {x.data(), k.data()});
    REQUIRE(outs.isOk());
    std::vector<float> values(12);
    std::vector<int64_t> positions(12);
    std::memcpy(values.data(), (*outs)[0]->data(), 48);
    std::memcpy(positions.data(), (*outs)[1]->data(), 96);
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t i = 0; i < 2; ++i) {
        std::vector<int64_t> order{0, 1, 2, 3, 4};
        const auto at = [&](int64_t e) { return x[(o * 5 + e) * 2 + i]; };
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
          const float va = at(a), vb = at(b);
          const auto above = [](float p, float q) {
            return std::isnan(p) ? !std::isnan(q) : (!std::isnan(q) && p > q);
          };
          return largest ? above(va, vb) : above(vb, va);
        });
        for (int64_t j = 0; j < 3; ++j) {
          const size_t q = static_cast<size_t>((o * 3 + j) * 2 + i);
          REQUIRE(positions[q] == order[j]);
          const float want = at(order[j]);
          REQUIRE((std::isnan(want) ? std::isnan(values[q]) : values[q] == want));
        }
      }
  }
}

TEST_CASE("range writes start + i * delta below limit; a huge range is refused") {
  Node n;
  n.opType = "Range";
  n.name = "r";
  n.opset = 11;
  const std::vector<int64_t> start{10}, limit{-3}, delta{-4};
  n.inputs = {constInput(start), constInput(limit), constInput(delta)};
  for (NodeInput& in : n.inputs)
    in.desc.shape = {};
  auto low = lower(n);
  REQUIRE(low.isOk());
  CHECK(low->outputDescs()[0].shape == Shape{4}); // 10, 6, 2, -2
  auto outs = frontend::evaluateLowering(*low, {start.data(), limit.data(), delta.data()});
  REQUIRE(outs.isOk());
  std::vector<int64_t> got(4);
  std::memcpy(got.data(), (*outs)[0]->data(), 32);
  CHECK(got == std::vector<int64_t>{10, 6, 2, -2});
  const std::vector<int64_t> far{int64_t{1} << 40};
  n.inputs[1] = constInput(far);
  n.inputs[1].desc.shape = {};
  const std::vector<int64_t> up{1};
  n.inputs[2] = constInput(up);
  n.inputs[2].desc.shape = {};
  CHECK_THAT(lower(n).status().message(), Catch::Contains("'r'") && Catch::Contains("2^20"));
}
