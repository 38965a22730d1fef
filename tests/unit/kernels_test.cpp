// The reference kernels against independent formulations, and every other backend that claims a
// primitive against the reference, over shapes that hit edge cases.
#include "test_util.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

using namespace tessel;
using test::backendNamed;
using test::randomFloats;
using test::runOn;
using test::windowOut;

namespace {

// Convolution as a scatter: every input pixel adds its contribution to the outputs it reaches.
// A different loop order and indexing from the reference's gather.
std::vector<float> scatterConv(const Shape& xs, const std::vector<float>& x, const Shape& ws,
                               const std::vector<float>& w, const std::vector<float>* bias,
                               const Conv2dParams& p, const Shape& ys) {
  std::vector<float> y(static_cast<size_t>(ys[0] * ys[1] * ys[2] * ys[3]), 0.f);
  const int64_t cg = ws[1], og = ws[0] / p.group;
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t c = 0; c < xs[1]; ++c)
      for (int64_t iy = 0; iy < xs[2]; ++iy)
        for (int64_t ix = 0; ix < xs[3]; ++ix) {
          const float v = x[((n * xs[1] + c) * xs[2] + iy) * xs[3] + ix];
          const int64_t g = c / cg, ic = c % cg;
          for (int64_t ky = 0; ky < ws[2]; ++ky)
            for (int64_t kx = 0; kx < ws[3]; ++kx) {
              const int64_t ty = iy + p.pads[0] - ky * p.dilation[0];
              const int64_t tx = ix + p.pads[1] - kx * p.dilation[1];
              if (ty < 0 || tx < 0 || ty % p.stride[0] || tx % p.stride[1]) continue;
              const int64_t oy = ty / p.stride[0], ox = tx / p.stride[1];
              if (oy >= ys[2] || ox >= ys[3]) continue;
              for (int64_t o = g * og; o < (g + 1) * og; ++o)
                y[((n * ys[1] + o) * ys[2] + oy) * ys[3] + ox] +=
                    v * w[((o * cg + ic) * ws[2] + ky) * ws[3] + kx];
            }
        }
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t o = 0; o < ys[1]; ++o)
      for (int64_t i = 0; i < ys[2] * ys[3]; ++i) {
        float& v = y[(n * ys[1] + o) * ys[2] * ys[3] + i];
        if (bias) v += (*bias)[o];
        for (const PostOp& op : p.postOps) { // the tests use relu and clip only
          if (op.unary == UnaryKind::Relu) v = std::max(v, 0.f);
          if (op.unary == UnaryKind::Clip) v = std::min(std::max(v, op.alpha), op.beta);
        }
      }
  return y;
}

void requireClose(const std::vector<float>& a, const std::vector<float>& b, float tol = 1e-4f) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::fabs(a[i] - b[i]) <= tol * (1.f + std::fabs(b[i])));
  }
}

} // namespace

TEST_CASE("reference conv2d matches a scatter formulation") {
  struct Case {
    Shape x;
    int64_t o, kh, kw, group, stride, dil;
    std::array<int64_t, 4> pads;
    bool bias;
    UnaryKind act; // identity: none
  };
  const Case cases[] = {
      {{1, 3, 7, 7}, 4, 3, 3, 1, 1, 1, {1, 1, 1, 1}, true, UnaryKind::Identity},
      {{2, 4, 9, 5}, 6, 3, 1, 2, 2, 1, {0, 0, 2, 0}, false, UnaryKind::Relu},
      {{1, 8, 6, 6}, 8, 3, 3, 8, 1, 2, {2, 2, 2, 2}, true, UnaryKind::Clip}, // depthwise, dilated
      {{1, 5, 11, 13}, 7, 5, 3, 1, 3, 1, {2, 1, 0, 1}, true, UnaryKind::Identity}, // odd,
                                                                                   // asymmetric
      {{1, 6, 1, 1}, 3, 1, 1, 3, 1, 1, {0, 0, 0, 0}, false, UnaryKind::Identity},  // 1x1 grouped
      {{1, 2, 4, 4}, 2, 3, 3, 1, 1, 1, {0, 0, 0, 0}, false, UnaryKind::Identity},
      {{0, 2, 4, 4}, 2, 3, 3, 1, 1, 1, {0, 0, 0, 0}, false, UnaryKind::Identity}, // empty batch
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    Conv2dParams p;
    p.stride = {c.stride, c.stride};
    p.dilation = {c.dil, c.dil};
    p.pads = c.pads;
    p.group = c.group;
    p.hasBias = c.bias;
    if (c.act != UnaryKind::Identity) p.postOps = {PostOp::makeUnary(c.act, -0.2f, 0.3f)};
    const Shape ws{c.o, c.x[1] / c.group, c.kh, c.kw};
    const Shape ys{c.x[0], c.o, windowOut(c.x[2], c.kh, c.stride, c.dil, c.pads[0], c.pads[2]),
                   windowOut(c.x[3], c.kw, c.stride, c.dil, c.pads[1], c.pads[3])};
    std::vector<TensorDesc> descs = {{DType::F32, c.x}, {DType::F32, ws}};
    std::vector<std::vector<float>> in = {randomFloats(descs[0].numel(), seed++),
                                          randomFloats(descs[1].numel(), seed++)};
    if (c.bias) {
      descs.push_back({DType::F32, {c.o}});
      in.push_back(randomFloats(c.o, seed++));
    }
    descs.push_back({DType::F32, ys});
    Primitive prim;
    prim.params = p;
    auto got = runOn(backendNamed("reference"), prim, descs, in);
    requireClose(got, scatterConv(c.x, in[0], ws, in[1], c.bias ? &in[2] : nullptr, p, ys));
  }
}

