// Session creation time against the primitive count (a benchmark, not a timed test): a chain of
// N small primitives (relu, add of an earlier result, a slicing raster) is loaded from an
// artifact (verified, validated), prepared and planned; load-time work must grow as n log n, not
// n^2. Usage: tessel_session_scale [N...]   (default 1000 10000 100000)
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/session.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace tessel;

namespace {

std::shared_ptr<Program> chain(int n) {
  auto prog = std::make_shared<Program>();
  const TensorDesc d{DType::F32, {4, 16}};
  prog->tensors.push_back({"x", d, nullptr});
  for (int i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(prog->tensors.size());
    prog->tensors.push_back({"t" + std::to_string(i), d, nullptr});
    const int32_t prev = id - 1;
    if (i % 3 == 0) {
      prog->primitives.push_back({UnaryParams{UnaryKind::Relu}, {prev}, {id}, "relu"});
    } else if (i % 3 == 1) {
      const int32_t earlier = std::max<int32_t>(0, prev - 5);
      prog->primitives.push_back(
          {BinaryParams{BinaryKind::Add, {16, 1}, {16, 1}}, {prev, earlier}, {id}, "add"});
    } else { // a copy of the rows in reverse: a raster
      RasterParams r;
      r.regions = {Region{0, {48, {0, -16, 1}}, {0, {0, 16, 1}}, {1, 4, 16}}};
      prog->primitives.push_back({r, {prev}, {id}, "reverse"});
    }
  }
  prog->inputs = {0};
  prog->outputs = {static_cast<int32_t>(prog->tensors.size() - 1)};
  return prog;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i)
    sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000, 100000};
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  for (int n : sizes) {
    const std::vector<uint8_t> bytes = writeArtifact(*chain(n), "session_scale");
    const auto t0 = std::chrono::steady_clock::now();
    auto loaded = loadArtifact(bytes); // verifies and validates every primitive
    if (!loaded.isOk()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return 1;
    }
    auto prog = std::const_pointer_cast<Program>(*loaded);
    Status v = Status::ok();
    const auto t1 = std::chrono::steady_clock::now();
    SessionOptions so;
    so.threads = 1;
    auto s = Session::create(prog, registry, so);
    const auto t2 = std::chrono::steady_clock::now();
    if (!v.isOk() || !s.isOk()) {
      std::fprintf(stderr, "%s\n", (v.isOk() ? s.status() : v).message().c_str());
      return 1;
    }
    const auto t3 = std::chrono::steady_clock::now();
    Status r = (*s)->run();
    const auto t4 = std::chrono::steady_clock::now();
    using ms = std::chrono::duration<double, std::milli>;
    std::printf("%7d primitives: load %8.1f ms, session %8.1f ms, run %8.1f ms%s\n", n,
                ms(t1 - t0).count(), ms(t2 - t1).count(), ms(t4 - t3).count(),
                r.isOk() ? "" : " (run failed)");
  }
  return 0;
}
