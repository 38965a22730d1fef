#include "tessel/runtime/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace tessel {
namespace {

constexpr int64_t kAlign = 64;

int64_t alignUp(int64_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}

struct Buffer {
  int32_t root;
  int64_t bytes;
  int64_t first; // primitive index of the first write (-1: before the run)
  int64_t last;  // primitive index of the last read
  int64_t offset = 0;
};

} // namespace

MemoryPlan planMemory(const Program& program) {
  const size_t count = program.tensors.size();
  const int64_t end = static_cast<int64_t>(program.primitives.size());
  MemoryPlan plan;
  plan.offsets.assign(count, MemoryPlan::kNoOffset);
  plan.aliasOf.resize(count);
  std::iota(plan.aliasOf.begin(), plan.aliasOf.end(), 0);
  for (const Primitive& p : program.primitives)
    if (p.kind() == PrimitiveKind::View) plan.aliasOf[p.outputs[0]] = plan.aliasOf[p.inputs[0]];

  std::vector<int64_t> first(count, end), last(count, -1);
  for (int32_t id : program.inputs)
    first[plan.aliasOf[id]] = -1;
  for (int64_t i = 0; i < end; ++i) {
    const Primitive& p = program.primitives[i];
    for (int32_t id : p.inputs)
      last[plan.aliasOf[id]] = std::max(last[plan.aliasOf[id]], i);
    int32_t root = plan.aliasOf[p.outputs[0]];
    first[root] = std::min(first[root], i);
    last[root] = std::max(last[root], i);
  }
  for (int32_t id : program.outputs)
    last[plan.aliasOf[id]] = end;

  std::vector<Buffer> buffers;
  for (size_t id = 0; id < count; ++id) {
    if (plan.aliasOf[id] != static_cast<int32_t>(id) || program.tensors[id].data) continue;
    if (first[id] == end && last[id] < 0) continue; // never used
    buffers.push_back({static_cast<int32_t>(id),
                       alignUp(std::max<int64_t>(program.tensors[id].desc.byteSize(), 1)),
                       first[id], std::max(last[id], first[id])});
  }
  // Greedy by size: each buffer takes the lowest offset free during its whole lifetime.
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<size_t> placed;
  for (size_t bi : order) {
    Buffer& b = buffers[bi];
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t pi : placed) {
      const Buffer& o = buffers[pi];
      if (o.last < b.first || b.last < o.first) continue;
      busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + b.bytes <= lo) break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    placed.push_back(bi);
    plan.arenaBytes = std::max(plan.arenaBytes, offset + b.bytes);
    plan.unsharedBytes += b.bytes;
  }
  for (const Buffer& b : buffers)
    plan.offsets[b.root] = b.offset;
  for (size_t id = 0; id < count; ++id)
    plan.offsets[id] = plan.offsets[plan.aliasOf[id]];
  return plan;
}

} // namespace tessel
