#include "tessel/runtime/memory_plan.h"

#include "tessel/core/checked_math.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <queue>

namespace tessel {
namespace {

int64_t alignUp(int64_t v) {
  return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

} // namespace

namespace {
// Greedy by size: each buffer takes the lowest offset free during its whole lifetime. The
// tightest packing of the two here, but each buffer looks at every buffer placed before it.
void packBySize(const std::vector<Lifetime>& buffers, const std::vector<int64_t>& bytes,
                ArenaLayout* layout) {
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return bytes[a] > bytes[b]; });
  // Placed buffers by offset: the ones alive with b, met in that order, are its busy ranges
  // sorted, so the lowest gap that holds b is found in the same pass.
  std::vector<size_t> placed;
  placed.reserve(buffers.size());
  for (size_t bi : order) {
    const Lifetime& b = buffers[bi];
    int64_t offset = 0;
    for (size_t pi : placed) {
      const Lifetime& o = buffers[pi];
      if (o.last < b.first || b.last < o.first) continue;
      if (saturatingAdd(offset, bytes[bi]) <= layout->offsets[pi]) break;
      offset = std::max(offset, saturatingAdd(layout->offsets[pi], bytes[pi]));
    }
    layout->offsets[bi] = offset;
    auto at = std::upper_bound(placed.begin(), placed.end(), offset,
                               [&](int64_t v, size_t pi) { return v < layout->offsets[pi]; });
    placed.insert(at, bi);
    layout->arenaBytes = std::max(layout->arenaBytes, saturatingAdd(offset, bytes[bi]));
  }
}

// In order of first use, each buffer takes the smallest free block that holds it (blocks freed
// when their buffer's lifetime ends, neighbours merged), else the arena grows: O(n log n).
void packInOrder(const std::vector<Lifetime>& buffers, const std::vector<int64_t>& bytes,
                 ArenaLayout* layout) {
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return buffers[a].first != buffers[b].first ? buffers[a].first < buffers[b].first
                                                : bytes[a] > bytes[b];
  });
  std::map<int64_t, int64_t> freeAt;          // offset -> size
  std::multimap<int64_t, int64_t> freeBySize; // size -> offset
  std::priority_queue<std::pair<int64_t, size_t>, std::vector<std::pair<int64_t, size_t>>,
                      std::greater<>>
      live; // (last, buffer)
  int64_t top = 0;
  const auto eraseBySize = [&](int64_t size, int64_t offset) {
    auto [lo, hi] = freeBySize.equal_range(size);
    for (auto it = lo; it != hi; ++it)
      if (it->second == offset) {
        freeBySize.erase(it);
        return;
      }
  };
  const auto release = [&](int64_t offset, int64_t size) {
    auto next = freeAt.lower_bound(offset);
    if (next != freeAt.end() &&
        next->first == saturatingAdd(offset, size)) { // merge the block after
      size = saturatingAdd(size, next->second);
      eraseBySize(next->second, next->first);
      next = freeAt.erase(next);
    }
    if (next != freeAt.begin()) { // merge the block before
      auto prev = std::prev(next);
      if (saturatingAdd(prev->first, prev->second) == offset) {
        offset = prev->first;
        size = saturatingAdd(size, prev->second);
        eraseBySize(prev->second, prev->first);
        freeAt.erase(prev);
      }
    }
    if (saturatingAdd(offset, size) == top) { // the arena's end: shrink back
      top = offset;
      return;
    }
    freeAt[offset] = size;
    freeBySize.emplace(size, offset);
  };
  for (size_t bi : order) {
    while (!live.empty() && live.top().first < buffers[bi].first) {
      const size_t done = live.top().second;
      live.pop();
      release(layout->offsets[done], bytes[done]);
    }
    auto fit = freeBySize.lower_bound(bytes[bi]);
    if (fit != freeBySize.end()) {
      const int64_t offset = fit->second, size = fit->first;
      freeBySize.erase(fit);
      freeAt.erase(offset);
      layout->offsets[bi] = offset;
      if (size > bytes[bi]) {
        freeAt[offset + bytes[bi]] = size - bytes[bi];
        freeBySize.emplace(size - bytes[bi], offset + bytes[bi]);
      }
    } else {
      layout->offsets[bi] = top;
      top = saturatingAdd(top, bytes[bi]);
    }
    layout->arenaBytes =
        std::max(layout->arenaBytes, saturatingAdd(layout->offsets[bi], bytes[bi]));
    live.emplace(buffers[bi].last, bi);
  }
}

} // namespace

ArenaLayout packLifetimes(const std::vector<Lifetime>& buffers) {
  ArenaLayout layout;
  layout.offsets.assign(buffers.size(), 0);
  std::vector<int64_t> bytes(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    const int64_t b = std::max<int64_t>(buffers[i].bytes, 1);
    bytes[i] = b > std::numeric_limits<int64_t>::max() - kArenaAlignment
                   ? std::numeric_limits<int64_t>::max() / kArenaAlignment * kArenaAlignment
                   : alignUp(b);
    layout.unsharedBytes = saturatingAdd(layout.unsharedBytes, bytes[i]);
  }
  if (buffers.size() <= kPackBySizeLimit)
    packBySize(buffers, bytes, &layout);
  else
    packInOrder(buffers, bytes, &layout);
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
  for (int32_t id : program.inputs) // kept for every run, like the outputs
    last[plan.aliasOf[id]] = end;
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
