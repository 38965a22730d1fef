// libFuzzer target: the artifact loader on arbitrary bytes. Whatever loads must also run (on
// small programs) without memory errors: the loader's validation is what makes that safe.
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/session.h"

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto prog = tessel::loadArtifact(std::vector<uint8_t>(data, data + size));
  if (!prog.isOk()) return 0;
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