TEST_CASE("reference pooling matches a direct window walk") {
  const Shape x{1, 2, 7, 6};
  auto data = randomFloats(84, 3);
  for (PoolKind kind : {PoolKind::Max, PoolKind::Avg})
    for (bool includePad : {false, true}) {
      PoolParams p{kind, {3, 2}, {2, 2}, {1, 0, 2, 1}, includePad};
      const Shape y{1, 2, windowOut(7, 3, 2, 1, 1, 2), windowOut(6, 2, 2, 1, 0, 1)};
      Primitive prim;
      prim.params = p;
      auto got = runOn(backendNamed("reference"), prim, {{DType::F32, x}, {DType::F32, y}}, {data});
      std::vector<float> want;
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t oy = 0; oy < y[2]; ++oy)
          for (int64_t ox = 0; ox < y[3]; ++ox) {
            float best = -INFINITY, sum = 0;
            int count = 0, padded = 0;
            for (int64_t ky = 0; ky < 3; ++ky)
              for (int64_t kx = 0; kx < 2; ++kx) {
                const int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 + kx;
                if (iy < 7 + 2 && ix < 6 + 1) ++padded; // inside the padded input
                if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                const float v = data[(c * 7 + iy) * 6 + ix];
                best = std::max(best, v);
                sum += v;
                ++count;
              }
            want.push_back(kind == PoolKind::Max ? best : sum / (includePad ? padded : count));
          }
      requireClose(got, want);
    }
}

TEST_CASE("reference binary broadcasts through strides") {
  const Shape out{2, 3, 4};
  auto a = randomFloats(24, 5), b = randomFloats(3, 6);
  Primitive prim;
  prim.params = BinaryParams{BinaryKind::Sub, {12, 4, 1}, {0, 1, 0}};
  auto got = runOn(backendNamed("reference"), prim,
                   {{DType::F32, out}, {DType::F32, {3, 1}}, {DType::F32, out}}, {a, b});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k)
        CHECK(got[(i * 3 + j) * 4 + k] == a[(i * 3 + j) * 4 + k] - b[j]);
}

TEST_CASE("reference matmul honours transposed strides and bias") {
  const int64_t m = 3, n = 5, k = 7;
  auto a = randomFloats(k * m, 7), b = randomFloats(n * k, 8), bias = randomFloats(n, 9);
  MatMulParams p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.aStrides = {0, 1, m}; // a stored [k, m]
  p.bStrides = {0, 1, k}; // b stored [n, k]
  p.hasBias = true;
  p.biasStrides = {0, 1};
  Primitive prim;
  prim.params = p;
  auto got =
      runOn(backendNamed("reference"), prim,
            {{DType::F32, {k, m}}, {DType::F32, {n, k}}, {DType::F32, {n}}, {DType::F32, {m, n}}},
            {a, b, bias});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float want = bias[j];
      for (int64_t t = 0; t < k; ++t)
        want += a[t * m + i] * b[j * k + t];
      CHECK(got[i * n + j] == Approx(want).epsilon(1e-5));
    }
}

