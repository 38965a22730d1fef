// Memory planning, the artifact format (round trip and damaged files) and the C API.
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/session.h"
#include "tessel/tessel.h"
#include "tessel/tessel.hpp"
#include "test_util.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <thread>
#include <unistd.h>

using namespace tessel;

namespace {

// x -> relu -> view -> transpose(raster) -> add(x^T...) : a small program with a constant.
std::shared_ptr<Program> smallProgram() {
  auto prog = std::make_shared<Program>();
  static const float kBias[3] = {0.5f, -1.f, 2.f};
  prog->tensors = {{"x", {DType::F32, {2, 3}}, nullptr}, {"r", {DType::F32, {2, 3}}, nullptr},
                   {"v", {DType::F32, {6}}, nullptr},    {"t", {DType::F32, {3, 2}}, nullptr},
                   {"b", {DType::F32, {3, 1}}, kBias},   {"y", {DType::F32, {3, 2}}, nullptr}};
  Primitive relu{UnaryParams{UnaryKind::Relu}, {0}, {1}, "relu"};
  Primitive view{ViewParams{}, {1}, {2}, "flat"};
  RasterParams tp;
  tp.regions = {Region{0, {0, {0, 1, 3}}, {0, {0, 2, 1}}, {1, 3, 2}}};
  Primitive transpose{tp, {2}, {3}, "transpose"};
  Primitive add{BinaryParams{BinaryKind::Add, {2, 1}, {1, 0}}, {3, 4}, {5}, "add"};
  prog->primitives = {relu, view, transpose, add};
  prog->inputs = {0};
  prog->outputs = {5};
  return prog;
}

std::vector<float> runSmall(std::shared_ptr<const Program> prog, const std::vector<float>& x) {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  return test::runProgram(std::move(prog), registry, x)[0];
}

// The artifact of one 3x3 conv 64 -> 64 on [1, 64, 6, 6] (weights seeded, 147 KiB: whole pages).
std::vector<uint8_t> convArtifact(uint32_t seed) {
  const std::vector<float> w = test::randomFloats(64 * 64 * 9, seed);
  Program prog;
  Conv2dParams c;
  c.pads = {1, 1, 1, 1};
  prog.tensors = {{"x", {DType::F32, {1, 64, 6, 6}}, nullptr},
                  {"w", {DType::F32, {64, 64, 3, 3}}, w.data()},
                  {"y", {DType::F32, {1, 64, 6, 6}}, nullptr}};
  prog.primitives = {{c, {0, 1}, {2}, "conv"}};
  prog.inputs = {0};
  prog.outputs = {2};
  return writeArtifact(prog, "test"); // the constants are copied in
}

// `bytes` in a new file under /tmp; returns its path.
std::string writeTempFile(const std::vector<uint8_t>& bytes) {
  char path[] = "/tmp/tessel-test-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  return path;
}

} // namespace

TEST_CASE("the small program computes relu(x)^T + b") {
  std::vector<float> x{1, -2, 3, -4, 5, -6};
  auto y = runSmall(smallProgram(), x);
  // relu(x) = [[1,0,3],[0,5,0]]; transposed [[1,0],[0,5],[3,0]]; + b per row.
  CHECK(y == std::vector<float>{1.5f, 0.5f, -1.f, 4.f, 5.f, 2.f});
}

TEST_CASE("memory plan: simultaneously live buffers never overlap, views alias") {
  // A chain with skip connections: t_i = relu(t_{i-1}), and t_i += t_{i-3}.
  auto prog = std::make_shared<Program>();
  prog->tensors.push_back({"x", {DType::F32, {64}}, nullptr});
  prog->inputs = {0};
  for (int i = 1; i <= 20; ++i) {
    const int64_t size = 64 + (i % 5) * 32;
    const int32_t prev = static_cast<int32_t>(prog->tensors.size() - 1);
    prog->tensors.push_back(
        {"r" + std::to_string(i), {DType::F32, prog->tensors[prev].desc.shape}, nullptr});
    prog->primitives.push_back({UnaryParams{UnaryKind::Relu}, {prev}, {prev + 1}, ""});
    prog->tensors.push_back({"v" + std::to_string(i), {DType::F32, {size}}, nullptr});
    RasterParams r;
    r.fill = 0.0;
    r.regions = {Region{0,
                        {0, {0, 0, 1}},
                        {0, {0, 0, 1}},
                        {1, 1, std::min<int64_t>(size, prog->tensors[prev].desc.numel())}}};
    prog->primitives.push_back({r, {prev + 1}, {prev + 2}, ""});
  }
  prog->outputs = {static_cast<int32_t>(prog->tensors.size() - 1)};
  REQUIRE(validateProgram(*prog).isOk());
  MemoryPlan plan = planMemory(*prog);
  CHECK(plan.arenaBytes < plan.unsharedBytes);
  // Live ranges from the program itself; overlapping ranges must get disjoint bytes.
  const size_t n = prog->tensors.size();
  std::vector<int64_t> first(n, -1), last(n, -1);
  for (size_t i = 0; i < prog->primitives.size(); ++i) {
    for (int32_t id : prog->primitives[i].inputs)
      last[id] = static_cast<int64_t>(i);
    first[prog->primitives[i].outputs[0]] = static_cast<int64_t>(i);
  }
  last[prog->outputs[0]] = static_cast<int64_t>(prog->primitives.size());
  for (size_t a = 0; a < n; ++a)
    for (size_t b = a + 1; b < n; ++b) {
      if (last[a] < first[b] || last[b] < first[a]) continue;
      const int64_t ea = plan.offsets[a] + prog->tensors[a].desc.byteSize();
      const int64_t eb = plan.offsets[b] + prog->tensors[b].desc.byteSize();
      INFO("tensors " << a << " and " << b);
      CHECK((ea <= plan.offsets[b] || eb <= plan.offsets[a]));
    }
  auto small = smallProgram();
  MemoryPlan sp = planMemory(*small);
  CHECK(sp.aliasOf[2] == 1);
  CHECK(sp.offsets[2] == sp.offsets[1]);
  CHECK(sp.offsets[4] == MemoryPlan::kNoOffset);
}

