// A GPU backend (a plugin: $TESSEL_GPU_BACKEND, vulkan, opencl or metal; ctest runs this binary
// once for each built) against the reference backend: every primitive it takes, over shapes that
// hit the edges (empty, one element, odd sizes, broadcasting, negative strides, fills, more
// elements than one row of workgroups, groups, padding, post-op lists), and a plan split between it
// and a CPU backend, with the copies the session inserts. For vulkan, ctest sets
// TESSEL_VULKAN_VALIDATION=1: the validation layer's messages fail the test
// (tests/CMakeLists.txt).
#include "tessel/backends/reference.h"
#include "tessel/runtime/measure.h"
#include "tessel/runtime/session.h"
#include "test_util.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

using namespace tessel;

namespace {

const BackendRegistry& registry() {
  static BackendRegistry r = [] {
    BackendRegistry b;
    registerBuiltinBackends(b);
    return b;
  }();
  return r;
}

// The backend under test.
std::string gpu() {
  const char* name = std::getenv("TESSEL_GPU_BACKEND");
  return name && *name ? name : "vulkan";
}

void requireGpu() {
  const std::string* why = registry().unavailable(gpu());
  INFO(gpu() << " unavailable: " << (why ? *why : std::string("not built")));
  REQUIRE(registry().find(gpu()) != nullptr);
}

// Runs prog (one input, given as bytes) on the GPU backend (at `precision`), checking it took
// primitive 0, and on the reference backend; both outputs' bytes.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>>
runBothBytes(const std::shared_ptr<Program>& prog, const void* input, size_t inputBytes,
             Precision precision = Precision::F32) {
  const Status valid = validateProgram(*prog);
  INFO(valid.message());
  REQUIRE(valid.isOk());
  SessionOptions opts;
  opts.backend = gpu();
  opts.precision = precision;
  auto sv = Session::create(prog, registry(), opts);
  INFO((sv.isOk() ? std::string() : sv.status().message()));
  REQUIRE(sv.isOk());
  CHECK((*sv)->backendOf(0)->name() == gpu());
  BackendRegistry ref;
  registerReferenceBackend(ref);
  auto sr = Session::create(prog, ref);
  REQUIRE(sr.isOk());
  std::vector<uint8_t> outs[2];
  const auto bytes = static_cast<size_t>(prog->tensors[prog->outputs[0]].desc.byteSize());
  for (int k = 0; k < 2; ++k) {
    Session& s = k == 0 ? **sv : **sr;
    REQUIRE(s.setInput(0, input, inputBytes).isOk());
    const Status st = s.run();
    INFO(st.message());
    REQUIRE(st.isOk());
    const auto* p = static_cast<const uint8_t*>(s.outputData(0));
    outs[k].assign(p, p + bytes);
  }
  return {outs[0], outs[1]};
}

// The same over f32 input and output.
std::pair<std::vector<float>, std::vector<float>> runBoth(const std::shared_ptr<Program>& prog,
                                                          const std::vector<float>& x,
                                                          Precision precision = Precision::F32) {
  auto [got, want] = runBothBytes(prog, x.data(), x.size() * sizeof(float), precision);
  const auto floats = [](const std::vector<uint8_t>& b) {
    std::vector<float> f(b.size() / sizeof(float));
    std::memcpy(f.data(), b.data(), b.size());
    return f;
  };
  return {floats(got), floats(want)};
}

// The conformance suite's tolerance: Vulkan and OpenCL let a device's inverse trigonometric and
// hyperbolic functions err by more than a CPU's libm (lavapipe's acos: about 2e-4 relative).
constexpr double kRtol = 1e-3, kAtol = 1e-5;

void compare(const std::vector<float>& got, const std::vector<float>& want, double rtol = kRtol,
             double atol = kAtol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      CHECK(std::isnan(got[i]));
      continue;
    }
    INFO("element " << i);
    CHECK(got[i] == Approx(want[i]).epsilon(rtol).margin(atol));
  }
}

// Inputs inside a unary kind's domain (acosh from 1, atanh and the inverse sines inside (-1, 1),
// logarithms and roots of positives), spread over it.
std::vector<float> inputsFor(UnaryKind k, int64_t n) {
  std::vector<float> x = test::randomFloats(n, 7); // in [-1, 1)
  for (float& v : x) {
    switch (k) {
    case UnaryKind::Log:
    case UnaryKind::Sqrt: v = std::fabs(v) * 4 + 0.01f; break;
    case UnaryKind::Acosh: v = std::fabs(v) * 4 + 1.f; break;
    case UnaryKind::Asin:
    case UnaryKind::Acos:
    case UnaryKind::Atanh: v *= 0.99f; break;
    case UnaryKind::Reciprocal: v = v < 0 ? v - 0.1f : v + 0.1f; break;
    default: v *= 6; break;
    }
  }
  return x;
}

std::shared_ptr<Program> unaryProgram(const UnaryParams& u, const Shape& shape) {
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, shape}, nullptr}, {"y", {DType::F32, shape}, nullptr}};
  prog->primitives = {Primitive{u, {0}, {1}, "unary"}};
  prog->inputs = {0};
  prog->outputs = {1};
  return prog;
}

// The strides per output dim that read a numpy-broadcast operand of shape `in`.
I64List broadcastStrides(const Shape& in, const Shape& out) {
  I64List s(out.size(), 0);
  int64_t dense = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    s[o] = in[i] == 1 ? 0 : dense;
    dense *= in[i];
  }
  return s;
}