TEST_CASE("reference reduce over the middle of [outer, extent, inner]") {
  auto x = randomFloats(2 * 5 * 3, 10);
  for (ReduceKind kind : {ReduceKind::Sum, ReduceKind::Mean, ReduceKind::Max, ReduceKind::Min}) {
    Primitive prim;
    prim.params = ReduceParams{kind, 2, 5, 3};
    auto got = runOn(backendNamed("reference"), prim,
                     {{DType::F32, {2, 5, 3}}, {DType::F32, {2, 1, 3}}}, {x});
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t i = 0; i < 3; ++i) {
        float sum = 0, mx = -INFINITY, mn = INFINITY;
        for (int64_t e = 0; e < 5; ++e) {
          const float v = x[(o * 5 + e) * 3 + i];
          sum += v;
          mx = std::max(mx, v);
          mn = std::min(mn, v);
        }
        const float want = kind == ReduceKind::Sum    ? sum
                           : kind == ReduceKind::Mean ? sum / 5
                           : kind == ReduceKind::Max  ? mx
                                                      : mn;
        CHECK(got[o * 3 + i] == Approx(want).epsilon(1e-5));
      }
  }
}

TEST_CASE("every backend that claims a raster agrees with the reference") {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    // A random 3-D region, strides possibly negative or zero, inside an 8x9x10 source.
    std::uniform_int_distribution<int64_t> sz(0, 4);
    Region r;
    r.size = {sz(rng), sz(rng) + 1, sz(rng) + 1};
    std::uniform_int_distribution<int64_t> st(-3, 3);
    r.src.stride = {st(rng) * 90, st(rng) * 10, st(rng)};
    int64_t lo = 0;
    for (int i = 0; i < 3; ++i)
      lo += std::min<int64_t>(0, (std::max<int64_t>(r.size[i], 1) - 1) * r.src.stride[i]);
    r.src.offset = -lo;
    r.dst.stride = {r.size[1] * r.size[2], r.size[2], 1};
    RasterParams p;
    p.regions = {r};
    const TensorDesc src{DType::F32, {8, 9, 10}};
    const TensorDesc dst{DType::F32, {std::max<int64_t>(r.size[0] * r.size[1] * r.size[2], 1)}};
    if (!checkRegionBounds(r, src.numel(), dst.numel()).isOk()) continue;
    if (r.size[0] == 0) p.fill = 0.5; // nothing copied: the fill must show
    auto data = randomFloats(src.numel(), 100 + trial);
    Primitive prim;
    prim.params = p;
    auto want = runOn(backendNamed("reference"), prim, {src, dst}, {data});
    for (const auto& b : registry.all()) {
      prim.inputs = {0};
      prim.outputs = {1};
      if (!b->descriptor().supports(prim, {src, dst})) continue;
      INFO("backend " << b->name() << ", trial " << trial);
      if (b->descriptor().memorySpace() == kHostSpace)
        CHECK(runOn(*b, prim, {src, dst}, {data}) == want);
      else // a device backend (vulkan): in a session, with the copies
        CHECK(test::runOnNamed(registry, std::string(b->name()), prim, {src, dst}, {data}) == want);
    }
  }
}

namespace {

// Runs a binary primitive on the reference backend over two 1-D operands of n elements (rhs
// broadcast when it has one element) and returns the output bytes.
template <typename T>
std::vector<uint8_t> runBinaryBytes(BinaryKind kind, DType in, DType out, const std::vector<T>& a,
                                    const std::vector<T>& b) {
  const auto n = static_cast<int64_t>(a.size());
  Primitive p{BinaryParams{kind, {1}, {b.size() == 1 ? 0 : 1}}, {0, 1}, {2}, "b"};
  const std::vector<TensorDesc> t{{in, {n}}, {in, {static_cast<int64_t>(b.size())}}, {out, {n}}};
  REQUIRE(validatePrimitive(p, t).isOk());
  std::vector<uint8_t> y(static_cast<size_t>(n) * dtypeSize(out));
  const std::vector<const void*> ins{a.data(), b.data()};
  REQUIRE(runPrimitiveOnHost(backendNamed("reference"), p, t, ins, y.data()).isOk());
  return y;
}

} // namespace

