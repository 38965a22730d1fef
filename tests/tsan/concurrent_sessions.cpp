// ThreadSanitizer driver (run_tsan.sh): sessions of one model run concurrently on several
// threads through the C API and must agree with a single-threaded run; one session used from
// two threads at once is refused, not raced. Exit status 0 when every output matched (TSan
// itself exits non-zero on a race).
#include "tessel/runtime/artifact.h"
#include "tessel/tessel.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace tessel;

namespace {

// x [1, 8, 12, 12] -> 3x3 conv (16 channels, bias, relu) -> max pool 2x2 -> 1x1 conv (8) -> its
// rows reversed (a raster): small, but a conv, a pool and a raster on the shared thread pool.
std::vector<uint8_t> model() {
  static std::vector<float> w1(16 * 8 * 9), b1(16), w2(8 * 16);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  for (auto* v : {&w1, &b1, &w2})
    for (float& f : *v)
      f = u(rng);
  Program p;
  const auto t = [](const char* name, Shape s, const float* data = nullptr) {
    return ProgramTensor{name, {DType::F32, std::move(s)}, data};
  };
  p.tensors = {t("x", {1, 8, 12, 12}),   t("w1", {16, 8, 3, 3}, w1.data()),
               t("b1", {16}, b1.data()), t("a", {1, 16, 12, 12}),
               t("m", {1, 16, 6, 6}),    t("w2", {8, 16, 1, 1}, w2.data()),
               t("c", {1, 8, 6, 6}),     t("y", {1, 8, 6, 6})};
  Conv2dParams c1;
  c1.pads = {1, 1, 1, 1};
  c1.hasBias = true;
  c1.postOps = {PostOp::makeUnary(UnaryKind::Relu)};
  PoolParams pool;
  pool.kernel = {2, 2};
  pool.stride = {2, 2};
  RasterParams flip; // y = c with its rows in reverse order
  flip.regions = {Region{0, {5 * 6, {36, -6, 1}}, {0, {36, 6, 1}}, {8, 6, 6}}};
  p.primitives = {{c1, {0, 1, 2}, {3}, "conv1"},
                  {pool, {3}, {4}, "pool"},
                  {Conv2dParams{}, {4, 5}, {6}, "conv2"},
                  {flip, {6}, {7}, "flip"}};
  p.inputs = {0};
  p.outputs = {7};
  return writeArtifact(p, "tsan");
}

std::vector<float> runOnce(tessel_session* s, const std::vector<float>& x) {
  if (tessel_session_set_input(s, 0, x.data(), x.size() * 4) || tessel_session_run(s)) return {};
  const void* out = nullptr;
  size_t size = 0;
  if (tessel_session_get_output(s, 0, &out, &size)) return {};
  const auto* f = static_cast<const float*>(out);
  return {f, f + size / 4};
}

} // namespace

int main() {
  const std::vector<uint8_t> bytes = model();
  tessel_model* m = nullptr;
  if (tessel_model_load_memory(bytes.data(), bytes.size(), &m)) return 2;
  std::vector<float> x(8 * 12 * 12);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>((i * 37) % 101) / 50.f - 1.f;
  tessel_session_options one;
  tessel_session_options_init(&one);
  one.threads = 1;
  tessel_session* ref = nullptr;
  if (tessel_session_create(m, &one, &ref)) return 3;
  const std::vector<float> want = runOnce(ref, x);
  if (want.empty()) return 4;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      tessel_session_options o;
      tessel_session_options_init(&o);
      o.threads = 1 + k % 2; // some sessions run kernels on the shared pool too
      tessel_session* s = nullptr;
      if (tessel_session_create(m, &o, &s)) {
        ++mismatches;
        return;
      }
      for (int r = 0; r < 20; ++r)
        if (runOnce(s, x) != want) ++mismatches;
      tessel_session_release(s);
    });
  // One session from two threads at once: every call either runs or is refused.
  std::atomic<int> unexpected{0};
  for (int k = 0; k < 2; ++k)
    threads.emplace_back([&] {
      for (int r = 0; r < 200; ++r) {
        tessel_status st = tessel_session_run(ref);
        if (st && std::strstr(tessel_status_get_message(st), "in use by another thread") == nullptr)
          ++unexpected;
        tessel_status_free(st);
      }
    });
  for (auto& t : threads)
    t.join();
  tessel_session_release(ref);
  tessel_model_release(m);
  std::printf("concurrent sessions: %d mismatches, %d unexpected errors\n", mismatches.load(),
              unexpected.load());
  return mismatches == 0 && unexpected == 0 ? 0 : 1;
}