// y = x kind c: x the input (shape `a`), c a constant of shape `b`, y of their broadcast shape.
std::shared_ptr<Program> binaryProgram(BinaryKind k, const Shape& a, const Shape& b,
                                       const Shape& out, const std::vector<float>& c) {
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, a}, nullptr},
                   {"c", {DType::F32, b}, c.empty() ? nullptr : c.data()},
                   {"y", {DType::F32, out}, nullptr}};
  static const float kNone = 0;
  if (c.empty()) prog->tensors[1].data = &kNone;
  prog->primitives = {Primitive{
      BinaryParams{k, broadcastStrides(a, out), broadcastStrides(b, out)}, {0, 1}, {2}, "binary"}};
  prog->inputs = {0};
  prog->outputs = {2};
  return prog;
}

} // namespace

TEST_CASE("gpu: every unary kind against the reference", "[gpu]") {
  requireGpu();
  for (int kind = 0; kind <= static_cast<int>(UnaryKind::Round); ++kind) {
    const auto k = static_cast<UnaryKind>(kind);
    if (k == UnaryKind::Cast) continue; // changes the dtype: a CPU backend's
    const float alpha = k == UnaryKind::Clip ? -1.5f : k == UnaryKind::Celu ? 1.3f : 0.7f;
    const float beta = k == UnaryKind::Clip ? 2.5f : k == UnaryKind::Selu ? 1.05f : 0.4f;
    for (const Shape& shape :
         {Shape{0}, Shape{1}, Shape{7}, Shape{3, 5, 17}, Shape{2, 1000}, Shape{4}}) {
      INFO("kind " << kind << " shape " << shapeToString(shape));
      const int64_t n = TensorDesc{DType::F32, shape}.numel();
      const std::vector<float> x = inputsFor(k, n);
      auto [got, want] = runBoth(unaryProgram({k, alpha, beta}, shape), x);
      compare(got, want);
    }
  }
}

TEST_CASE("gpu: more elements than one row of workgroups", "[gpu]") {
  requireGpu();
  // 256 x 65535 invocations fill the x dimension on most devices; past it, rows of groups.
  const Shape shape{(int64_t{256} * 65535) + 1023};
  const std::vector<float> x = inputsFor(UnaryKind::Neg, shape[0]);
  auto [got, want] = runBoth(unaryProgram({UnaryKind::Neg}, shape), x);
  REQUIRE(got == want);
}

TEST_CASE("gpu: binary kinds with broadcasting against the reference", "[gpu]") {
  requireGpu();
  struct Case {
    Shape a, b, out;
  };
  const std::vector<Case> cases = {
      {{7}, {7}, {7}},
      {{2, 3, 4}, {4}, {2, 3, 4}},
      {{5, 1, 7}, {1, 3, 1}, {5, 3, 7}},
      {{3}, {}, {3}},
      {{0, 3}, {3}, {0, 3}},
      {{2, 1, 3, 1, 2, 3}, {1, 4, 1, 5, 1, 1}, {2, 4, 3, 5, 2, 3}},
      {{1, 33, 17}, {33, 1}, {1, 33, 17}},
      // Last dims of 4s: four elements an invocation (Vulkan), each operand running along the
      // last dim or broadcast along it.
      {{3, 8}, {8}, {3, 8}},
      {{2, 3, 8}, {3, 1}, {2, 3, 8}},
      {{4, 8}, {4, 8}, {4, 8}},
      {{1, 5, 4}, {}, {1, 5, 4}},
      {{2, 1, 12}, {2, 3, 1}, {2, 3, 12}},
  };
  for (BinaryKind k : {BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul, BinaryKind::Div,
                       BinaryKind::Max, BinaryKind::Min, BinaryKind::Pow, BinaryKind::FMod}) {
    for (const Case& c : cases) {
      INFO("kind " << static_cast<int>(k) << " " << shapeToString(c.a) << " with "
                   << shapeToString(c.b));
      const int64_t na = TensorDesc{DType::F32, c.a}.numel();
      const int64_t nb = TensorDesc{DType::F32, c.b}.numel();
      std::vector<float> x = test::randomFloats(na, 3), cv = test::randomFloats(nb, 4);
      for (float& v : x)
        v *= 4;
      for (float& v : cv) // divisors away from zero; integral exponents half the time
        v = k == BinaryKind::Pow ? std::round(v * 3) : (v < 0 ? v - 0.5f : v + 0.5f);
      if (k == BinaryKind::Pow)
        for (size_t i = 0; i < x.size(); i += 2)
          x[i] = std::fabs(x[i]); // non-integral powers of positives too
      auto [got, want] = runBoth(binaryProgram(k, c.a, c.b, c.out, cv), x);
      compare(got, want);
    }
  }
}

TEST_CASE("gpu: rasters against the reference", "[gpu]") {
  requireGpu();
  // x [3, 5, 7] moved by regions: a transpose, a reversal with a fill around it, and a concat of
  // x with a constant; f32, and the same bytes as i64 (two words an element).
  for (const DType dt : {DType::F32, DType::I64}) {
    const int64_t words = dt == DType::I64 ? 2 : 1;
    const std::vector<float> x = test::randomFloats(3 * 5 * 7 * words, 5);
    static std::vector<float> constant;
    constant = test::randomFloats(2 * 5 * 7 * words, 6);
    struct Case {
      Shape out;
      std::vector<Region> regions;
      std::optional<double> fill;
    };
    const std::vector<Case> cases = {
        {{7, 5, 3}, {Region{0, {0, {1, 7, 35}}, {0, {15, 3, 1}}, {7, 5, 3}}}, std::nullopt},
        {{4, 5, 7}, {Region{0, {104, {-35, -7, -1}}, {35, {35, 7, 1}}, {3, 5, 7}}}, 1.5},
        {{5, 5, 7},
         {Region{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 105}},
          Region{1, {0, {0, 0, 1}}, {105, {0, 0, 1}}, {1, 1, 70}}},
         std::nullopt},
        {{0, 5}, {}, 2.0},
    };
    for (const Case& c : cases) {
      INFO("dtype " << dtypeName(dt) << " out " << shapeToString(c.out));
      auto prog = std::make_shared<Program>();
      prog->tensors = {{"x", {dt, {3, 5, 7}}, nullptr},
                       {"c", {dt, {2, 5, 7}}, constant.data()},
                       {"y", {dt, c.out}, nullptr}};
      RasterParams r;
      r.regions = c.regions;
      r.fill = c.fill;
      prog->primitives = {Primitive{r, {0, 1}, {2}, "raster"}};
      prog->inputs = {0};
      prog->outputs = {2};
      auto [got, want] = runBothBytes(prog, x.data(), x.size() * sizeof(float));
      CHECK(got == want);
    }
  }
}