TEST_CASE("artifacts round-trip and run the same") {
  auto prog = smallProgram();
  std::vector<uint8_t> bytes = writeArtifact(*prog, "test");
  auto loaded = loadArtifact(bytes);
  REQUIRE(loaded.isOk());
  REQUIRE((*loaded)->primitives.size() == prog->primitives.size());
  for (size_t i = 0; i < prog->primitives.size(); ++i)
    CHECK((*loaded)->primitives[i].params == prog->primitives[i].params);
  std::vector<float> x{1, -2, 3, -4, 5, -6};
  CHECK(runSmall(*loaded, x) == runSmall(prog, x));
  CHECK(reinterpret_cast<uintptr_t>((*loaded)->tensors[4].data) % 64 == 0);
}

TEST_CASE("damaged artifacts are rejected, never crash") {
  const std::vector<uint8_t> good = writeArtifact(*smallProgram(), "test");
  for (size_t cut = 0; cut < good.size(); cut += 7) {
    std::vector<uint8_t> bad(good.begin(), good.begin() + cut);
    CHECK_FALSE(loadArtifact(bad).isOk());
  }
  std::mt19937 rng(9);
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bad = good;
    for (int flips = 0; flips < 3; ++flips)
      bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto loaded = loadArtifact(bad);
    if (!loaded.isOk()) {
      ++rejected;
      continue;
    }
    // What loads must be valid and runnable.
    CHECK(validateProgram(**loaded).isOk());
  }
  CHECK(rejected > 1000);
  auto wrongMagic = good;
  wrongMagic[8] = 'X'; // after the 4-byte size prefix and the root offset
  auto r = loadArtifact(wrongMagic);
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message() == "not a Tessel artifact (missing TSL1 identifier)");
}

