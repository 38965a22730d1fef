// Backend contract v2: the thread pool, and the device path proved with a test backend whose
// tensors live in their own memory space (opaque handles, never host pointers), counting the
// copies the runtime inserts.
#include "tessel/runtime/large_buffer.h"
#include "tessel/runtime/session.h"
#include "tessel/runtime/thread_pool.h"
#include "test_util.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <thread>

using namespace tessel;

TEST_CASE("thread pool: every task runs once, slots stay below the thread count") {
  ThreadPool pool;
  for (int threads : {1, 2, 3, 8}) {
    for (int64_t tasks : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(tasks));
      std::atomic<int> badSlot{0};
      pool.parallelFor(tasks, threads, [&](int64_t t, int slot) {
        runs[static_cast<size_t>(t)].fetch_add(1);
        if (slot < 0 || slot >= threads) badSlot.fetch_add(1);
      });
      for (auto& r : runs)
        CHECK(r.load() == 1);
      CHECK(badSlot.load() == 0);
    }
  }
  CHECK(pool.workerCount() == 7);
}

TEST_CASE("thread pool: concurrent callers each finish their own loop") {
  ThreadPool pool;
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 50; ++rep)
        pool.parallelFor(64, 3, [&](int64_t t, int) { total.fetch_add(t); });
    });
  for (auto& t : callers)
    t.join();
  CHECK(total.load() == 4 * 50 * (63 * 64 / 2));
}

TEST_CASE("large buffers: aligned, zeroed, writable at every size; huge-page aligned when large") {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, kLargeBufferBytes - 1,
                       kLargeBufferBytes, kLargeBufferBytes + 1, 3 * kLargeBufferBytes + 4097}) {
    auto* p = static_cast<unsigned char*>(allocateLarge(bytes));
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
    if (bytes >= kLargeBufferBytes) CHECK(reinterpret_cast<uintptr_t>(p) % kLargeBufferBytes == 0);
    if (bytes) {
      p[bytes - 1] = 2;
      p[0] = 1;
      CHECK((p[0] == 1 && p[bytes - 1] == (bytes == 1 ? 1 : 2)));
    }
    freeLarge(p, bytes);
    auto* m = static_cast<unsigned char*>(mapAnonymous(bytes));
    REQUIRE(m != nullptr);
    bool zero = true;
    for (size_t i = 0; i < bytes; i += 509)
      zero = zero && m[i] == 0;
    CHECK(zero);
    if (bytes) m[bytes - 1] = 3;
    unmapAnonymous(m, bytes);
  }
  // A large buffer given back serves the next allocation it fits, up to twice its size. First
  // the buffers earlier tests gave back leave the cache (it keeps the newest few): four given
  // back here, each too large for the allocations below, push them out.
  std::vector<void*> flush;
  for (int i = 0; i < 4; ++i)
    flush.push_back(allocateLarge(10 * kLargeBufferBytes));
  for (void* f : flush)
    freeLarge(f, 10 * kLargeBufferBytes);
  void* first = allocateLarge(3 * kLargeBufferBytes);
  freeLarge(first, 3 * kLargeBufferBytes);
  void* again = allocateLarge(2 * kLargeBufferBytes);
  CHECK(again == first);
  void* bigger = allocateLarge(4 * kLargeBufferBytes);
  CHECK(bigger != first);
  static_cast<unsigned char*>(bigger)[4 * kLargeBufferBytes - 1] = 1;
  freeLarge(again, 2 * kLargeBufferBytes);
  freeLarge(bigger, 4 * kLargeBufferBytes);
  LargeFloats v(kLargeBufferBytes / sizeof(float) + 3, 1.5f);
  v.push_back(2.f);
  CHECK(v.front() == 1.5f);
  CHECK(v.back() == 2.f);
  CHECK(reinterpret_cast<uintptr_t>(v.data()) % 64 == 0);
}

