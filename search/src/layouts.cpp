#include "tessel/search/layouts.h"

#include <algorithm>
#include <numeric>
#include <span>

namespace tessel::search {
namespace {

// Tried in this order for each group; a backend takes the one that suits its vectors.
constexpr Layout kBlocked[] = {Layout::NCHWc8, Layout::NCHWc16};

// Union-find over tensor ids.
struct Groups {
  std::vector<size_t> parent;
  explicit Groups(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), size_t{0}); }
  size_t find(size_t x) {
    while (parent[x] != x)
      x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(size_t a, size_t b) { parent[find(a)] = find(b); }
};

// Values by key 0..n-1, each key's in the order given, flat rather than a vector per key (the
// planner runs for every plan a session makes, also at run time). `forEach(emit)` calls
// emit(key, value) for every pair; it is called twice (a count, then a fill).
struct Buckets {
  std::vector<size_t> start, items; // key k's values: items[start[k]] .. items[start[k + 1] - 1]
  template <typename ForEach> Buckets(size_t n, const ForEach& forEach) : start(n + 1, 0) {
    forEach([&](size_t key, size_t) { ++start[key + 1]; });
    std::partial_sum(start.begin(), start.end(), start.begin());
    items.resize(start[n]);
    std::vector<size_t> next(start.begin(), start.end() - 1);
    forEach([&](size_t key, size_t value) { items[next[key]++] = value; });
  }
  std::span<const size_t> of(size_t key) const {
    return {items.data() + start[key], start[key + 1] - start[key]};
  }
};

bool isFullOperand(const Conv2dParams& p, size_t input) {
  for (const PostOp& op : p.postOps)
    if (op.isBinary && op.broadcast == Broadcast::Full && op.operand == static_cast<int32_t>(input))
      return true;
  return false;
}

// Whether primitive p may read its input `input` blocked, or write its output so (input < 0).
bool takesBlocked(const Primitive& p, int input, const LayoutRequest& r) {
  switch (p.kind()) {
  case PrimitiveKind::Pool: return input <= 0;
  case PrimitiveKind::Conv2d: {
    if (p.inputs.size() < 2 || !r.constant[p.inputs[1]]) return false;
    const auto& c = p.as<Conv2dParams>();
    return input <= 0 || isFullOperand(c, static_cast<size_t>(input));
  }
  default: return false;
  }
}

// Whether a raster moves contiguous runs of elements between 4-D fp32 tensors of batch 1 and one
// plane size (a concat or a slice along the channels, say). Stored blocked, block j of such a
// tensor is the same run of bytes as its channels jB .. jB + B - 1 stored plain, so the raster's
// regions (byte movement on the tensors as stored) stay right under a blocked layout when every
// run starts and ends on a block of channels (alignedRuns).
bool movesChannelRuns(const Primitive& p, const std::vector<TensorDesc>& t) {
  const auto& r = p.as<RasterParams>();
  if (r.fill || r.regions.empty()) return false;
  const TensorDesc& out = t[p.outputs[0]];
  const auto fits = [&](const TensorDesc& d) {
    return d.dtype == DType::F32 && d.rank() == 4 && d.shape[0] == 1 &&
           d.shape[2] == out.shape[2] && d.shape[3] == out.shape[3];
  };
  if (!fits(out)) return false;
  for (int32_t id : p.inputs)
    if (!fits(t[id])) return false;
  for (const Region& g : r.regions)
    if (!viewContiguous(g.src, g.size) || !viewContiguous(g.dst, g.size)) return false;
  return true;
}

// movesChannelRuns' rasters under `layout`: every channel count and every run in whole blocks.
bool alignedRuns(const Primitive& p, const std::vector<TensorDesc>& t, Layout layout) {
  const int64_t block = layoutBlock(layout);
  const TensorDesc& out = t[p.outputs[0]];
  const int64_t unit = block * out.shape[2] * out.shape[3];
  if (unit <= 0 || out.shape[1] % block) return false;
  for (int32_t id : p.inputs)
    if (t[id].shape[1] % block) return false;
  for (const Region& g : p.as<RasterParams>().regions)
    if (g.src.offset % unit || g.dst.offset % unit || (g.size[0] * g.size[1] * g.size[2]) % unit)
      return false;
  return true;
}

bool shapeFits(const TensorDesc& d, Layout layout) {
  if (d.dtype != DType::F32 || d.rank() != 4) return false;
  const int64_t c = d.shape[1], block = layoutBlock(layout);
  const int64_t stored = (c + block - 1) / block * block;
  return c > 0 && 2 * stored <= 3 * c;
}

} // namespace

