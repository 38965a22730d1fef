// libFuzzer target: the profile cache's parser on arbitrary bytes (the file is untrusted: another
// process, another build, a truncated write). Whatever parses must print back to text that
// parses to the same entries.
#include "tessel/runtime/profile_cache.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto cache =
      tessel::ProfileCache::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!cache.isOk()) return 0;
  const std::string text = cache->text();
  auto again = tessel::ProfileCache::parse(text);
  if (!again.isOk() || again->size() != cache->size() || again->text() != text) std::abort();
  return 0;
}
