// libFuzzer target: the artifact loader on arbitrary bytes. Whatever loads must also run (on
// small programs) without memory errors: the loader's validation is what makes that safe.
#include "../../runtime/src/checksum.h"
#include "tessel/graph/artifact.h"
#include "tessel/graph/dynamic_session.h"
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/session.h"

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The checksum trailer re-fixed over the mutated bytes, so that mutations reach the checks
  // behind it (without it every one stops at the checksum).
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() >= 20) {
    const uint64_t h = tessel::artifactChecksum(bytes.data(), bytes.size() - 8);
    for (int i = 0; i < 8; ++i)
      bytes[bytes.size() - 8 + i] = static_cast<uint8_t>(h >> (8 * i));
  }
  auto prog = tessel::loadArtifact(std::move(bytes));
  if (!prog.isOk()) return 0;
  if ((*prog)->plansAtRunTime) {
    // The graph table, read and checked; what passes runs once through a dynamic session with
    // small patterned inputs (declared dims; symbolic ones as 2).
    auto graph = tessel::graph::artifactGraph(**prog);
    if (!graph.isOk() || !*graph || (*graph)->nodes.size() > 64) return 0;
    tessel::graph::DynamicOptions one;
    one.session.threads = 1;
    one.maxLaidOutNodes = 2048; // a mutated loop count: a short run, not 2^15 nodes under ASan
    one.session.memoryBudget = int64_t{64} << 20;
    auto session = tessel::graph::DynamicSession::create(*graph, one);
    if (!session.isOk()) return 0;
    std::vector<std::vector<uint8_t>> storage;
    storage.reserve((*session)->inputCount()); // the refs point into it
    std::vector<tessel::graph::InputRef> inputs;
    for (size_t i = 0; i < (*session)->inputCount(); ++i) {
      tessel::TensorDesc d = (*session)->input(i).desc;
      for (int64_t& dim : d.shape)
        if (dim < 0) dim = 2;
      auto n = tessel::elementCount(d.shape);
      if (!n.isOk() || *n > 4096) return 0;
      storage.emplace_back(d.byteSize(), uint8_t{1});
      inputs.push_back({d, storage.back().data()});
    }
    (void)(*session)->run(inputs);
    return 0;
  }
  int64_t elements = 0;
  for (const auto& t : (*prog)->tensors)
    elements += t.desc.numel();
  if (elements > 4096) return 0; // keep each run short
  tessel::BackendRegistry registry;
  tessel::registerBuiltinBackends(registry);
  tessel::SessionOptions one;
  one.threads = 1;
  auto session = tessel::Session::create(*prog, registry, one);
  if (session.isOk()) (void)(*session)->run();
  return 0;
}