TEST_CASE("C API: status on every call, create/release pairs") {
  const std::vector<uint8_t> bytes = writeArtifact(*smallProgram(), "test");
  tessel_model* model = nullptr;
  REQUIRE(tessel_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  CHECK(tessel_model_input_count(model) == 1);
  tessel_tensor_info info{};
  REQUIRE(tessel_model_input_info(model, 0, &info) == nullptr);
  CHECK(std::string(info.name) == "x");
  CHECK(info.dtype == TESSEL_DTYPE_F32);
  CHECK(info.byte_size == 24);
  tessel_status s = tessel_model_output_info(model, 3, &info);
  REQUIRE(s != nullptr);
  CHECK(tessel_status_get_code(s) == TESSEL_INVALID_ARGUMENT);
  tessel_status_free(s);

  tessel_session* session = nullptr;
  tessel_session_options opts;
  tessel_session_options_init(&opts);
  opts.backend = "nope";
  s = tessel_session_create(model, &opts, &session);
  REQUIRE(s != nullptr);
  CHECK(std::string(tessel_status_get_message(s)) == "no backend named 'nope'");
  tessel_status_free(s);
  REQUIRE(tessel_session_create(model, nullptr, &session) == nullptr);
  float x[6] = {1, -2, 3, -4, 5, -6};
  s = tessel_session_set_input(session, 0, x, 20);
  REQUIRE(s != nullptr);
  CHECK(std::string(tessel_status_get_message(s)) ==
        "input 'x' expects 24 bytes (f32[2,3]), got 20");
  tessel_status_free(s);
  REQUIRE(tessel_session_set_input(session, 0, x, sizeof x) == nullptr);
  REQUIRE(tessel_session_run(session) == nullptr);
  const void* out = nullptr;
  size_t size = 0;
  REQUIRE(tessel_session_get_output(session, 0, &out, &size) == nullptr);
  CHECK(size == 24);
  CHECK(static_cast<const float*>(out)[3] == 4.f);
  CHECK(tessel_session_arena_bytes(session) > 0);
  tessel_session_release(session);
  tessel_model_release(model);

  CHECK(tessel_status_get_code(nullptr) == TESSEL_OK);
  s = tessel_model_load_memory(nullptr, 0, &model);
  CHECK(tessel_status_get_code(s) == TESSEL_INVALID_ARGUMENT);
  tessel_status_free(s);
  uint8_t junk[16] = {1, 2, 3};
  s = tessel_model_load_memory(junk, sizeof junk, &model);
  CHECK(tessel_status_get_code(s) == TESSEL_CORRUPT);
  tessel_status_free(s);
  s = tessel_model_load_file("/nonexistent.tsl", &model);
  CHECK(tessel_status_get_code(s) == TESSEL_IO);
  tessel_status_free(s);
}

TEST_CASE("a preferred backend that declines a primitive falls back") {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  SessionOptions opts;
  opts.backend = "null";
  auto s = Session::create(smallProgram(), registry, opts);
  REQUIRE(s.isOk());
  CHECK((*s)->backendOf(0)->name() != "null"); // relu: arithmetic
  CHECK((*s)->backendOf(1) == nullptr);        // view: no kernel
  CHECK((*s)->backendOf(2)->name() == "null"); // transpose: pure movement
}

TEST_CASE("plugin backends load from their own libraries; a missing one says why") {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  // The null backend is a plugin (libtessel_backend_null.so beside the runtime).
  REQUIRE(registry.find("null") != nullptr);
  CHECK(registry.unavailable("null") == nullptr);
  const std::string_view names[] = {"absent"};
  loadPluginBackends(registry, names);
  CHECK(registry.find("absent") == nullptr);
  REQUIRE(registry.unavailable("absent") != nullptr);
  CHECK(registry.unavailable("absent")->find("libtessel_backend_absent.so") != std::string::npos);
  const Status missing = registry.missing("absent");
  CHECK(missing.code() == StatusCode::kUnsupported);
  CHECK(missing.message().rfind("backend 'absent' is not available here: ", 0) == 0);
  CHECK(registry.missing("nope").message() == "no backend named 'nope'");
  // Asked for by name, an unavailable backend is an error naming the reason.
  SessionOptions opts;
  opts.backend = "absent";
  auto s = Session::create(smallProgram(), registry, opts);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.status().message() == missing.message());
}

TEST_CASE("C++ wrapper: RAII handles and Error values") {
  const std::string path = writeTempFile(writeArtifact(*smallProgram(), "test"));
  api::Model model;
  REQUIRE_FALSE(api::Model::load(path, &model));
  std::remove(path.c_str());
  CHECK(model.inputCount() == 1);
  CHECK(std::string(model.output(0).name) == "y");
  api::Session session;
  REQUIRE_FALSE(api::Session::create(model, "", &session));
  float x[6] = {1, -2, 3, -4, 5, -6};
  api::Error e = session.setInput(0, x, 4);
  CHECK(e.code == TESSEL_INVALID_ARGUMENT);
  REQUIRE_FALSE(session.setInput(0, x, sizeof x));
  REQUIRE_FALSE(session.run());
  const void* out = nullptr;
  size_t size = 0;
  REQUIRE_FALSE(session.output(0, &out, &size));
  CHECK(static_cast<const float*>(out)[0] == 1.5f);
  // A compiled model's inputs and outputs are tensors: the list calls refuse them by name.
  CHECK(model.inputKind(0) == TESSEL_VALUE_TENSOR);
  CHECK(model.outputKind(0) == TESSEL_VALUE_TENSOR);
  CHECK_THAT(session.setInputNoValue(0).message, Catch::Contains("input 0 is a tensor"));
  size_t count = 0;
  CHECK_THAT(session.outputItemCount(0, &count).message,
             Catch::Contains("use tessel_session_get_output"));
  CHECK(session.setInputItems(0, {{1}}, {x, x}, {4}).code == TESSEL_INVALID_ARGUMENT);
  api::Model missing;
  CHECK(api::Model::load("/nonexistent.tsl", &missing).code == TESSEL_IO);
}