namespace {

// Device memory simulated in separate host allocations. A handle points at a Block; a kernel
// handed anything else (a host pointer) fails loudly instead of reading it.
struct Block {
  static constexpr uint64_t kMagic = 0x7e55e1d0;
  uint64_t magic = kMagic;
  std::vector<uint8_t> bytes;
};

Block* blockOf(void* handle) {
  auto* b = static_cast<Block*>(handle);
  return b && b->magic == Block::kMagic ? b : nullptr;
}

struct Counts {
  int uploads = 0, downloads = 0, waits = 0;
};

class SimStream final : public Stream {
public:
  explicit SimStream(Counts* c) : counts_(c) {}
  Status wait() override {
    ++counts_->waits;
    return Status::ok();
  }

private:
  Counts* counts_;
};

class SimDevice final : public Device {
public:
  Counts counts;
  std::string_view memorySpace() const override { return "sim"; }
  Result<BufferRef> allocate(int64_t bytes) override {
    auto* b = new Block();
    b->bytes.assign(static_cast<size_t>(bytes), 0xAB);
    return BufferRef{b, 0};
  }
  void release(BufferRef buffer) override { delete blockOf(buffer.handle); }
  Result<std::unique_ptr<Stream>> createStream() override {
    return std::unique_ptr<Stream>(std::make_unique<SimStream>(&counts));
  }
  Status upload(Stream&, const BufferRef& dst, const void* src, int64_t bytes) override {
    Block* b = blockOf(dst.handle);
    if (!b) return internalError("upload to a non-device buffer");
    std::memcpy(b->bytes.data() + dst.offset, src, static_cast<size_t>(bytes));
    ++counts.uploads;
    return Status::ok();
  }
  Status download(Stream&, void* dst, const BufferRef& src, int64_t bytes) override {
    Block* b = blockOf(src.handle);
    if (!b) return internalError("download from a non-device buffer");
    std::memcpy(dst, b->bytes.data() + src.offset, static_cast<size_t>(bytes));
    ++counts.downloads;
    return Status::ok();
  }
};

float* deviceFloats(const BufferRef& r) {
  Block* b = blockOf(r.handle);
  return b ? reinterpret_cast<float*>(b->bytes.data() + r.offset) : nullptr;
}

// Relu, and add with a same-shape operand: enough arithmetic to force copies both ways.
class SimDescriptor final : public BackendDescriptor {
public:
  std::string_view name() const override { return "sim"; }
  std::string_view memorySpace() const override { return "sim"; }
  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    if (t[p.outputs[0]].dtype != DType::F32) return false;
    if (p.kind() == PrimitiveKind::Unary) return p.as<UnaryParams>().kind == UnaryKind::Relu;
    if (p.kind() == PrimitiveKind::Binary)
      return p.as<BinaryParams>().kind == BinaryKind::Add &&
             t[p.inputs[0]].shape == t[p.outputs[0]].shape &&
             t[p.inputs[1]].shape == t[p.outputs[0]].shape;
    return false;
  }
};

class SimKernel final : public PreparedKernel {
public:
  explicit SimKernel(PrimitiveKind kind) : kind_(kind) {}
  int64_t workspaceBytes(int) const override { return 16; }
  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    float* y = deviceFloats(out.buffer);
    if (!y || !deviceFloats(ctx.workspace)) return internalError("output or workspace not on sim");
    const int64_t n = out.desc->numel();
    std::vector<const float*> x;
    for (const TensorArg& a : in) {
      x.push_back(deviceFloats(a.buffer));
      if (!x.back()) return internalError("input not on sim");
    }
    for (int64_t i = 0; i < n; ++i)
      y[i] = kind_ == PrimitiveKind::Unary ? std::max(x[0][i], 0.f) : x[0][i] + x[1][i];
    return Status::ok();
  }

private:
  PrimitiveKind kind_;
};

class SimBackend final : public Backend {
public:
  std::shared_ptr<SimDevice> sim = std::make_shared<SimDevice>();
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override { return std::shared_ptr<Device>(sim); }
  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& a, Device&) const override {
    return std::unique_ptr<PreparedKernel>(std::make_unique<SimKernel>(a.primitive->kind()));
  }

private:
  SimDescriptor descriptor_;
};