namespace {

// r over x ([outer, extent, inner]) on the GPU and on the reference: arg reductions' i64
// indices byte for byte, the rest within the tolerance.
// Runs `check` once per kernel the backend offers for prog's primitive 0, each planned in turn.
template <typename Check> void forEachCandidate(Program& prog, Check&& check) {
  std::vector<TensorDesc> descs;
  for (const ProgramTensor& t : prog.tensors)
    descs.push_back(t.desc);
  const auto candidates =
      registry().find(gpu())->descriptor().candidates(prog.primitives[0], descs);
  REQUIRE(!candidates.empty());
  for (const KernelCandidate& candidate : candidates) {
    INFO("kernel " << candidate.name);
    prog.backends = {gpu()};
    prog.kernels = {candidate.choice};
    check();
  }
}

void checkReduce(const ReduceParams& r, const std::vector<float>& x) {
  const bool arg = reduceGivesIndex(r.kind);
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, {r.outer, r.extent, r.inner}}, nullptr},
                   {"y", {arg ? DType::I64 : DType::F32, {r.outer, 1, r.inner}}, nullptr}};
  prog->primitives = {Primitive{r, {0}, {1}, "reduce"}};
  prog->inputs = {0};
  prog->outputs = {1};
  forEachCandidate(*prog, [&] {
    if (arg) {
      auto [got, want] = runBothBytes(prog, x.data(), x.size() * sizeof(float));
      CHECK(got == want);
    } else {
      auto [got, want] = runBoth(prog, x);
      compare(got, want);
    }
  });
}

} // namespace

TEST_CASE("gpu: every reduce kind against the reference", "[gpu]") {
  requireGpu();
  struct Case {
    int64_t outer, extent, inner;
  };
  const std::vector<Case> cases = {{1, 1, 1}, {3, 7, 5},   {2, 32768, 1}, {0, 4, 3},
                                   {4, 0, 2}, {1, 33, 65}, {257, 3, 1}};
  for (int kind = 0; kind <= static_cast<int>(ReduceKind::Prod); ++kind) {
    const auto k = static_cast<ReduceKind>(kind);
    const bool arg = k == ReduceKind::ArgMax || k == ReduceKind::ArgMin;
    for (const Case& c : cases) {
      if (arg && c.extent == 0) continue; // no index to give: not a reduce the planner emits
      for (const bool last : {false, true}) {
        INFO("kind " << kind << " " << c.outer << "x" << c.extent << "x" << c.inner << " last "
                     << last);
        std::vector<float> x = test::randomFloats(c.outer * c.extent * c.inner, 9);
        for (float& v : x) // ties for the arg reductions; products of modest size
          v = arg ? std::round(v * 3) : k == ReduceKind::Prod ? 1.f + v / 64 : v;
        checkReduce(ReduceParams{k, c.outer, c.extent, c.inner, last}, x);
      }
    }
  }
}

TEST_CASE("gpu: the first choice is the candidate estimated fastest", "[gpu]") {
  requireGpu();
  const BackendDescriptor& d = registry().find(gpu())->descriptor();
  for (const ReduceParams& r :
       {ReduceParams{ReduceKind::Sum, 1, 1 << 20, 1}, ReduceParams{ReduceKind::Mean, 8, 4096, 16},
        ReduceParams{ReduceKind::Sum, 4096, 8, 1}, ReduceParams{ReduceKind::Max, 1, 4096, 1}}) {
    const std::vector<TensorDesc> descs = {{DType::F32, {r.outer, r.extent, r.inner}},
                                           {DType::F32, {r.outer, 1, r.inner}}};
    const Primitive p{r, {0}, {1}, "reduce"};
    const auto candidates = d.candidates(p, descs);
    REQUIRE(!candidates.empty());
    KernelChoice best;
    double bestSeconds = std::numeric_limits<double>::infinity();
    for (const KernelCandidate& k : candidates) {
      const double seconds = d.estimateSeconds(p, descs, k.choice, 1);
      CHECK(seconds > 0);
      if (seconds < bestSeconds) {
        bestSeconds = seconds;
        best = k.choice;
      }
    }
    INFO(r.outer << " x " << r.extent << " x " << r.inner);
    CHECK(d.firstChoice(p, descs) == best);
  }
}