TEST_CASE("C API: options grow by struct_size; threads; sessions share one prepared model") {
  const std::vector<uint8_t> bytes = writeArtifact(*smallProgram(), "test");
  tessel_model* model = nullptr;
  REQUIRE(tessel_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  tessel_session_options opts;
  tessel_session_options_init(&opts);
  CHECK(opts.struct_size == sizeof opts);
  CHECK(opts.threads == 0);
  tessel_session* session = nullptr;
  opts.struct_size = 4; // older than any header: refused, not misread
  tessel_status s = tessel_session_create(model, &opts, &session);
  REQUIRE(s != nullptr);
  CHECK(tessel_status_get_code(s) == TESSEL_INVALID_ARGUMENT);
  tessel_status_free(s);
  // A caller that knows only {struct_size, backend}: threads keep their default.
  opts.struct_size = offsetof(tessel_session_options, threads);
  opts.threads = -5;
  REQUIRE(tessel_session_create(model, &opts, &session) == nullptr);
  CHECK(tessel_session_threads(session) >= 1);
  tessel_session_release(session);
  tessel_session_options_init(&opts);
  opts.threads = -5;
  s = tessel_session_create(model, &opts, &session);
  REQUIRE(s != nullptr);
  tessel_status_free(s);
  // The plan by cost: an unknown search mode and a profile cache without a cost-model search are
  // refused; by the model (calibrated by a cache, here one not written yet) or measured, the
  // session runs (docs/search.md).
  tessel_session_options_init(&opts);
  CHECK(opts.search == TESSEL_SEARCH_OFF);
  opts.search = 7;
  s = tessel_session_create(model, &opts, &session);
  REQUIRE(s != nullptr);
  CHECK(tessel_status_get_code(s) == TESSEL_INVALID_ARGUMENT);
  tessel_status_free(s);
  opts.search = TESSEL_SEARCH_OFF; // a profile cache is the cost model's
  opts.profile_cache = "/tmp/unused.profile";
  s = tessel_session_create(model, &opts, &session);
  REQUIRE(s != nullptr);
  CHECK(tessel_status_get_code(s) == TESSEL_INVALID_ARGUMENT);
  tessel_status_free(s);
  opts.profile_cache = nullptr;
  // A weight budget bounds the search's plan: refused without one, and when negative.
  for (const int64_t budget : {int64_t{1} << 20, int64_t{-1}}) {
    opts.search = budget < 0 ? TESSEL_SEARCH_MODEL : TESSEL_SEARCH_OFF;
    opts.weight_budget = budget;
    s = tessel_session_create(model, &opts, &session);
    REQUIRE(s != nullptr);
    CHECK(tessel_status_get_code(s) == TESSEL_INVALID_ARGUMENT);
    tessel_status_free(s);
  }
  // The bias (12 bytes) is the model's only weight: a budget below it cannot be met.
  opts.search = TESSEL_SEARCH_MODEL;
  opts.weight_budget = 11;
  s = tessel_session_create(model, &opts, &session);
  REQUIRE(s != nullptr);
  CHECK(tessel_status_get_code(s) == TESSEL_RESOURCE_EXHAUSTED);
  CHECK_THAT(tessel_status_get_message(s), Catch::Contains("weight budget of 11 bytes"));
  tessel_status_free(s);
  opts.weight_budget = 12;
  for (const int32_t search : {TESSEL_SEARCH_MODEL, TESSEL_SEARCH_MEASURE}) {
    opts.search = search;
    opts.profile_cache = search == TESSEL_SEARCH_MODEL ? "/nonexistent/tessel.profile" : nullptr;
    s = tessel_session_create(model, &opts, &session);
    INFO((s ? tessel_status_get_message(s) : ""));
    REQUIRE(s == nullptr);
    const float x[6] = {1, -2, 3, -4, 5, -6};
    CHECK(tessel_session_set_input(session, 0, x, sizeof x) == nullptr);
    CHECK(tessel_session_run(session) == nullptr);
    tessel_session_release(session);
  }
  // With a search, the memory budget bounds the plan too: its weights plus its predicted arena
  // (the input and output alone take 48 bytes, each at least one 64-byte slot).
  opts.weight_budget = 0;
  opts.search = TESSEL_SEARCH_MODEL;
  opts.profile_cache = nullptr;
  opts.memory_budget = 100;
  s = tessel_session_create(model, &opts, &session);
  REQUIRE(s != nullptr);
  CHECK(tessel_status_get_code(s) == TESSEL_RESOURCE_EXHAUSTED);
  CHECK_THAT(tessel_status_get_message(s),
             Catch::Contains("(weights and arena), over the memory budget of 100 bytes"));
  tessel_status_free(s);
  opts.memory_budget = 1 << 20;
  REQUIRE(tessel_session_create(model, &opts, &session) == nullptr);
  tessel_session_release(session);
  tessel_session_options_init(&opts);

  // Several sessions, each on its own thread, over one model.
  opts.threads = 2;
  std::vector<tessel_session*> sessions(3, nullptr);
  for (auto*& one : sessions)
    REQUIRE(tessel_session_create(model, &opts, &one) == nullptr);
  CHECK(tessel_session_threads(sessions[0]) == 2);
  std::vector<std::thread> runners;
  std::atomic<int> wrong{0};
  for (size_t i = 0; i < sessions.size(); ++i)
    runners.emplace_back([&, i] {
      const float x[6] = {1, -2, 3, -4, 5, -6};
      for (int rep = 0; rep < 20; ++rep) {
        if (tessel_session_set_input(sessions[i], 0, x, sizeof x) ||
            tessel_session_run(sessions[i]))
          ++wrong;
        const void* out = nullptr;
        size_t size = 0;
        if (tessel_session_get_output(sessions[i], 0, &out, &size) ||
            static_cast<const float*>(out)[3] != 4.f)
          ++wrong;
      }
    });
  for (auto& t : runners)
    t.join();
  CHECK(wrong.load() == 0);
  for (auto* one : sessions)
    tessel_session_release(one);
  tessel_model_release(model);
}

TEST_CASE("C API: a borrowed buffer is read in place and must be 64-byte aligned") {
  const std::vector<uint8_t> bytes = writeArtifact(*smallProgram(), "test");
  auto* raw = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes.size() + 64 + 63) / 64 * 64));
  REQUIRE(raw);
  std::memcpy(raw, bytes.data(), bytes.size());
  tessel_model* model = nullptr;
  REQUIRE(tessel_model_load_memory_borrowed(raw, bytes.size(), &model) == nullptr);
  tessel_session* session = nullptr;
  REQUIRE(tessel_session_create(model, nullptr, &session) == nullptr);
  const float x[6] = {1, -2, 3, -4, 5, -6};
  REQUIRE(tessel_session_set_input(session, 0, x, sizeof x) == nullptr);
  REQUIRE(tessel_session_run(session) == nullptr);
  const void* out = nullptr;
  size_t size = 0;
  REQUIRE(tessel_session_get_output(session, 0, &out, &size) == nullptr);
  CHECK(static_cast<const float*>(out)[0] == 1.5f);
  tessel_session_release(session);
  tessel_model_release(model);

  std::memmove(raw + 8, raw, bytes.size());
  tessel_status s = tessel_model_load_memory_borrowed(raw + 8, bytes.size(), &model);
  REQUIRE(s != nullptr);
  CHECK(std::string(tessel_status_get_message(s)) ==
        "borrowed artifact bytes must be 64-byte aligned");
  tessel_status_free(s);
  std::free(raw);
}