// x -> relu (sim) -> transpose (host) -> relu (sim) -> view -> add constant (sim) -> y, and the
// transpose also feeds a second output straight from the host.
std::shared_ptr<Program> splitProgram() {
  auto prog = std::make_shared<Program>();
  static const float kB[6] = {0.5f, -1.f, 2.f, 0.f, 1.f, -3.f};
  prog->tensors = {{"x", {DType::F32, {2, 3}}, nullptr}, {"r", {DType::F32, {2, 3}}, nullptr},
                   {"t", {DType::F32, {3, 2}}, nullptr}, {"r2", {DType::F32, {3, 2}}, nullptr},
                   {"v", {DType::F32, {6}}, nullptr},    {"b", {DType::F32, {6}}, kB},
                   {"y", {DType::F32, {6}}, nullptr}};
  RasterParams tp;
  tp.regions = {Region{0, {0, {0, 1, 3}}, {0, {0, 2, 1}}, {1, 3, 2}}};
  prog->primitives = {{UnaryParams{UnaryKind::Relu}, {0}, {1}, "relu1"},
                      {tp, {1}, {2}, "transpose"},
                      {UnaryParams{UnaryKind::Relu}, {2}, {3}, "relu2"},
                      {ViewParams{}, {3}, {4}, "flat"},
                      {BinaryParams{BinaryKind::Add, {1}, {1}}, {4, 5}, {6}, "add"}};
  prog->inputs = {0};
  prog->outputs = {6, 2};
  return prog;
}

std::vector<float> runWith(const BackendRegistry& registry, const std::string& preferred,
                           Session** keep, std::unique_ptr<Session>* owner) {
  SessionOptions opts;
  opts.backend = preferred;
  opts.threads = 1;
  auto s = Session::create(splitProgram(), registry, opts);
  REQUIRE(s.isOk());
  *owner = std::move(s).value();
  *keep = owner->get();
  const float x[6] = {1, -2, 3, -4, 5, -6};
  REQUIRE((*keep)->setInput(0, x, sizeof x).isOk());
  REQUIRE((*keep)->run().isOk());
  const auto* y = static_cast<const float*>((*keep)->outputData(0));
  const auto* t = static_cast<const float*>((*keep)->outputData(1));
  std::vector<float> out(y, y + 6);
  out.insert(out.end(), t, t + 6);
  return out;
}

} // namespace

TEST_CASE("a device-memory backend gets exactly the copies a split plan needs") {
  BackendRegistry host;
  registerBuiltinBackends(host);
  Session* s = nullptr;
  std::unique_ptr<Session> owner;
  const std::vector<float> want = runWith(host, "", &s, &owner);
  CHECK(s->runCopyCount() == 0);
  CHECK(s->preloadCopyCount() == 0);

  BackendRegistry registry;
  auto sim = std::make_unique<SimBackend>();
  SimDevice* device = sim->sim.get();
  registry.add(std::move(sim));
  registerBuiltinBackends(registry);
  CHECK(runWith(registry, "sim", &s, &owner) == want);
  CHECK(s->backendOf(0)->name() == "sim");
  CHECK(s->backendOf(1)->descriptor().memorySpace() == kHostSpace); // the transpose
  CHECK(s->backendOf(3) == nullptr);
  // Per run: x up, r down (for the host transpose), t up, y down. Once: the constant b up.
  CHECK(s->preloadCopyCount() == 1);
  CHECK(s->runCopyCount() == 4);
  CHECK(device->counts.uploads == 3);
  CHECK(device->counts.downloads == 2);
  REQUIRE(s->run().isOk());
  CHECK(device->counts.uploads == 5);
  CHECK(device->counts.downloads == 4);
  REQUIRE(s->arenas().size() == 2);
  CHECK(s->arenas()[1].space == "sim");
  CHECK(s->arenas()[1].bytes > 0);
}

