// FNV-1a 64: the artifact's constant-data checksum (detects damage, not tampering; packages are
// signed by deploy/).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessel {

inline uint64_t fnv1a64(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace tessel
