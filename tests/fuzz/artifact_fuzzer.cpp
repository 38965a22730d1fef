// libFuzzer target: the artifact loader on arbitrary bytes. Whatever loads must also run (on
// small programs) without memory errors: the loader's validation is what makes that safe.
#include "../../runtime/src/checksum.h"
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