TEST_CASE("sessions with more threads give the same answers") {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  auto model = PreparedModel::create(splitProgram(), registry);
  REQUIRE(model.isOk());
  const float x[6] = {1, -2, 3, -4, 5, -6};
  std::vector<float> first;
  for (int threads : {1, 2, 4}) {
    SessionOptions opts;
    opts.threads = threads;
    auto s = Session::create(*model, opts);
    REQUIRE(s.isOk());
    CHECK((*s)->threads() == threads);
    REQUIRE((*s)->setInput(0, x, sizeof x).isOk());
    REQUIRE((*s)->run().isOk());
    const auto* y = static_cast<const float*>((*s)->outputData(0));
    std::vector<float> got(y, y + 6);
    if (first.empty()) first = got;
    CHECK(got == first);
  }
  SessionOptions bad;
  bad.threads = -1;
  CHECK_FALSE(Session::create(*model, bad).isOk());
}

namespace {

std::vector<float> runHost(std::shared_ptr<Program> prog, const std::vector<std::vector<float>>& in,
                           std::unique_ptr<Session>* keep) {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  SessionOptions one;
  one.threads = 1;
  auto s = Session::create(prog, registry, one);
  REQUIRE(s.isOk());
  for (size_t i = 0; i < in.size(); ++i)
    REQUIRE((*s)->setInput(i, in[i].data(), in[i].size() * 4).isOk());
  REQUIRE((*s)->run().isOk());
  std::vector<float> out;
  for (size_t i = 0; i < prog->outputs.size(); ++i) {
    const auto* y = static_cast<const float*>((*s)->outputData(i));
    out.insert(out.end(), y, y + prog->tensors[prog->outputs[i]].desc.numel());
  }
  *keep = std::move(s).value();
  return out;
}

Primitive relu(int32_t in, int32_t out) {
  return {UnaryParams{UnaryKind::Relu}, {in}, {out}, "relu"};
}

} // namespace

TEST_CASE("memory plan: a concat's producers write straight into its output") {
  // a = relu(x1), b = relu(x2), c = [a; b] (rows), y = relu(c)
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x1", {DType::F32, {2, 3}}, nullptr}, {"x2", {DType::F32, {1, 3}}, nullptr},
                   {"a", {DType::F32, {2, 3}}, nullptr},  {"b", {DType::F32, {1, 3}}, nullptr},
                   {"c", {DType::F32, {3, 3}}, nullptr},  {"y", {DType::F32, {3, 3}}, nullptr}};
  RasterParams cat;
  cat.regions = {Region{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 6}},
                 Region{1, {0, {0, 0, 1}}, {6, {0, 0, 1}}, {1, 1, 3}}};
  prog->primitives = {relu(0, 2), relu(1, 3), {cat, {2, 3}, {4}, "concat"}, relu(4, 5)};
  prog->inputs = {0, 1};
  prog->outputs = {5};
  std::unique_ptr<Session> s;
  const auto y = runHost(prog, {{1, -2, 3, -4, 5, -6}, {-7, 8, 9}}, &s);
  CHECK(y == std::vector<float>{1, 0, 3, 0, 5, 0, 0, 8, 9});
  CHECK(s->skippedRasterCount() == 1);

  // b is also an output: its storage stays its own and the concat copies.
  prog->outputs = {5, 3};
  const auto y2 = runHost(prog, {{1, -2, 3, -4, 5, -6}, {-7, 8, 9}}, &s);
  CHECK(y2 == std::vector<float>{1, 0, 3, 0, 5, 0, 0, 8, 9, 0, 8, 9});
  CHECK(s->skippedRasterCount() == 0);
}

TEST_CASE("memory plan: contiguous slices read their source in place") {
  // s = relu(x) [8]; lo = s[0:4], hi = s[4:8]; outputs relu(lo), relu(hi) and hi itself.
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, {8}}, nullptr},   {"s", {DType::F32, {8}}, nullptr},
                   {"lo", {DType::F32, {4}}, nullptr},  {"hi", {DType::F32, {2, 2}}, nullptr},
                   {"ylo", {DType::F32, {4}}, nullptr}, {"yhi", {DType::F32, {2, 2}}, nullptr}};
  RasterParams lo, hi;
  lo.regions = {Region{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 4}}};
  hi.regions = {Region{0, {4, {0, 2, 1}}, {0, {0, 2, 1}}, {1, 2, 2}}};
  prog->primitives = {
      relu(0, 1), {lo, {1}, {2}, "lo"}, {hi, {1}, {3}, "hi"}, relu(2, 4), relu(3, 5)};
  prog->inputs = {0};
  prog->outputs = {4, 5, 3};
  std::unique_ptr<Session> s;
  const auto y = runHost(prog, {{1, -2, 3, -4, 5, -6, 7, -8}}, &s);
  CHECK(y == std::vector<float>{1, 0, 3, 0, 5, 0, 7, 0, 5, 0, 7, 0});
  CHECK(s->skippedRasterCount() == 2);
}