TEST_CASE("packed weights release their pages; a later reader gets them back intact") {
  // conv 64 -> 64, 3x3, weights 147 KiB: whole pages to release once cpu_x86 has packed them.
  const std::vector<uint8_t> bytes = convArtifact(77);
  const std::string path = writeTempFile(bytes);
  auto loaded = loadArtifactFile(path);
  std::remove(path.c_str()); // the model keeps the file open: a restore still reads it
  REQUIRE(loaded.isOk());
  CHECK((*loaded)->constantSource != nullptr);
  const auto x = test::randomFloats(64 * 36, 78);
  auto runWith = [&](const std::string& backend) {
    BackendRegistry registry;
    registerBuiltinBackends(registry);
    SessionOptions o;
    o.backend = backend;
    o.threads = 1;
    auto s = Session::create(*loaded, registry, o);
    REQUIRE(s.isOk());
    REQUIRE((*s)->setInput(0, x.data(), x.size() * 4).isOk());
    REQUIRE((*s)->run().isOk());
    const auto* y = static_cast<const float*>((*s)->outputData(0));
    return std::vector<float>(y, y + 64 * 36);
  };
  const auto packed = runWith("");       // cpu_x86 where built: packs, then releases
  const auto raw = runWith("reference"); // reads the weights where they lie
  REQUIRE(packed.size() == raw.size());
  for (size_t i = 0; i < raw.size(); ++i)
    REQUIRE(packed[i] == Approx(raw[i]).margin(1e-4));
  float scale = 0;
  for (float v : raw)
    scale = std::max(scale, std::fabs(v));
  CHECK(scale > 1.f); // the weights were really there, not zero pages
}

