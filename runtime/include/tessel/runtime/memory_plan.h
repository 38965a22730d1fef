// MemoryPlan: one arena for every non-constant tensor, with buffers of tensors whose lifetimes do
// not overlap sharing bytes. Views share their source's buffer.
#pragma once

#include "tessel/runtime/program.h"

#include <cstdint>
#include <vector>

namespace tessel {

struct MemoryPlan {
  static constexpr int64_t kNoOffset = -1;
  std::vector<int64_t> offsets; // per tensor: byte offset in the arena, kNoOffset for constants
  std::vector<int32_t> aliasOf; // per tensor: the tensor whose storage it uses (itself if none)
  int64_t arenaBytes = 0;       // the peak: bytes the arena needs
  int64_t unsharedBytes = 0;    // what the arena would need without reuse
};

MemoryPlan planMemory(const Program& program);

} // namespace tessel