TEST_CASE("gpu: a reduction's scratch is what its descriptor says", "[gpu]") {
  // One pass (no scratch), two passes through partials (an extent longer than an invocation
  // walks, on Vulkan), each kernel candidate: the prepared kernel's workspace is the
  // descriptor's (the search's arena counts it).
  requireGpu();
  Backend* backend = registry().find(gpu());
  const BackendDescriptor& d = backend->descriptor();
  auto device = backend->device();
  REQUIRE(device.isOk());
  for (const ReduceParams& r :
       {ReduceParams{ReduceKind::Sum, 1, 1 << 20, 1}, ReduceParams{ReduceKind::ArgMax, 3, 70000, 5},
        ReduceParams{ReduceKind::Max, 8, 4096, 16}, ReduceParams{ReduceKind::Sum, 4096, 8, 1}}) {
    const bool arg = reduceGivesIndex(r.kind);
    const std::vector<TensorDesc> descs = {{DType::F32, {r.outer, r.extent, r.inner}},
                                           {arg ? DType::I64 : DType::F32, {r.outer, 1, r.inner}}};
    const Primitive p{r, {0}, {1}, "reduce"};
    const void* constants[] = {nullptr};
    bool scratch = false;
    for (const KernelCandidate& k : d.candidates(p, descs)) {
      PrepareArgs args;
      args.primitive = &p;
      args.tensors = &descs;
      args.constants = constants;
      args.choice = k.choice;
      auto kernel = backend->prepare(args, **device);
      REQUIRE(kernel.isOk());
      INFO(r.outer << " x " << r.extent << " x " << r.inner << ", " << k.name);
      CHECK((*kernel)->workspaceBytes(1) == d.workspaceBytes(p, descs, k.choice, 0, 1));
      scratch = scratch || (*kernel)->workspaceBytes(1) > 0;
    }
    // Vulkan's shaders split an extent past one invocation's longest walk (kMaxLoop) into two
    // passes; OpenCL's kernel walks it whole.
    if (gpu() == "vulkan") CHECK(scratch == (r.extent > 32768));
  }
}

TEST_CASE("gpu: a device's copies are measured for the search's transfer model", "[gpu]") {
  requireGpu();
  auto t = measureTransfer(*registry().find(gpu()));
  INFO((t.isOk() ? std::string() : t.status().message()));
  REQUIRE(t.isOk());
  CHECK(t->latencySeconds > 0);
  CHECK(t->latencySeconds < 0.1);
  CHECK(t->bytesPerSecond > 1e7);
  // A host backend makes no copies.
  Backend* reference = registry().find("reference");
  REQUIRE(reference);
  CHECK_FALSE(measureTransfer(*reference).isOk());
  // The host's memory reads are timed; a device's are not (the host cannot time them).
  CHECK_FALSE(measureReadRate(*registry().find(gpu()), 1).isOk());
  for (int threads : {1, 2}) {
    auto rate = measureReadRate(*reference, threads);
    INFO((rate.isOk() ? std::string() : rate.status().message()));
    REQUIRE(rate.isOk());
    CHECK(*rate > 1e8);
    CHECK(*rate < 1e13);
  }
}

TEST_CASE("gpu: matmuls with strides, broadcast batches and bias against the reference", "[gpu]") {
  requireGpu();
  struct Case {
    int64_t batch, m, n, k;
    bool transposeA, broadcastB, bias, biasPerRow;
  };
  const std::vector<Case> cases = {
      {1, 1, 1, 1, false, false, false, false}, {2, 3, 5, 7, false, false, true, false},
      {1, 17, 33, 65, true, false, true, true}, {3, 4, 1, 9, false, true, false, false},
      {2, 5, 6, 3, true, true, true, false},    {1, 2, 3, 32768, false, false, false, false}};
  for (const Case& c : cases) {
    INFO(c.batch << "x" << c.m << "x" << c.n << "x" << c.k);
    MatMulParams mm;
    mm.batch = c.batch;
    mm.m = c.m;
    mm.n = c.n;
    mm.k = c.k;
    // A [batch, m, k] (stored [batch, k, m] when transposed), B [batch or 1, k, n].
    mm.aStrides = c.transposeA ? I64x3{c.m * c.k, 1, c.m} : I64x3{c.m * c.k, c.k, 1};
    mm.bStrides = {c.broadcastB ? 0 : c.k * c.n, c.n, 1};
    mm.hasBias = c.bias;
    if (c.bias) mm.biasStrides = c.biasPerRow ? I64x2{1, 0} : I64x2{0, 1};
    static std::vector<float> weights, bias;
    weights = test::randomFloats((c.broadcastB ? 1 : c.batch) * c.k * c.n, 12);
    bias = test::randomFloats(c.biasPerRow ? c.m : c.n, 13);
    auto prog = std::make_shared<Program>();
    prog->tensors = {
        {"a", {DType::F32, {c.batch, c.transposeA ? c.k : c.m, c.transposeA ? c.m : c.k}}, nullptr},
        {"b", {DType::F32, {c.broadcastB ? 1 : c.batch, c.k, c.n}}, weights.data()},
        {"y", {DType::F32, {c.batch, c.m, c.n}}, nullptr},
        {"bias", {DType::F32, {c.biasPerRow ? c.m : c.n}}, bias.data()}};
    prog->primitives = {Primitive{
        mm, c.bias ? std::vector<int32_t>{0, 1, 3} : std::vector<int32_t>{0, 1}, {2}, "matmul"}};
    prog->inputs = {0};
    prog->outputs = {2};
    const std::vector<float> x = test::randomFloats(c.batch * c.m * c.k, 14);
    auto [got, want] = runBoth(prog, x);
    compare(got, want);
  }
}