TEST_CASE("memory plan: an output takes the storage of an input that dies at its step") {
  // a = relu(x); b = relu(a) (a dies: in place); c = relu(b) (b is read again: not in place);
  // d = b + c.
  auto prog = std::make_shared<Program>();
  prog->tensors = {{"x", {DType::F32, {4}}, nullptr},
                   {"a", {DType::F32, {4}}, nullptr},
                   {"b", {DType::F32, {4}}, nullptr},
                   {"c", {DType::F32, {4}}, nullptr},
                   {"d", {DType::F32, {4}}, nullptr}};
  prog->primitives = {relu(0, 1),
                      relu(1, 2),
                      relu(2, 3),
                      {BinaryParams{BinaryKind::Add, {1}, {1}}, {2, 3}, {4}, "add"}};
  prog->inputs = {0};
  prog->outputs = {4};
  std::unique_ptr<Session> s;
  const auto y = runHost(prog, {{1, -2, 3, -4}}, &s);
  CHECK(y == std::vector<float>{2, 0, 6, 0});
  // relu(a) -> b in place, and the add writes over b (its last reader); x, an input, never.
  CHECK(s->inPlaceCount() == 2);
  // Run again: the input is intact, the answer the same.
  REQUIRE(s->run().isOk());
  const auto* d = static_cast<const float*>(s->outputData(0));
  CHECK(std::vector<float>(d, d + 4) == y);
}

namespace {

// Runs a session of `model` on `threads` threads with input 0 = x; the first `count` floats of
// output 0, and how many rasters the session's aliasing skipped.
std::vector<float> runOnce(const std::shared_ptr<const PreparedModel>& model, int threads,
                           const std::vector<float>& x, size_t count, int* skipped = nullptr) {
  SessionOptions opts;
  opts.threads = threads;
  auto s = Session::create(model, opts);
  REQUIRE(s.isOk());
  REQUIRE((*s)->setInput(0, x.data(), x.size() * 4).isOk());
  REQUIRE((*s)->run().isOk());
  if (skipped) *skipped = (*s)->skippedRasterCount();
  const auto* y = static_cast<const float*>((*s)->outputData(0));
  return {y, y + count};
}

// x -> 1x1 conv (a) -> depthwise 3x3 + clip (b) -> 1x1 conv + a (c) -> max pool (d) -> 1x1
// conv (y), at 7x7 with 160/960 channels: the shape of mobilenet_v2's last blocks, where
// blocked tensors save the depthwise and pooling transposes. With `reluTail`, d is also read by
// a relu (an output): a primitive that takes only plain tensors.
std::shared_ptr<Program> blockedChain(bool reluTail) {
  static const std::vector<float> w0 = test::randomFloats(960 * 160, 1),
                                  w1 = test::randomFloats(960 * 9, 2),
                                  w2 = test::randomFloats(960 * 960, 3),
                                  w3 = test::randomFloats(160 * 960, 4);
  auto prog = std::make_shared<Program>();
  const auto t = [](const char* name, Shape s, const float* data = nullptr) {
    return ProgramTensor{name, {DType::F32, std::move(s)}, data};
  };
  prog->tensors = {t("x", {1, 160, 7, 7}),
                   t("w0", {960, 160, 1, 1}, w0.data()),
                   t("a", {1, 960, 7, 7}),
                   t("w1", {960, 1, 3, 3}, w1.data()),
                   t("b", {1, 960, 7, 7}),
                   t("w2", {960, 960, 1, 1}, w2.data()),
                   t("c", {1, 960, 7, 7}),
                   t("d", {1, 960, 7, 7}),
                   t("w3", {160, 960, 1, 1}, w3.data()),
                   t("y", {1, 160, 7, 7}),
                   t("r", {1, 960, 7, 7})};
  Conv2dParams pw, dw, res;
  dw.pads = {1, 1, 1, 1};
  dw.group = 960;
  dw.postOps = {PostOp::makeUnary(UnaryKind::Clip, 0.f, 6.f)};
  res.postOps = {PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 2)};
  PoolParams pool;
  pool.kind = PoolKind::Max;
  pool.kernel = {3, 3};
  pool.pads = {1, 1, 1, 1};
  prog->primitives = {{pw, {0, 1}, {2}, "expand"},
                      {dw, {2, 3}, {4}, "depthwise"},
                      {res, {4, 5, 2}, {6}, "project"},
                      {pool, {6}, {7}, "pool"},
                      {pw, {7, 8}, {9}, "head"}};
  prog->inputs = {0};
  prog->outputs = {9};
  if (reluTail) {
    prog->primitives.push_back(relu(7, 10));
    prog->outputs.push_back(10);
  }
  return prog;
}