int assignLayouts(const LayoutRequest& r, std::vector<TensorDesc>* tensors) {
  std::vector<TensorDesc>& t = *tensors;
  const size_t n = t.size();
  std::vector<bool> eligible(n, false);
  for (size_t id = 0; id < n; ++id)
    eligible[id] = !r.pinned[id] && !r.constant[id];
  // The primitives writing or reading each tensor.
  const Buckets touching(n, [&](const auto& emit) {
    for (size_t i = 0; i < r.primitives.size(); ++i) {
      emit(static_cast<size_t>(r.primitives[i].outputs[0]), i);
      for (int32_t id : r.primitives[i].inputs)
        emit(static_cast<size_t>(id), i);
    }
  });
  std::vector<bool> channelRuns(r.primitives.size(), false);
  for (size_t i = 0; i < r.primitives.size(); ++i) {
    const Primitive& p = r.primitives[i];
    const bool runs = r.assignment->backend[i] != kNoBackend;
    if (p.kind() == PrimitiveKind::Raster && runs && movesChannelRuns(p, t)) {
      channelRuns[i] = true;
      continue;
    }
    if (!runs || !takesBlocked(p, -1, r)) eligible[p.outputs[0]] = false;
    const bool planes = p.kind() == PrimitiveKind::Reduce && runs &&
                        t[p.inputs[0]].dtype == DType::F32 &&
                        reducesPlanes(p.as<ReduceParams>(), t[p.inputs[0]]);
    for (size_t k = 0; k < p.inputs.size(); ++k)
      if (!planes && (!runs || !takesBlocked(p, static_cast<int>(k), r)))
        eligible[p.inputs[k]] = false;
  }
  // Tensors a kernel addresses alike change together: a conv2d's output and its Full post-op
  // operands, a pooling's input and output.
  Groups groups(n);
  for (const Primitive& p : r.primitives) {
    if (p.kind() == PrimitiveKind::Conv2d)
      for (size_t k = 1; k < p.inputs.size(); ++k)
        if (isFullOperand(p.as<Conv2dParams>(), k)) groups.join(p.inputs[k], p.outputs[0]);
    if (p.kind() == PrimitiveKind::Pool) groups.join(p.inputs[0], p.outputs[0]);
  }
  for (size_t i = 0; i < r.primitives.size(); ++i)
    if (channelRuns[i])
      for (int32_t id : r.primitives[i].inputs)
        groups.join(static_cast<size_t>(id), static_cast<size_t>(r.primitives[i].outputs[0]));
  // The groups by root, ids ascending within one.
  const Buckets members(n, [&](const auto& emit) {
    for (size_t id = 0; id < n; ++id)
      emit(groups.find(id), id);
  });

  // One try per group: blocked when every primitive touching it still runs and their estimated
  // time drops. A group's estimate depends on its neighbours' layouts (a convolution may take a
  // cheaper variant once its output is blocked too), so groups the estimate kept plain get a
  // second try after the first pass has set the rest.
  enum class Outcome { Blocked, Slower, Unfit };
  const auto tryBlocked = [&](std::span<const size_t> group, std::vector<size_t>& prims) {
    prims.clear();
    for (size_t id : group)
      for (size_t i : touching.of(id))
        if (std::find(prims.begin(), prims.end(), i) == prims.end()) prims.push_back(i);
    // Each primitive at its assigned kernel: one that does not take the layouts (cpu_x86's
    // plain GEMM convolution, pinned by an artifact's plan) costs infinity, and keeps them plain.
    const auto seconds = [&] {
      double total = 0;
      for (size_t i : prims)
        total += r.descriptors[r.assignment->backend[i]]->estimateSeconds(
            r.primitives[i], t, r.assignment->kernel[i], r.threads);
      return total;
    };
    double before = -1; // estimated once, and only for a layout every primitive runs with
    Outcome outcome = Outcome::Unfit;
    for (const Layout layout : kBlocked) {
      bool fits = true;
      for (size_t id : group)
        fits = fits && shapeFits(t[id], layout);
      for (size_t i : prims)
        fits = fits && (!channelRuns[i] || alignedRuns(r.primitives[i], t, layout));
      if (!fits) continue;
      for (size_t id : group)
        t[id].layout = layout;
      for (size_t i : prims)
        fits = fits && r.descriptors[r.assignment->backend[i]]->supports(r.primitives[i], t);
      if (fits) {
        const double after = seconds();
        if (before < 0) {
          for (size_t id : group)
            t[id].layout = Layout::Plain;
          before = seconds();
          for (size_t id : group)
            t[id].layout = layout;
        }
        if (after < before) return Outcome::Blocked;
        outcome = Outcome::Slower;
      }
      for (size_t id : group)
        t[id].layout = Layout::Plain;
    }
    return outcome;
  };
  int blocked = 0;
  std::vector<size_t> prims;
  std::vector<size_t> retry; // groups (roots) the estimate kept plain in the first pass
  for (size_t g = 0; g < n; ++g) {
    const std::span<const size_t> group = members.of(g);
    if (group.empty()) continue;
    bool ok = true;
    for (size_t id : group)
      ok = ok && eligible[id];
    if (!ok) continue;
    const Outcome o = tryBlocked(group, prims);
    if (o == Outcome::Blocked) blocked += static_cast<int>(group.size());
    if (o == Outcome::Slower) retry.push_back(g);
  }
  for (size_t g : retry)
    if (tryBlocked(members.of(g), prims) == Outcome::Blocked)
      blocked += static_cast<int>(members.of(g).size());
  return blocked;
}

} // namespace tessel::search