TEST_CASE("gpu: reductions over longer extents than one invocation walks", "[gpu]") {
  requireGpu();
  // Past 32768 the Vulkan backend reduces in chunks, then combines the partials; ties across
  // chunks keep the first (the last with selectLast) of equal values.
  struct Case {
    int64_t outer, extent, inner;
  };
  for (const Case& c : {Case{1, 40000, 1}, Case{2, 70001, 3}})
    for (int kind = 0; kind <= static_cast<int>(ReduceKind::Prod); ++kind) {
      const auto k = static_cast<ReduceKind>(kind);
      const bool arg = reduceGivesIndex(k);
      for (const bool last : {false, true}) {
        INFO("kind " << kind << " " << c.outer << "x" << c.extent << "x" << c.inner << " last "
                     << last);
        std::vector<float> x = test::randomFloats(c.outer * c.extent * c.inner, 41);
        for (float& v : x) // ties across chunks; products near 1
          v = arg ? std::round(v * 2) : k == ReduceKind::Prod ? 1.f + v / 40000 : v;
        checkReduce(ReduceParams{k, c.outer, c.extent, c.inner, last}, x);
      }
    }
}

TEST_CASE("gpu: a plan split with a CPU backend copies between the spaces", "[gpu]") {
  requireGpu();
  // relu on the GPU; nine negations in one elementwise primitive (past the eight post-ops a GPU
  // kernel takes) on the CPU; a row sum as a matmul by ones and an add on the GPU again.
  auto prog = std::make_shared<Program>();
  static const float kBias[2] = {0.5f, -1.f}, kOnes[3] = {1.f, 1.f, 1.f};
  prog->tensors = {{"x", {DType::F32, {2, 3}}, nullptr}, {"r", {DType::F32, {2, 3}}, nullptr},
                   {"s", {DType::F32, {2, 1}}, nullptr}, {"b", {DType::F32, {2, 1}}, kBias},
                   {"y", {DType::F32, {2, 1}}, nullptr}, {"w", {DType::F32, {3, 1}}, kOnes},
                   {"e", {DType::F32, {2, 3}}, nullptr}};
  MatMulParams mm;
  mm.m = 2;
  mm.n = 1;
  mm.k = 3;
  mm.aStrides = {0, 3, 1};
  mm.bStrides = {0, 1, 1};
  ElementwiseParams neg;
  neg.postOps.assign(9, PostOp::makeUnary(UnaryKind::Neg));
  prog->primitives = {Primitive{UnaryParams{UnaryKind::Relu}, {0}, {1}, "relu"},
                      Primitive{neg, {1}, {6}, "negate"}, Primitive{mm, {6, 5}, {2}, "sum"},
                      Primitive{BinaryParams{BinaryKind::Add, {1, 0}, {1, 0}}, {2, 3}, {4}, "add"}};
  prog->inputs = {0};
  prog->outputs = {4};
  REQUIRE(validateProgram(*prog).isOk());
  SessionOptions opts;
  opts.backend = gpu();
  auto s = Session::create(prog, registry(), opts);
  REQUIRE(s.isOk());
  CHECK((*s)->backendOf(0)->name() == gpu());
  CHECK((*s)->backendOf(1)->descriptor().memorySpace() == kHostSpace);
  CHECK((*s)->backendOf(2)->name() == gpu());
  CHECK((*s)->backendOf(3)->name() == gpu());
  const std::vector<float> x = {1, -2, 3, -4, 5, -6};
  // Runs after the first replay what the first recorded (Vulkan): each must see its own input.
  for (int run = 1; run <= 4; ++run) {
    std::vector<float> scaled = x;
    for (float& v : scaled)
      v *= static_cast<float>(run);
    REQUIRE((*s)->setInput(0, scaled.data(), scaled.size() * sizeof(float)).isOk());
    REQUIRE((*s)->run().isOk());
    const auto* y = static_cast<const float*>((*s)->outputData(0));
    const auto k = static_cast<float>(run);
    CHECK(std::vector<float>(y, y + 2) == std::vector<float>{0.5f - 4 * k, -1.f - 5 * k});
  }
  // x up; relu's result down to the CPU's negations, their result up; y down.
  CHECK((*s)->runCopyCount() == 4);
}

namespace {

// The post-op lists the sweeps below try: none; unary steps; operands of each broadcast, first or
// second. Operands are inputs `first`, first + 1, ... (constants made by withOperands).
std::vector<PostOps> postOpLists(int32_t first) {
  return {
      {},
      {PostOp::makeUnary(UnaryKind::Relu)},
      {PostOp::makeUnary(UnaryKind::Clip, 0.f, 0.6f)},
      {PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, first),
       PostOp::makeUnary(UnaryKind::Relu)},
      {PostOp::makeBinary(BinaryKind::Mul, Broadcast::Channel, first),
       PostOp::makeBinary(BinaryKind::Sub, Broadcast::Scalar, first + 1, true),
       PostOp::makeUnary(UnaryKind::HardSwish)},
      {PostOp::makeUnary(UnaryKind::Sigmoid), PostOp::makeUnary(UnaryKind::LeakyRelu, 0.1f),
       PostOp::makeBinary(BinaryKind::Div, Broadcast::Channel, first, true),
       PostOp::makeBinary(BinaryKind::Max, Broadcast::Full, first + 1),
       PostOp::makeBinary(BinaryKind::Min, Broadcast::Scalar, first + 2),
       PostOp::makeBinary(BinaryKind::Pow, Broadcast::Scalar, first + 3),
       PostOp::makeUnary(UnaryKind::Tanh), PostOp::makeUnary(UnaryKind::Neg)},
  };
}

