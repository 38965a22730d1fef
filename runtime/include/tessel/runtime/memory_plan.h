// Memory planning. packLifetimes places buffers with known lifetimes in one arena so that buffers
// alive at the same time never overlap (greedy by size, lowest free offset). A session calls it
// once per memory space over its execution steps; planMemory is the program-level view (one host
// arena, views sharing their source's buffer) used by reports and tests.
#pragma once

#include "tessel/runtime/program.h"

#include <cstdint>
#include <vector>

namespace tessel {

inline constexpr int64_t kArenaAlignment = 64;

struct Lifetime {
  int64_t bytes = 0;
  int64_t first = 0; // step of the first write (-1: before the run)
  int64_t last = 0;  // step of the last read (inclusive)
};

struct ArenaLayout {
  std::vector<int64_t> offsets; // per lifetime, kArenaAlignment-aligned
  int64_t arenaBytes = 0;       // the peak
  int64_t unsharedBytes = 0;    // what the arena would need without reuse
};

// Up to kPackBySizeLimit buffers: greedy by size, lowest free offset (quadratic, the tightest);
// more (a file with 100k primitives): first use order, best-fit free block (O(n log n)).
// Sizes past INT64_MAX saturate there.
inline constexpr size_t kPackBySizeLimit = 4096;
ArenaLayout packLifetimes(const std::vector<Lifetime>& buffers);

struct MemoryPlan {
  static constexpr int64_t kNoOffset = -1;
  std::vector<int64_t> offsets; // per tensor: byte offset in the arena, kNoOffset for constants
  std::vector<int32_t> aliasOf; // per tensor: the tensor whose storage it uses (itself if none)
  int64_t arenaBytes = 0;       // the peak: bytes the arena needs
  int64_t unsharedBytes = 0;    // what the arena would need without reuse
};

MemoryPlan planMemory(const Program& program);

} // namespace tessel