TEST_CASE("reference comparisons, logic and remainders follow ONNX") {
  const std::vector<float> a{-2.f, 0.f, 1.5f, 3.f, NAN}, b{0.f, 0.f, 2.f, 1.f, NAN};
  CHECK(runBinaryBytes(BinaryKind::Less, DType::F32, DType::Bool, a, b) ==
        std::vector<uint8_t>{1, 0, 1, 0, 0});
  CHECK(runBinaryBytes(BinaryKind::Equal, DType::F32, DType::Bool, a, b) ==
        std::vector<uint8_t>{0, 1, 0, 0, 0}); // NaN equals nothing
  CHECK(runBinaryBytes(BinaryKind::GreaterOrEqual, DType::F32, DType::Bool, a, b) ==
        std::vector<uint8_t>{0, 1, 0, 1, 0});
  const std::vector<int64_t> i{-7, 7, -7, 7, 5, INT64_MIN}, j{3, -3, -3, 3, 0, -1};
  // Mod: the divisor's sign; FMod: the dividend's; by zero 0; INT64_MIN % -1 is 0, not a trap.
  const auto mod = runBinaryBytes(BinaryKind::Mod, DType::I64, DType::I64, i, j);
  const auto fmod = runBinaryBytes(BinaryKind::FMod, DType::I64, DType::I64, i, j);
  std::vector<int64_t> m(6), f(6);
  std::memcpy(m.data(), mod.data(), 48);
  std::memcpy(f.data(), fmod.data(), 48);
  CHECK(m == std::vector<int64_t>{2, -2, -1, 1, 0, 0});
  CHECK(f == std::vector<int64_t>{-1, 1, -1, 1, 0, 0});
  const std::vector<float> x{-7.5f, 7.5f}, y{2.f};
  const auto fm = runBinaryBytes(BinaryKind::FMod, DType::F32, DType::F32, x, y);
  std::vector<float> fv(2);
  std::memcpy(fv.data(), fm.data(), 8);
  CHECK(fv == std::vector<float>{-1.5f, 1.5f});
  const std::vector<uint8_t> p{0, 0, 1, 1}, q{0, 1, 0, 1};
  CHECK(runBinaryBytes(BinaryKind::And, DType::Bool, DType::Bool, p, q) ==
        std::vector<uint8_t>{0, 0, 0, 1});
  CHECK(runBinaryBytes(BinaryKind::Or, DType::Bool, DType::Bool, p, q) ==
        std::vector<uint8_t>{0, 1, 1, 1});
  CHECK(runBinaryBytes(BinaryKind::Xor, DType::Bool, DType::Bool, p, q) ==
        std::vector<uint8_t>{0, 1, 1, 0});
  CHECK(runBinaryBytes(BinaryKind::Equal, DType::Bool, DType::Bool, p, q) ==
        std::vector<uint8_t>{1, 0, 0, 1});
}