// Appends to prog, as constant tensors, the operands `ops` reads (their sizes from the output's
// `numel` and `channels`), and their ids to `inputs`. Divisors stay away from zero; the pow
// exponent is 2.
void withOperands(Program& prog, const PostOps& ops, int64_t numel, int64_t channels,
                  std::vector<int32_t>& inputs) {
  static std::vector<std::vector<float>> store; // outlives the test's sessions
  for (const PostOp& op : ops) {
    if (!op.isBinary || op.operand < static_cast<int32_t>(inputs.size())) continue;
    const int64_t n = op.broadcast == Broadcast::Scalar    ? 1
                      : op.broadcast == Broadcast::Channel ? channels
                                                           : numel;
    std::vector<float> v = test::randomFloats(n, static_cast<uint32_t>(31 + store.size()));
    for (float& f : v)
      f = op.binary == BinaryKind::Pow ? 2.f : (f < 0 ? f - 0.5f : f + 0.5f);
    v.push_back(0.f); // an empty operand still has data (a constant)
    store.push_back(std::move(v));
    inputs.push_back(static_cast<int32_t>(prog.tensors.size()));
    prog.tensors.push_back(
        {"operand" + std::to_string(op.operand), {DType::F32, {n}}, store.back().data()});
  }
}

} // namespace

TEST_CASE("gpu: conv2d with groups, padding, strides, dilation and post-ops against the "
          "reference",
          "[gpu]") {
  requireGpu();
  struct Case {
    int64_t n, c, h, w, o, kh, kw, group;
    I64x2 stride, dilation;
    I64x4 pads;
    bool bias;
  };
  const std::vector<Case> cases = {
      {1, 1, 1, 1, 1, 1, 1, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, false},
      {1, 3, 9, 11, 5, 3, 3, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},
      {2, 8, 13, 7, 12, 3, 3, 1, {2, 2}, {1, 1}, {1, 0, 0, 1}, true},
      {1, 6, 10, 10, 6, 3, 3, 6, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},   // depthwise
      {1, 12, 9, 9, 12, 5, 5, 12, {2, 2}, {1, 1}, {2, 2, 2, 2}, false}, // depthwise, stride 2
      {1, 8, 8, 8, 6, 3, 3, 2, {1, 1}, {2, 2}, {2, 2, 2, 2}, true},     // groups, dilation
      {1, 16, 5, 6, 7, 1, 1, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, true},    // pointwise, odd o
      {1, 4, 7, 3, 9, 1, 3, 1, {1, 2}, {1, 1}, {0, 1, 0, 1}, false},    // narrow output
      {2, 16, 3, 8, 12, 1, 1, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, true},   // pointwise, rows of 4s
      {1, 8, 4, 4, 8, 1, 1, 2, {1, 1}, {1, 1}, {0, 0, 0, 0}, false},    // the same, 2 groups
      {0, 4, 5, 5, 4, 3, 3, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},     // empty batch
      // Past one GEMM tile of 64 channels and of 64 pixels, with tails of both and of k.
      {1, 5, 10, 9, 70, 3, 3, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},
      {1, 8, 6, 11, 136, 1, 1, 2, {1, 1}, {1, 1}, {0, 0, 0, 0}, false},
  };
  for (const Case& c : cases) {
    const int64_t oh =
        (c.h + c.pads[0] + c.pads[2] - c.dilation[0] * (c.kh - 1) - 1) / c.stride[0] + 1;
    const int64_t ow =
        (c.w + c.pads[1] + c.pads[3] - c.dilation[1] * (c.kw - 1) - 1) / c.stride[1] + 1;
    const Shape ys{c.n, c.o, oh, ow};
    for (const PostOps& ops : postOpLists(c.bias ? 3 : 2)) {
      INFO("conv " << c.n << "x" << c.c << "x" << c.h << "x" << c.w << " -> " << c.o << " k "
                   << c.kh << "x" << c.kw << " group " << c.group << " post-ops " << ops.size());
      static std::vector<float> weights, bias;
      weights = test::randomFloats(c.o * (c.c / c.group) * c.kh * c.kw, 21);
      bias = test::randomFloats(c.o, 22);
      auto prog = std::make_shared<Program>();
      prog->tensors = {{"x", {DType::F32, {c.n, c.c, c.h, c.w}}, nullptr},
                       {"w", {DType::F32, {c.o, c.c / c.group, c.kh, c.kw}}, weights.data()},
                       {"y", {DType::F32, ys}, nullptr}};
      std::vector<int32_t> inputs = {0, 1};
      if (c.bias) {
        inputs.push_back(3);
        prog->tensors.push_back({"b", {DType::F32, {c.o}}, bias.data()});
      }
      withOperands(*prog, ops, TensorDesc{DType::F32, ys}.numel(), c.o, inputs);
      Conv2dParams cp{c.stride, c.pads, c.dilation, c.group, c.bias, ops};
      prog->primitives = {Primitive{cp, inputs, {2}, "conv"}};
      prog->inputs = {0};
      prog->outputs = {2};
      forEachCandidate(*prog, [&] {
        auto [got, want] = runBoth(prog, test::randomFloats(c.n * c.c * c.h * c.w, 23));
        compare(got, want);
      });
    }
  }
}