// x [1,16,13,13] -> 1x1 conv (a, 32 channels) and 3x3 conv (b, `second` channels) -> concat (c)
// -> 3x3 max pool (d) -> 1x1 conv (h) -> global average pool (y): a squeezenet fire module and
// head. With `second` a multiple of every block, the concat moves whole blocks of channels.
std::shared_ptr<Program> fireModule(int64_t second) {
  static const std::vector<float> w0 = test::randomFloats(32 * 16, 11),
                                  w1 = test::randomFloats(64 * 16 * 9, 12),
                                  w2 = test::randomFloats(16 * 96, 13);
  auto prog = std::make_shared<Program>();
  const auto t = [](const char* name, Shape s, const float* data = nullptr) {
    return ProgramTensor{name, {DType::F32, std::move(s)}, data};
  };
  const int64_t both = 32 + second, plane = 13 * 13;
  prog->tensors = {t("x", {1, 16, 13, 13}),     t("w0", {32, 16, 1, 1}, w0.data()),
                   t("a", {1, 32, 13, 13}),     t("w1", {second, 16, 3, 3}, w1.data()),
                   t("b", {1, second, 13, 13}), t("c", {1, both, 13, 13}),
                   t("d", {1, both, 6, 6}),     t("w2", {16, both, 1, 1}, w2.data()),
                   t("h", {1, 16, 6, 6}),       t("y", {1, 16, 1, 1})};
  Conv2dParams pw, c3;
  pw.postOps = c3.postOps = {PostOp::makeUnary(UnaryKind::Relu)};
  c3.pads = {1, 1, 1, 1};
  RasterParams cat;
  cat.regions = {Region{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 32 * plane}},
                 Region{1, {0, {0, 0, 1}}, {32 * plane, {0, 0, 1}}, {1, 1, second * plane}}};
  PoolParams pool;
  pool.kind = PoolKind::Max;
  pool.kernel = {3, 3};
  pool.stride = {2, 2};
  prog->primitives = {{pw, {0, 1}, {2}, "expand1x1"},
                      {c3, {0, 3}, {4}, "expand3x3"},
                      {cat, {2, 4}, {5}, "concat"},
                      {pool, {5}, {6}, "pool"},
                      {Conv2dParams{}, {6, 7}, {8}, "head"},
                      {ReduceParams{ReduceKind::Mean, 16, 36, 1}, {8}, {9}, "global pool"}};
  prog->inputs = {0};
  prog->outputs = {9};
  return prog;
}

} // namespace