TEST_CASE("bools are 0 or 1 at every boundary: inputs normalised, damaged constants refused") {
  // y = cast(x) + cast(c): x a bool input, c a bool constant.
  static uint8_t constant[4] = {0, 1, 0, 1};
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::Bool, {4}}, nullptr},
                   {"c", {DType::Bool, {4}}, constant},
                   {"fx", {DType::F32, {4}}, nullptr},
                   {"fc", {DType::F32, {4}}, nullptr},
                   {"y", {DType::F32, {4}}, nullptr}};
  prog->primitives = {{UnaryParams{UnaryKind::Cast}, {0}, {2}, "cast_x"},
                      {UnaryParams{UnaryKind::Cast}, {1}, {3}, "cast_c"},
                      {BinaryParams{BinaryKind::Add, {1}, {1}}, {2, 3}, {4}, "add"}};
  prog->inputs = {0};
  prog->outputs = {4};
  REQUIRE(validateProgram(*prog).isOk());
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  for (const char* backend : {"reference", ""}) {
    INFO("backend '" << backend << "'");
    SessionOptions so;
    so.backend = backend;
    auto s = Session::create(prog, registry, so);
    REQUIRE(s.isOk());
    const uint8_t x[4] = {0, 2, 255, 1}; // a C caller's "true" need not be 1
    REQUIRE((*s)->setInput(0, x, 4).isOk());
    REQUIRE((*s)->run().isOk());
    const auto* y = static_cast<const float*>((*s)->outputData(0));
    CHECK(std::vector<float>(y, y + 4) == std::vector<float>{0, 2, 1, 2});
  }
  // An artifact whose bool constant holds a byte other than 0 or 1 (written with a valid
  // checksum: the writer does not judge) does not load.
  REQUIRE(loadArtifact(writeArtifact(*prog, "test")).isOk());
  static uint8_t damaged[4] = {0, 3, 0, 1};
  prog->tensors[1].data = damaged;
  auto bad = loadArtifact(writeArtifact(*prog, "test"));
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("bool constant 'c' holds the byte 3"));
}

TEST_CASE("packLifetimes: live buffers never overlap, either packing, any count") {
  // Random lifetimes over a program of `steps` steps; both packings (by size below
  // kPackBySizeLimit buffers, in first-use order above) must keep buffers alive at the same
  // step apart, and the arena must hold the busiest step.
  for (size_t count : {size_t{1}, size_t{7}, size_t{300}, kPackBySizeLimit + 1, size_t{20000}}) {
    INFO(count << " buffers");
    std::mt19937 rng(static_cast<uint32_t>(count));
    const int64_t steps = static_cast<int64_t>(count) / 2 + 3;
    std::vector<Lifetime> buffers;
    for (size_t i = 0; i < count; ++i) {
      const int64_t first = std::uniform_int_distribution<int64_t>(0, steps - 1)(rng);
      const int64_t len = std::uniform_int_distribution<int64_t>(0, 6)(rng);
      buffers.push_back({std::uniform_int_distribution<int64_t>(0, 5000)(rng), first,
                         std::min(steps - 1, first + len)});
    }
    const ArenaLayout a = packLifetimes(buffers);
    REQUIRE(a.offsets.size() == count);
    // Per step, the live buffers' byte ranges, checked pairwise after sorting.
    std::vector<std::vector<size_t>> liveAt(static_cast<size_t>(steps));
    for (size_t i = 0; i < count; ++i)
      for (int64_t s = buffers[i].first; s <= buffers[i].last; ++s)
        liveAt[static_cast<size_t>(s)].push_back(i);
    int64_t busiest = 0;
    const auto size = [&](size_t i) {
      return (std::max<int64_t>(buffers[i].bytes, 1) + kArenaAlignment - 1) / kArenaAlignment *
             kArenaAlignment;
    };
    for (auto& live : liveAt) {
      std::sort(live.begin(), live.end(),
                [&](size_t x, size_t y) { return a.offsets[x] < a.offsets[y]; });
      int64_t sum = 0;
      for (size_t k = 0; k < live.size(); ++k) {
        sum += size(live[k]);
        CHECK(a.offsets[live[k]] % kArenaAlignment == 0);
        CHECK(a.offsets[live[k]] + size(live[k]) <= a.arenaBytes);
        if (k + 1 < live.size())
          REQUIRE(a.offsets[live[k]] + size(live[k]) <= a.offsets[live[k + 1]]);
      }
      busiest = std::max(busiest, sum);
    }
    CHECK(a.arenaBytes >= busiest);
    CHECK(a.arenaBytes <= a.unsharedBytes);
  }
  // Sizes from a hostile file saturate instead of overflowing.
  const int64_t huge = std::numeric_limits<int64_t>::max() / 2;
  const ArenaLayout h = packLifetimes({{huge, 0, 1}, {huge, 0, 1}, {huge, 1, 2}});
  CHECK(h.arenaBytes == std::numeric_limits<int64_t>::max());
}