TEST_CASE("gpu: max and average pooling against the reference", "[gpu]") {
  requireGpu();
  struct Case {
    Shape x;
    I64x2 kernel, stride;
    I64x4 pads;
    Shape y;
  };
  const std::vector<Case> cases = {
      {{1, 1, 1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1, 1, 1}},
      {{2, 3, 9, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {2, 3, 5, 5}},
      {{1, 4, 7, 10}, {2, 3}, {2, 1}, {0, 0, 1, 2}, {1, 4, 4, 10}}, // padding past the end
      {{1, 2, 6, 6}, {3, 3}, {2, 2}, {0, 0, 1, 1}, {1, 2, 3, 3}},   // ceil mode: last window short
      {{1, 2, 5, 5}, {5, 5}, {1, 1}, {2, 2, 2, 2}, {1, 2, 5, 5}},
      {{0, 2, 5, 5}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {0, 2, 2, 2}},
  };
  for (const Case& c : cases)
    for (const PoolKind kind : {PoolKind::Max, PoolKind::Avg})
      for (const bool includePad : {false, true}) {
        INFO("pool " << shapeToString(c.x) << " kernel " << c.kernel[0] << "x" << c.kernel[1]
                     << " kind " << static_cast<int>(kind) << " include pad " << includePad);
        auto prog = std::make_shared<Program>();
        prog->tensors = {{"x", {DType::F32, c.x}, nullptr}, {"y", {DType::F32, c.y}, nullptr}};
        prog->primitives = {
            Primitive{PoolParams{kind, c.kernel, c.stride, c.pads, includePad}, {0}, {1}, "pool"}};
        prog->inputs = {0};
        prog->outputs = {1};
        auto [got, want] =
            runBoth(prog, test::randomFloats(TensorDesc{DType::F32, c.x}.numel(), 24));
        compare(got, want);
      }
}

TEST_CASE("gpu: elementwise programs and matmuls with post-ops against the reference", "[gpu]") {
  requireGpu();
  for (const Shape& shape : {Shape{1}, Shape{3, 5, 7}, Shape{2, 6, 1000}, Shape{0, 4}}) {
    const int64_t channels = shape.size() > 1 ? shape[1] : 1;
    const int64_t inner = shape.size() > 2 ? shape[2] : 1;
    const int64_t n = TensorDesc{DType::F32, shape}.numel();
    for (const PostOps& ops : postOpLists(1)) {
      INFO("elementwise " << shapeToString(shape) << " post-ops " << ops.size());
      auto prog = std::make_shared<Program>();
      prog->tensors = {{"x", {DType::F32, shape}, nullptr}, {"y", {DType::F32, shape}, nullptr}};
      std::vector<int32_t> inputs = {0};
      withOperands(*prog, ops, n, channels, inputs);
      prog->primitives = {Primitive{ElementwiseParams{channels, inner, ops}, inputs, {1}, "ew"}};
      prog->inputs = {0};
      prog->outputs = {1};
      auto [got, want] = runBoth(prog, test::randomFloats(n, 25));
      compare(got, want);
    }
  }
  for (const PostOps& ops : postOpLists(3)) {
    INFO("matmul post-ops " << ops.size());
    MatMulParams mm;
    mm.batch = 2;
    mm.m = 5;
    mm.n = 6;
    mm.k = 7;
    mm.aStrides = {35, 7, 1};
    mm.bStrides = {42, 6, 1};
    mm.hasBias = true;
    mm.biasStrides = {0, 1};
    mm.postOps = ops;
    static std::vector<float> weights, bias;
    weights = test::randomFloats(2 * 7 * 6, 26);
    bias = test::randomFloats(6, 27);
    auto prog = std::make_shared<Program>();
    prog->tensors = {{"a", {DType::F32, {2, 5, 7}}, nullptr},
                     {"b", {DType::F32, {2, 7, 6}}, weights.data()},
                     {"y", {DType::F32, {2, 5, 6}}, nullptr},
                     {"bias", {DType::F32, {6}}, bias.data()}};
    std::vector<int32_t> inputs = {0, 1, 3};
    withOperands(*prog, ops, 60, 6, inputs);
    prog->primitives = {Primitive{mm, inputs, {2}, "matmul"}};
    prog->inputs = {0};
    prog->outputs = {2};
    auto [got, want] = runBoth(prog, test::randomFloats(70, 28));
    compare(got, want);
  }
}

TEST_CASE("gpu: conv2d with fp16 storage allowed stays within rtol 1e-2", "[gpu]") {
  requireGpu();
  // 16 -> 12 channels, 3x3, padded: the Vulkan kernel packs these weights as half texels.
  static std::vector<float> weights, bias;
  weights = test::randomFloats(12 * 16 * 9, 51);
  bias = test::randomFloats(12, 52);
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, {1, 16, 9, 11}}, nullptr},
                   {"w", {DType::F32, {12, 16, 3, 3}}, weights.data()},
                   {"y", {DType::F32, {1, 12, 9, 11}}, nullptr},
                   {"b", {DType::F32, {12}}, bias.data()}};
  Conv2dParams cp{{1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true, {PostOp::makeUnary(UnaryKind::Relu)}};
  prog->primitives = {Primitive{cp, {0, 1, 3}, {2}, "conv"}};
  prog->inputs = {0};
  prog->outputs = {2};
  auto [got, want] = runBoth(prog, test::randomFloats(16 * 9 * 11, 53), Precision::F16Storage);
  // Half weights err relative to the terms of a sum, not to the sum: the absolute tolerance is a
  // hundredth of the output's scale.
  float scale = 0;
  for (float v : want)
    scale = std::max(scale, std::fabs(v));
  compare(got, want, 1e-2, 1e-2 * scale);
}

namespace {

// y = gather(x, idx): x [outer, extent, inner] of dtype dt, idx a constant of dtype it.
std::shared_ptr<Program> gatherProgram(DType dt, int64_t outer, int64_t extent, int64_t inner,
                                       const std::vector<int64_t>& idx, DType it, bool elements,
                                       const Shape& idxShape) {
  static std::vector<std::vector<uint8_t>> store;
  std::vector<uint8_t> bytes(idx.size() * dtypeSize(it) + 8);
  for (size_t i = 0; i < idx.size(); ++i) {
    if (it == DType::I64) {
      std::memcpy(bytes.data() + i * 8, &idx[i], 8);
    } else {
      const auto v = static_cast<int32_t>(idx[i]);
      std::memcpy(bytes.data() + i * 4, &v, 4);
    }
  }
  store.push_back(std::move(bytes));
  const int64_t count = static_cast<int64_t>(idx.size());
  const Shape out = elements ? idxShape : Shape{outer, count, inner};
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {dt, {outer, extent, inner}}, nullptr},
                   {"idx", {it, idxShape}, store.back().data()},
                   {"y", {dt, out}, nullptr}};
  prog->primitives = {
      Primitive{GatherParams{outer, extent, inner, elements}, {0, 1}, {2}, "gather"}};
  prog->inputs = {0};
  prog->outputs = {2};
  return prog;
}

} // namespace

