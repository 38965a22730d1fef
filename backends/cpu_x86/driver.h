// Baseline-ISA driver code shared by the cpu_x86 kernels: post-op plans, the family in use,
// parallel loops. The vector code is behind KernelTable.
#pragma once

#include "kernel_table.h"
#include "tessel/runtime/backend.h"
#include "tessel/runtime/thread_pool.h"

#include <algorithm>
#include <array>
#include <functional>
#include <span>
#include <vector>

namespace tessel::x86 {

// Whether the family kernels have a vector form of this kind (kernels_impl.h unary/binary).
bool vectorUnary(UnaryKind k);
bool vectorBinary(BinaryKind k);
bool vectorPostOps(const PostOps& ops);

// A primitive's post-ops with their operands still named by input index; resolve() gives the
// kernels' form for one output (operand pointers, Full operands offset to that output).
class EpiloguePlan {
public:
  // channel: how the primitive's channel spreads over rows and columns (Row for conv, Column
  // for matmul). A bias, when biasInput >= 0, comes first as an "add" spread as biasSpread.
  EpiloguePlan(const PostOps& ops, Spread channel, int biasInput, Spread biasSpread,
               int64_t biasLd = 0);
  bool empty() const { return ops_.empty(); }
  // fullOffset: elements from a Full operand's start to this output's origin; ld its row pitch.
  void resolve(std::span<const TensorArg> inputs, int64_t fullOffset, int64_t ld,
               std::vector<EpilogueOp>* out) const;

private:
  std::vector<EpilogueOp> ops_;
  std::vector<int> operand_; // per op: input index, -1 for unary
  bool hasBias_ = false;     // ops_[0] is the bias
};

// Runs fn(task, slot) for every task on the context's pool (or inline without one).
void parallelFor(const ExecContext& ctx, int64_t tasks,
                 const std::function<void(int64_t task, int slot)>& fn);

int64_t ceilDiv(int64_t a, int64_t b);

// [begin, end) as [begin, cut) and [cut, end), cut clamped into the range: runs of panels of one
// shape, either possibly empty.
inline std::array<std::pair<int64_t, int64_t>, 2> splitAt(int64_t begin, int64_t end, int64_t cut) {
  cut = std::clamp(cut, begin, end);
  return {std::pair{begin, cut}, std::pair{cut, end}};
}

// n rows in as few microkernel panels of at most mr rows as they need, their sizes differing by
// at most one: 49 rows with mr 6 are 9 panels of 5 or 6, not 8 of 6 and one of 1 (a panel of
// few rows has too few accumulators to hide the FMA latency; 320->1280 at 7x7: 4% faster).
struct Panels {
  int64_t count = 0, small = 0, big = 0; // the first `big` panels have small + 1 rows
  Panels(int64_t n, int64_t mr) {
    count = n > 0 ? ceilDiv(n, std::max<int64_t>(mr, 1)) : 0;
    small = count ? n / count : 0;
    big = count ? n % count : 0;
  }
  int64_t begin(int64_t i) const { return i * small + std::min(i, big); }
  int rows(int64_t i) const { return static_cast<int>(small + (i < big ? 1 : 0)); }
  int64_t largest() const { return small + (big ? 1 : 0); }
  // Panels [begin, end) as runs of equal rows (one microkernel call each): those of small + 1
  // rows, then those of small rows; either may be empty.
  std::array<std::pair<int64_t, int64_t>, 2> equalRuns(int64_t begin, int64_t end) const {
    return splitAt(begin, end, big);
  }
};

// Channels as a tensor stores them: padded to whole blocks when blocked (block > 0).
inline int64_t storedChannels(int64_t channels, int64_t block) {
  return block ? ceilDiv(channels, block) * block : channels;
}

// A window op (depthwise convolution, pooling) over `channels` planes: block.g.x, block.weight,
// block.y, block.channel locate the first channel; the rest of block is shared. Tasks of one
// block of W channels and a run of output rows; ws: windowWorkspaceBytes of scratch.
void runWindow(const ExecContext& ctx, const KernelTable& t, const WindowBlock& block,
               int64_t channels, float* ws);
int64_t windowWorkspaceBytes(const KernelTable& t, const ConvGeometry& g, int threads);

} // namespace tessel::x86