TEST_CASE("a session over its memory budget fails before allocating, naming both numbers") {
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, {1024, 1024}}, nullptr},
                   {"y", {DType::F32, {1024, 1024}}, nullptr}};
  prog->primitives = {{UnaryParams{UnaryKind::Relu}, {0}, {1}, "relu"}};
  prog->inputs = {0};
  prog->outputs = {1};
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  SessionOptions so;
  so.memoryBudget = 4 << 20; // x and y need 8 MiB
  auto s = Session::create(prog, registry, so);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.status().code() == StatusCode::kResourceExhausted);
  CHECK_THAT(s.status().message(), Catch::Contains("over its memory budget of 4194304 bytes"));
  so.memoryBudget = 16 << 20;
  CHECK(Session::create(prog, registry, so).isOk());
  so.memoryBudget = -1;
  CHECK_FALSE(Session::create(prog, registry, so).isOk());
  CHECK(defaultMemoryBudget() > 0);
}

TEST_CASE("C API misuse: stale handles, outputs before a run, one session from two threads") {
  const std::vector<uint8_t> bytes = writeArtifact(*smallProgram(), "test");
  tessel_model* model = nullptr;
  REQUIRE(tessel_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  tessel_session* session = nullptr;
  tessel_session_options opts;
  tessel_session_options_init(&opts);
  opts.memory_budget = 64; // the arena needs more
  tessel_status st = tessel_session_create(model, &opts, &session);
  REQUIRE(st != nullptr);
  CHECK(tessel_status_get_code(st) == TESSEL_RESOURCE_EXHAUSTED);
  tessel_status_free(st);
  opts.memory_budget = 0;
  REQUIRE(tessel_session_create(model, &opts, &session) == nullptr);

  const void* out = nullptr;
  size_t size = 0;
  st = tessel_session_get_output(session, 0, &out, &size);
  REQUIRE(st != nullptr);
  CHECK_THAT(tessel_status_get_message(st), Catch::Contains("call tessel_session_run first"));
  tessel_status_free(st);

  // Two threads running one session: each call either runs or is refused, never both at once.
  const float x[6] = {1, -2, 3, -4, 5, -6};
  REQUIRE(tessel_session_set_input(session, 0, x, sizeof x) == nullptr);
  std::atomic<int> ran{0}, refused{0}, other{0};
  auto hammer = [&] {
    for (int i = 0; i < 2000; ++i) {
      tessel_status r = tessel_session_run(session);
      if (!r)
        ++ran;
      else if (std::string(tessel_status_get_message(r)).find("in use by another thread") !=
               std::string::npos)
        ++refused;
      else
        ++other;
      tessel_status_free(r);
    }
  };
  std::thread a(hammer), b(hammer);
  a.join();
  b.join();
  CHECK(ran + refused == 4000);
  CHECK(other == 0);
  CHECK(ran > 0);
  REQUIRE(tessel_session_get_output(session, 0, &out, &size) == nullptr);
  CHECK(static_cast<const float*>(out)[3] == 4.f);

  // Released handles are refused, a second release does nothing.
  tessel_session_release(session);
  tessel_session_release(session);
  st = tessel_session_run(session);
  REQUIRE(st != nullptr);
  CHECK_THAT(tessel_status_get_message(st), Catch::Contains("released or unknown session"));
  tessel_status_free(st);
  CHECK(tessel_session_arena_bytes(session) == 0);
  tessel_model_release(model);
  tessel_model_release(model);
  CHECK(tessel_model_input_count(model) == 0);
  st = tessel_session_create(model, nullptr, &session);
  REQUIRE(st != nullptr);
  CHECK(tessel_status_get_code(st) == TESSEL_INVALID_ARGUMENT);
  tessel_status_free(st);
}

TEST_CASE("inputs set once serve every run: no tensor is planned into their storage") {
  // smallProgram's x is read only by the first step; its transpose, two steps later, once took
  // x's storage, so a second run without set_input read garbage.
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  for (const char* backend : {"reference", ""}) {
    INFO("backend '" << backend << "'");
    SessionOptions so;
    so.backend = backend;
    auto s = Session::create(smallProgram(), registry, so);
    REQUIRE(s.isOk());
    const float x[6] = {1, -2, 3, -4, 5, -6};
    REQUIRE((*s)->setInput(0, x, sizeof x).isOk());
    std::vector<float> first;
    for (int run = 0; run < 3; ++run) {
      REQUIRE((*s)->run().isOk());
      const auto* y = static_cast<const float*>((*s)->outputData(0));
      if (run == 0) first.assign(y, y + 6);
      CHECK(std::vector<float>(y, y + 6) == first);
    }
  }
}

TEST_CASE("ten thousand one-byte mutations of an artifact: each refused or run as the original") {
  // Damage anywhere (the size prefix kept right) must never load as a different model: the
  // checksum trailer covers every byte. A mutation that changes nothing is the only one that
  // loads, and it runs as the original.
  const std::vector<uint8_t> good = writeArtifact(*smallProgram(), "test");
  const std::vector<float> x{1, -2, 3, -4, 5, -6};
  auto original = loadArtifact(good);
  REQUIRE(original.isOk());
  const std::vector<float> want = runSmall(*original, x);
  std::mt19937 rng(20261201);
  int loaded = 0;
  for (int i = 0; i < 10000; ++i) {
    std::vector<uint8_t> bytes = good;
    const size_t at = std::uniform_int_distribution<size_t>(4, bytes.size() - 1)(rng);
    bytes[at] = static_cast<uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
    auto prog = loadArtifact(bytes);
    if (!prog.isOk()) continue;
    ++loaded;
    REQUIRE(bytes == good); // only an unchanged file loads
    CHECK(runSmall(*prog, x) == want);
  }
  CHECK(loaded < 100); // the same byte written back now and then
}

TEST_CASE("a loaded model owns its bytes: truncating or rewriting the file cannot reach it") {
  const std::vector<uint8_t> bytes = convArtifact(91);
  const std::string path = writeTempFile(bytes);
  auto loaded = loadArtifactFile(path);
  REQUIRE(loaded.isOk());
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  const auto x = test::randomFloats(64 * 36, 92);
  auto session = Session::create(*loaded, registry, {});
  REQUIRE(session.isOk());
  REQUIRE((*session)->setInput(0, x.data(), x.size() * 4).isOk());
  REQUIRE((*session)->run().isOk());
  const auto* y = static_cast<const float*>((*session)->outputData(0));
  const std::vector<float> first(y, y + 64 * 36);
  // Truncated under the live session: the next run reads only memory the model owns.
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  REQUIRE((*session)->run().isOk());
  CHECK(std::vector<float>(y, y + 64 * 36) == first);
  if (registry.find("cpu_x86")) {
    // cpu_x86 packed the weights and gave their pages back; the reference backend needs them
    // again, and the file no longer holds what was loaded: refused, not run on zeros.
    SessionOptions ref;
    ref.backend = "reference";
    auto again = Session::create(*loaded, registry, ref);
    REQUIRE_FALSE(again.isOk());
    CHECK_THAT(again.status().message(), Catch::Contains("changed on disk since it was loaded"));
    // Written back unchanged, the file restores them.
    const int fd2 = ::open(path.c_str(), O_WRONLY);
    REQUIRE(fd2 >= 0);
    REQUIRE(::write(fd2, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    ::close(fd2);
    auto restored = Session::create(*loaded, registry, ref);
    REQUIRE(restored.isOk());
    REQUIRE((*restored)->setInput(0, x.data(), x.size() * 4).isOk());
    REQUIRE((*restored)->run().isOk());
    const auto* r = static_cast<const float*>((*restored)->outputData(0));
    for (size_t i = 0; i < first.size(); ++i)
      REQUIRE(r[i] == Approx(first[i]).margin(1e-4));
  }
  std::remove(path.c_str());
}

TEST_CASE(
    "a run-time gather index out of range fails the run, names the node; the session goes on") {
  // y = gather(relu(x), i) along the rows of [4, 3]: indices are an input.
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, {4, 3}}, nullptr},
                   {"i", {DType::I64, {2}}, nullptr},
                   {"r", {DType::F32, {4, 3}}, nullptr},
                   {"y", {DType::F32, {2, 3}}, nullptr}};
  prog->primitives = {{UnaryParams{UnaryKind::Relu}, {0}, {2}, "relu"},
                      {GatherParams{1, 4, 3}, {2, 1}, {3}, "pick_rows"}};
  prog->inputs = {0, 1};
  prog->outputs = {3};
  REQUIRE(validateProgram(*prog).isOk());
  auto loaded = loadArtifact(writeArtifact(*prog, "test")); // through the artifact too
  REQUIRE(loaded.isOk());
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  for (const char* backend : {"reference", ""}) {
    INFO("backend '" << backend << "'");
    SessionOptions so;
    so.backend = backend;
    auto s = Session::create(*loaded, registry, so);
    REQUIRE(s.isOk());
    std::vector<float> x(12);
    std::iota(x.begin(), x.end(), 0.f);
    REQUIRE((*s)->setInput(0, x.data(), 48).isOk());
    const int64_t bad[2] = {1, -5};
    REQUIRE((*s)->setInput(1, bad, 16).isOk());
    const Status st = (*s)->run();
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains("gather 'pick_rows': gather index -5 out of range"));
    const int64_t good[2] = {-1, 0};
    REQUIRE((*s)->setInput(1, good, 16).isOk());
    REQUIRE((*s)->run().isOk());
    const auto* y = static_cast<const float*>((*s)->outputData(0));
    CHECK(std::vector<float>(y, y + 6) == std::vector<float>{9, 10, 11, 0, 1, 2});
  }
}