TEST_CASE("gpu: gathers of 4- and 8-byte elements against the reference", "[gpu]") {
  requireGpu();
  for (const DType dt : {DType::F32, DType::I64})
    for (const DType it : {DType::I32, DType::I64}) {
      const int64_t words = dt == DType::I64 ? 2 : 1;
      const std::vector<float> x = test::randomFloats(3 * 7 * 5 * words, 61);
      INFO("data " << dtypeName(dt) << " indices " << dtypeName(it));
      // Rows by indices (negatives count from the end, repeats), an empty index list.
      for (const std::vector<int64_t>& idx :
           {std::vector<int64_t>{0, 6, -1, -7, 3, 3}, std::vector<int64_t>{}}) {
        auto prog = gatherProgram(dt, 3, 7, 5, idx, it, false, {static_cast<int64_t>(idx.size())});
        auto [got, want] = runBothBytes(prog, x.data(), x.size() * sizeof(float));
        CHECK(got == want);
      }
      // One index per output element (GatherElements): [3, 2, 5] picking along the extent.
      std::vector<int64_t> idx(3 * 2 * 5);
      for (size_t i = 0; i < idx.size(); ++i)
        idx[i] = static_cast<int64_t>(i * 5 % 14) - 7;
      auto prog = gatherProgram(dt, 3, 7, 5, idx, it, true, {3, 2, 5});
      auto [got, want] = runBothBytes(prog, x.data(), x.size() * sizeof(float));
      CHECK(got == want);
    }
}

TEST_CASE("gpu: a gather's index out of range fails the run", "[gpu]") {
  requireGpu();
  for (const int64_t bad : {int64_t{7}, int64_t{-8}, int64_t{1} << 40}) {
    INFO("index " << bad);
    auto prog = gatherProgram(DType::F32, 2, 7, 3, {1, bad, 2}, DType::I64, false, {3});
    SessionOptions opts;
    opts.backend = gpu();
    auto s = Session::create(prog, registry(), opts);
    REQUIRE(s.isOk());
    REQUIRE((*s)->backendOf(0)->name() == gpu());
    const std::vector<float> x = test::randomFloats(2 * 7 * 3, 62);
    REQUIRE((*s)->setInput(0, x.data(), x.size() * sizeof(float)).isOk());
    const Status st = (*s)->run();
    CHECK_FALSE(st.isOk());
    CHECK(st.message().find("outside") != std::string::npos);
    // The fault is cleared: a good input list runs again (the indices are constants here, so
    // the same session fails again, and a fresh good one passes).
    CHECK_FALSE((*s)->run().isOk());
  }
  auto good = gatherProgram(DType::F32, 2, 7, 3, {1, -7, 2}, DType::I64, false, {3});
  const std::vector<float> x = test::randomFloats(2 * 7 * 3, 63);
  auto [got, want] = runBothBytes(good, x.data(), x.size() * sizeof(float));
  CHECK(got == want);
}

TEST_CASE("gpu: selects with broadcasting against the reference", "[gpu]") {
  requireGpu();
  struct Case {
    Shape cond, lhs, rhs, out;
  };
  const std::vector<Case> cases = {
      {{7}, {7}, {7}, {7}},         {{2, 1, 5}, {1, 3, 5}, {5}, {2, 3, 5}},
      {{}, {4, 3}, {4, 3}, {4, 3}}, {{3, 1, 2, 1}, {1, 4, 1, 5}, {3, 4, 2, 5}, {3, 4, 2, 5}},
      {{0, 3}, {3}, {3}, {0, 3}},
  };
  for (const DType dt : {DType::F32, DType::I64})
    for (const Case& c : cases) {
      INFO(dtypeName(dt) << " out " << shapeToString(c.out));
      const int64_t words = dt == DType::I64 ? 2 : 1;
      const int64_t nc = TensorDesc{DType::Bool, c.cond}.numel();
      const int64_t nl = TensorDesc{dt, c.lhs}.numel();
      const int64_t nr = TensorDesc{dt, c.rhs}.numel();
      static std::vector<uint8_t> cond;
      static std::vector<float> rhs;
      cond.assign(static_cast<size_t>(nc) + 1, 0);
      for (int64_t i = 0; i < nc; ++i)
        cond[static_cast<size_t>(i)] = static_cast<uint8_t>((i * 7 + 3) % 5 < 2 ? 1 : 0);
      rhs = test::randomFloats(nr * words + 1, 71);
      auto prog = std::make_shared<Program>();
      prog->tensors = {{"l", {dt, c.lhs}, nullptr},
                       {"c", {DType::Bool, c.cond}, cond.data()},
                       {"r", {dt, c.rhs}, rhs.data()},
                       {"y", {dt, c.out}, nullptr}};
      prog->primitives = {
          Primitive{SelectParams{broadcastStrides(c.cond, c.out), broadcastStrides(c.lhs, c.out),
                                 broadcastStrides(c.rhs, c.out)},
                    {1, 0, 2},
                    {3},
                    "where"}};
      prog->inputs = {0};
      prog->outputs = {3};
      const std::vector<float> l = test::randomFloats(nl * words, 72);
      auto [got, want] = runBothBytes(prog, l.data(), l.size() * sizeof(float));
      CHECK(got == want);
    }
}
