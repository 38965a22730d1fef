// The artifact's whole-file checksum: XXH3 64-bit (xxHash, Debian's libxxhash-dev, used as a
// header so the runtime gains no shared-library dependency), seed 0. Detects damage and edits,
// not tampering: packages are signed by the deployment side. About 20x faster than the byte-wise
// FNV-1a (resnet18's 47 MB: ~3 ms).
#pragma once

#include <cstddef>
#include <cstdint>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tessel {

inline uint64_t artifactChecksum(const uint8_t* data, size_t size) {
  return XXH3_64bits(data, size);
}

// The checksum an artifact of `size` bytes carries: its last 8 bytes, little-endian.
inline uint64_t storedChecksum(const uint8_t* artifact, size_t size) {
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i)
    h |= static_cast<uint64_t>(artifact[size - 8 + i]) << (8 * i);
  return h;
}

} // namespace tessel
