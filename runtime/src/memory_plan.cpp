#include "tessel/runtime/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace tessel {
namespace {

int64_t alignUp(int64_t v) {
  return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

} // namespace

ArenaLayout packLifetimes(const std::vector<Lifetime>& buffers) {
  ArenaLayout layout;
  layout.offsets.assign(buffers.size(), 0);
  std::vector<int64_t> bytes(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i)
    bytes[i] = alignUp(std::max<int64_t>(buffers[i].bytes, 1));
  // Greedy by size: each buffer takes the lowest offset free during its whole lifetime.
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return bytes[a] > bytes[b]; });
  std::vector<size_t> placed;
  std::vector<std::pair<int64_t, int64_t>> busy;
  for (size_t bi : order) {
    const Lifetime& b = buffers[bi];
    busy.clear();
    for (size_t pi : placed) {
      const Lifetime& o = buffers[pi];
      if (o.last < b.first || b.last < o.first) continue;
      busy.emplace_back(layout.offsets[pi], layout.offsets[pi] + bytes[pi]);
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + bytes[bi] <= lo) break;
      offset = std::max(offset, hi);
    }
    layout.offsets[bi] = offset;
    placed.push_back(bi);
    layout.arenaBytes = std::max(layout.arenaBytes, offset + bytes[bi]);
    layout.unsharedBytes += bytes[bi];
  }
  return layout;
}

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

  std::vector<Lifetime> buffers;
  std::vector<int32_t> roots;
  for (size_t id = 0; id < count; ++id) {
    if (plan.aliasOf[id] != static_cast<int32_t>(id) || program.tensors[id].data) continue;
    if (first[id] == end && last[id] < 0) continue; // never used
    buffers.push_back(
        {program.tensors[id].desc.byteSize(), first[id], std::max(last[id], first[id])});
    roots.push_back(static_cast<int32_t>(id));
  }
  const ArenaLayout layout = packLifetimes(buffers);
  plan.arenaBytes = layout.arenaBytes;
  plan.unsharedBytes = layout.unsharedBytes;
  for (size_t i = 0; i < roots.size(); ++i)
    plan.offsets[roots[i]] = layout.offsets[i];
  for (size_t id = 0; id < count; ++id)
    plan.offsets[id] = plan.offsets[plan.aliasOf[id]];
  return plan;
}

} // namespace tessel