TEST_CASE("layouts: tensors between kernels with channels in the lanes are blocked at load") {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  const std::vector<float> x = test::randomFloats(160 * 49, 9);
  for (bool reluTail : {false, true}) {
    INFO((reluTail ? "with" : "without") << " a relu reading the pool's output");
    std::vector<std::vector<float>> outs;
    std::vector<TensorDesc> descs;
    for (bool blocked : {false, true}) {
      PrepareOptions po;
      po.blockedLayouts = blocked;
      auto model = PreparedModel::create(blockedChain(reluTail), registry, po);
      REQUIRE(model.isOk());
      outs.push_back(runOnce(*model, 1, x, 160 * 49));
      if (blocked)
        descs = (*model)->descs();
      else
        CHECK((*model)->blockedTensorCount() == 0);
    }
    for (size_t i = 0; i < outs[0].size(); ++i)
      REQUIRE(outs[1][i] == Approx(outs[0][i]).epsilon(1e-4).margin(1e-3));
    if (registry.find("cpu_x86") == nullptr) continue; // no blocked layouts without it
    const auto layoutOf = [&](size_t id) { return descs[id].layout; };
    // Input, output and weights stay plain; the residual's operand (a) and result (c) share a
    // layout; the depthwise output is blocked (its transposes are what blocking saves).
    for (size_t id : {0, 1, 3, 5, 8, 9})
      CHECK(layoutOf(id) == Layout::Plain);
    CHECK(layoutOf(2) == layoutOf(6));
    CHECK(layoutOf(4) != Layout::Plain);
    // d is read by the relu when reluTail: plain then, and the pool that writes it takes its
    // input in the same layout.
    if (reluTail) {
      CHECK(layoutOf(7) == Layout::Plain);
      CHECK(layoutOf(6) == Layout::Plain);
    } else {
      CHECK(layoutOf(7) != Layout::Plain);
    }
  }
}

TEST_CASE("layouts: a concat of whole blocks of channels and a global pool's input are blocked") {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  const std::vector<float> x = test::randomFloats(16 * 169, 14);
  // 64 channels: whole blocks of 8 and of 16; 20: neither, so the concat's tensors stay plain
  // (a blocked copy of them would move parts of blocks).
  for (int64_t second : {64, 20}) {
    INFO("the 3x3 convolution's channels: " << second);
    std::vector<std::vector<float>> outs;
    for (bool blocked : {false, true}) {
      PrepareOptions po;
      po.blockedLayouts = blocked;
      auto model = PreparedModel::create(fireModule(second), registry, po);
      INFO(model.status().message());
      REQUIRE(model.isOk());
      for (int threads : {1, 2}) {
        int skipped = 0;
        outs.push_back(runOnce(*model, threads, x, 16, &skipped));
        CHECK(skipped == 1); // the producers write into the concat
      }
      if (!blocked || registry.find("cpu_x86") == nullptr) continue;
      const std::vector<TensorDesc>& d = (*model)->descs();
      for (size_t id : {0, 1, 3, 7, 9})
        CHECK(d[id].layout == Layout::Plain);
      // The concat's sources, the concat and the pool share one layout.
      for (size_t id : {4, 5, 6})
        CHECK(d[id].layout == d[2].layout);
      CHECK((d[2].layout != Layout::Plain) == (second == 64));
      // The global pool reads the head's result blocked and writes a plain output.
      CHECK(d[8].layout != Layout::Plain);
    }
    for (size_t k = 1; k < outs.size(); ++k)
      for (size_t i = 0; i < outs[0].size(); ++i)
        REQUIRE(outs[k][i] == Approx(outs[0][i]).epsilon(1e-4).margin(1e-4));
  }
}

TEST_CASE("a primitive timed in isolation: the kernel runs the asked number of times") {
  // relu over 4 floats on the reference backend, run three times: the output is the same and
  // the fastest run's time is reported.
  Primitive p{UnaryParams{UnaryKind::Relu}, {0}, {1}, "relu"};
  const std::vector<TensorDesc> d{{DType::F32, {4}}, {DType::F32, {4}}};
  const float x[4] = {1, -2, 3, -4};
  float y[4] = {};
  double best = -1;
  HostRunOptions opts;
  opts.runs = 3;
  opts.bestSeconds = &best;
  const void* in[] = {x};
  REQUIRE(runPrimitiveOnHost(test::backendNamed("reference"), p, d, in, y, opts).isOk());
  CHECK(std::vector<float>(y, y + 4) == std::vector<float>{1, 0, 3, 0});
  CHECK(best >= 0);
  CHECK(best < 1.0);
}