// The output of runBinaryBytes as values of T.
template <typename T> std::vector<T> asValues(const std::vector<uint8_t>& bytes) {
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

TEST_CASE("reference integer arithmetic on every width wraps, divides and shifts like ONNX") {
  // 8-bit: wrapping sums and products, Mod with the divisor's sign, by zero 0.
  const std::vector<int8_t> a{100, -128, -7, 7, 5}, b{100, -1, 3, -3, 0};
  CHECK(asValues<int8_t>(runBinaryBytes(BinaryKind::Add, DType::I8, DType::I8, a, b)) ==
        std::vector<int8_t>{-56, 127, -4, 4, 5});
  CHECK(asValues<int8_t>(runBinaryBytes(BinaryKind::Mod, DType::I8, DType::I8, a, b)) ==
        std::vector<int8_t>{0, 0, 2, -2, 0});
  CHECK(asValues<int8_t>(runBinaryBytes(BinaryKind::Div, DType::I8, DType::I8, a, b)) ==
        std::vector<int8_t>{1, 0, -2, -2, 0}); // -128 / -1 overflows: 0, like by zero
  // Unsigned: no sign games (x % max is x), wrapping subtraction, extremes.
  const std::vector<uint32_t> u{7, 0, UINT32_MAX, 10}, v{UINT32_MAX, 1, 2, 3};
  CHECK(asValues<uint32_t>(runBinaryBytes(BinaryKind::Mod, DType::U32, DType::U32, u, v)) ==
        std::vector<uint32_t>{7, 0, 1, 1});
  CHECK(asValues<uint32_t>(runBinaryBytes(BinaryKind::Sub, DType::U32, DType::U32, u, v)) ==
        std::vector<uint32_t>{8, UINT32_MAX, UINT32_MAX - 2, 7});
  CHECK(asValues<uint32_t>(runBinaryBytes(BinaryKind::Max, DType::U32, DType::U32, u, v)) ==
        std::vector<uint32_t>{UINT32_MAX, 1, UINT32_MAX, 10});
  const std::vector<int16_t> s{-300, 300}, t{2};
  CHECK(asValues<int16_t>(runBinaryBytes(BinaryKind::Mul, DType::I16, DType::I16, s, t)) ==
        std::vector<int16_t>{-600, 600});
  CHECK(asValues<int16_t>(runBinaryBytes(BinaryKind::Pow, DType::I16, DType::I16, s, t)) ==
        std::vector<int16_t>{INT16_MAX, INT16_MAX}); // 90000 saturates
  // Shifts: a width or more gives 0; left drops the high bits.
  const std::vector<uint8_t> x{1, 0x81, 0xff, 16}, y{7, 1, 8, 4};
  CHECK(runBinaryBytes(BinaryKind::ShiftLeft, DType::U8, DType::U8, x, y) ==
        std::vector<uint8_t>{0x80, 0x02, 0, 0});
  CHECK(runBinaryBytes(BinaryKind::ShiftRight, DType::U8, DType::U8, x, y) ==
        std::vector<uint8_t>{0, 0x40, 0, 1});
  const std::vector<uint64_t> w{1, UINT64_MAX}, z{63, 64};
  CHECK(asValues<uint64_t>(runBinaryBytes(BinaryKind::ShiftLeft, DType::U64, DType::U64, w, z)) ==
        std::vector<uint64_t>{uint64_t{1} << 63, 0});
  // Shifts take unsigned integers only.
  const std::vector<TensorDesc> ii{{DType::I32, {2}}, {DType::I32, {2}}, {DType::I32, {2}}};
  Primitive shl{BinaryParams{BinaryKind::ShiftLeft, {1}, {1}}, {0, 1}, {2}, "b"};
  CHECK_THAT(validatePrimitive(shl, ii).message(), Catch::Contains("unsigned"));
  // Half types are storage: no backend computes on them (rules cast to f32).
  const std::vector<TensorDesc> hh{{DType::F16, {2}}, {DType::F16, {2}}, {DType::F16, {2}}};
  Primitive add{BinaryParams{BinaryKind::Add, {1}, {1}}, {0, 1}, {2}, "b"};
  CHECK(validatePrimitive(add, hh).isOk());
  CHECK_FALSE(backendNamed("reference").descriptor().supports(add, hh));
  CHECK_FALSE(backendNamed("cpu_x86").descriptor().supports(add, hh));
}

TEST_CASE("binary kinds are checked against their dtypes; post-ops carry arithmetic only; cpu_x86 "
          "declines what it lacks") {
  const std::vector<TensorDesc> f{{DType::F32, {4}}, {DType::F32, {4}}, {DType::F32, {4}}},
      fb{{DType::F32, {4}}, {DType::F32, {4}}, {DType::Bool, {4}}},
      bb{{DType::Bool, {4}}, {DType::Bool, {4}}, {DType::Bool, {4}}};
  const auto check = [](BinaryKind k, const std::vector<TensorDesc>& t) {
    return validatePrimitive(Primitive{BinaryParams{k, {1}, {1}}, {0, 1}, {2}, "b"}, t).isOk();
  };
  CHECK(check(BinaryKind::Less, fb));
  CHECK_FALSE(check(BinaryKind::Less, f)); // a comparison gives bools
  CHECK(check(BinaryKind::Xor, bb));
  CHECK_FALSE(check(BinaryKind::Xor, fb)); // logic takes bools
  CHECK(check(BinaryKind::FMod, f));
  CHECK_FALSE(check(BinaryKind::Add, fb)); // arithmetic keeps the dtype
  CHECK_FALSE(check(BinaryKind::Add, bb));
  // No backend but the reference claims them; a comparison is no conv2d post-op.
  Primitive less{BinaryParams{BinaryKind::Less, {1}, {1}}, {0, 1}, {2}, "b"};
  CHECK_FALSE(backendNamed("cpu_x86").descriptor().supports(less, fb));
  Primitive fm{BinaryParams{BinaryKind::FMod, {1}, {1}}, {0, 1}, {2}, "b"};
  CHECK_FALSE(backendNamed("cpu_x86").descriptor().supports(fm, f));
  // Likewise a product reduction: cpu_x86's reductions are sums, means and extremes.
  Primitive prod{ReduceParams{ReduceKind::Prod, 1, 4, 1}, {0}, {1}, "prod"};
  const std::vector<TensorDesc> rt{{DType::F32, {4}}, {DType::F32, {1}}};
  CHECK_FALSE(backendNamed("cpu_x86").descriptor().supports(prod, rt));
  CHECK(backendNamed("reference").descriptor().supports(prod, rt));
  Conv2dParams c;
  c.postOps = {PostOp::makeBinary(BinaryKind::Less, Broadcast::Scalar, 2)};
  Primitive conv{c, {0, 1, 2}, {3}, "conv"};
  const std::vector<TensorDesc> ct{{DType::F32, {1, 1, 2, 2}},
                                   {DType::F32, {1, 1, 1, 1}},
                                   {DType::F32, {}},
                                   {DType::F32, {1, 1, 2, 2}}};
  CHECK_THAT(validatePrimitive(conv, ct).message(), Catch::Contains("not an arithmetic step"));
}

TEST_CASE("reference scatter replaces or combines rows in index order, negative from the end") {
  // data [4, 2]; indices 1, -1 (row 3), 1 again: the later write to row 1 wins.
  const std::vector<float> data{0, 1, 2, 3, 4, 5, 6, 7}, upd{10, 11, 20, 21, 30, 31};
  const std::vector<int64_t> idx{1, -1, 1};
  const std::vector<TensorDesc> t{
      {DType::F32, {4, 2}}, {DType::I64, {3}}, {DType::F32, {3, 2}}, {DType::F32, {4, 2}}};
  const auto run = [&](bool reduce, BinaryKind kind, const std::vector<int64_t>& indices) {
    Primitive p{ScatterParams{1, 4, 2, reduce, kind}, {0, 1, 2}, {3}, "s"};
    REQUIRE(validatePrimitive(p, t).isOk());
    std::vector<float> y(8, -1.f);
    const std::vector<const void*> ins{data.data(), indices.data(), upd.data()};
    const Status s = runPrimitiveOnHost(backendNamed("reference"), p, t, ins, y.data());
    return std::make_pair(s, y);
  };
  CHECK(run(false, BinaryKind::Add, idx).second == std::vector<float>{0, 1, 30, 31, 4, 5, 20, 21});
  CHECK(run(true, BinaryKind::Add, idx).second == std::vector<float>{0, 1, 42, 45, 4, 5, 26, 28});
  CHECK(run(true, BinaryKind::Mul, idx).second ==
        std::vector<float>{0, 1, 600, 1023, 4, 5, 120, 147});
  CHECK(run(true, BinaryKind::Min, idx).second == std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7});
  // An index outside [-4, 4) fails the run, naming it.
  const auto bad = run(false, BinaryKind::Add, {1, 4, 0});
  CHECK_THAT(bad.first.message(), Catch::Contains("index 4 out of range [-4, 4)"));
  // Validation: updates must be [outer, count, inner]; combining needs a numeric kind.
  Primitive wrong{ScatterParams{1, 4, 2, false, BinaryKind::Add}, {0, 1, 2}, {3}, "s"};
  std::vector<TensorDesc> short2 = t;
  short2[2] = {DType::F32, {2, 2}};
  CHECK_THAT(validatePrimitive(wrong, short2).message(), Catch::Contains("scatter dims"));
  Primitive sub{ScatterParams{1, 4, 2, true, BinaryKind::Sub}, {0, 1, 2}, {3}, "s"};
  CHECK_THAT(validatePrimitive(sub, t).message(), Catch::Contains("add, mul, max or min"));
  // Integer rows combine with wrapping arithmetic; i32 indices.
  const std::vector<int32_t> small{0, 1, 2, 2147483647}, plus{1, 1};
  const std::vector<int32_t> at{3, 3};
  const std::vector<TensorDesc> it{
      {DType::I32, {4, 1}}, {DType::I32, {2}}, {DType::I32, {2, 1}}, {DType::I32, {4, 1}}};
  Primitive add{ScatterParams{1, 4, 1, true, BinaryKind::Add}, {0, 1, 2}, {3}, "s"};
  REQUIRE(validatePrimitive(add, it).isOk());
  std::vector<int32_t> y(4);
  const std::vector<const void*> ins{small.data(), at.data(), plus.data()};
  REQUIRE(runPrimitiveOnHost(backendNamed("reference"), add, it, ins, y.data()).isOk());
  CHECK(y == std::vector<int32_t>{0, 1, 2, -2147483647});
}
