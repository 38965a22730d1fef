#include "tessel/search/layouts.h"

#include <algorithm>
#include <numeric>
#include <span>

namespace tessel::search {
namespace {

// The blocked layouts, in the order variants list them; a backend takes the one that suits its
// vectors.
constexpr Layout kBlocked[] = {Layout::NCHWc8, Layout::NCHWc16};

// Union-find over a primitive's operand positions.
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

bool isFullOperand(const Conv2dParams& p, size_t input) {
  for (const PostOp& op : p.postOps)
    if (op.isBinary && op.broadcast == Broadcast::Full && op.operand == static_cast<int32_t>(input))
      return true;
  return false;
}

// Whether primitive p may read its input `input` blocked, or write its output so (input < 0).
bool takesBlocked(const Primitive& p, int input, const std::vector<bool>& constant) {
  switch (p.kind()) {
  case PrimitiveKind::Pool: return input <= 0;
  case PrimitiveKind::Conv2d: {
    if (p.inputs.size() < 2 || !constant[p.inputs[1]]) return false;
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

// Calls tie(a, b) for each two operand positions of primitive i (its inputs, then its output)
// that must share a layout.
template <typename Tie>
void forEachTie(const LayoutRules& rules, const Primitive& p, size_t i, const Tie& tie) {
  const size_t out = p.inputs.size();
  for (size_t a = 0; a < out; ++a)
    for (size_t b = a + 1; b <= out; ++b)
      if ((b < out ? p.inputs[b] : p.outputs[0]) == p.inputs[a]) tie(a, b);
  if (p.kind() == PrimitiveKind::Conv2d)
    for (size_t k = 1; k < out; ++k)
      if (isFullOperand(p.as<Conv2dParams>(), k)) tie(k, out);
  if (p.kind() == PrimitiveKind::Pool) tie(0, out);
  if (rules.channelRuns[i])
    for (size_t k = 0; k < out; ++k)
      tie(k, out);
}

} // namespace

LayoutRules layoutRules(std::span<const Primitive> primitives, const std::vector<TensorDesc>& t,
                        const std::vector<bool>& pinned, const std::vector<bool>& constant) {
  const size_t n = t.size();
  LayoutRules rules;
  rules.allowed.assign(n, layoutBit(Layout::Plain));
  rules.channelRuns.assign(primitives.size(), 0);
  std::vector<bool> eligible(n, false);
  for (size_t id = 0; id < n; ++id)
    eligible[id] = !pinned[id] && !constant[id];
  for (size_t i = 0; i < primitives.size(); ++i) {
    const Primitive& p = primitives[i];
    if (p.kind() == PrimitiveKind::Raster && movesChannelRuns(p, t)) {
      rules.channelRuns[i] = 1;
      continue;
    }
    if (!takesBlocked(p, -1, constant)) eligible[p.outputs[0]] = false;
    const bool planes = p.kind() == PrimitiveKind::Reduce && t[p.inputs[0]].dtype == DType::F32 &&
                        reducesPlanes(p.as<ReduceParams>(), t[p.inputs[0]]);
    for (size_t k = 0; k < p.inputs.size(); ++k)
      if (!planes && !takesBlocked(p, static_cast<int>(k), constant)) eligible[p.inputs[k]] = false;
  }
  for (size_t id = 0; id < n; ++id)
    if (eligible[id])
      for (const Layout layout : kBlocked)
        if (shapeFits(t[id], layout)) rules.allowed[id] |= layoutBit(layout);
  return rules;
}

std::vector<std::vector<Layout>> layoutVariants(const LayoutRules& rules,
                                                std::span<const Primitive> primitives, size_t i,
                                                const std::vector<TensorDesc>& t) {
  const Primitive& p = primitives[i];
  std::vector<int32_t> operands(p.inputs.begin(), p.inputs.end());
  operands.push_back(p.outputs[0]);
  const size_t n = operands.size();
  Groups ties(n);
  forEachTie(rules, p, i, [&](size_t a, size_t b) { ties.join(b, a); });
  // Each group's layouts: those every member may take (and, for a channel-run raster, that keep
  // its runs whole blocks).
  std::vector<size_t> group(n); // operand position -> index into choices
  std::vector<size_t> roots;
  std::vector<std::vector<Layout>> choices;
  for (size_t a = 0; a < n; ++a) {
    const size_t root = ties.find(a);
    const auto it = std::find(roots.begin(), roots.end(), root);
    group[a] = static_cast<size_t>(it - roots.begin());
    if (it != roots.end()) continue;
    uint8_t mask = 0xff;
    for (size_t b = 0; b < n; ++b)
      if (ties.find(b) == root) mask &= rules.allowed[static_cast<size_t>(operands[b])];
    std::vector<Layout> layouts = {Layout::Plain};
    for (const Layout layout : kBlocked)
      if ((mask & layoutBit(layout)) && (!rules.channelRuns[i] || alignedRuns(p, t, layout)))
        layouts.push_back(layout);
    roots.push_back(root);
    choices.push_back(std::move(layouts));
  }
  // Their product, the last group's layout varying fastest (all plain first).
  std::vector<std::vector<Layout>> variants;
  std::vector<size_t> pick(choices.size(), 0);
  for (;;) {
    std::vector<Layout> v(n);
    for (size_t a = 0; a < n; ++a)
      v[a] = choices[group[a]][pick[group[a]]];
    variants.push_back(std::move(v));
    size_t g = choices.size();
    while (g > 0 && ++pick[g - 1] == choices[g - 1].size())
      pick[--g] = 0;
    if (g == 0) break;
  }
  return variants;
}

std::vector<int32_t> layoutGroups(const LayoutRules& rules, std::span<const Primitive> primitives) {
  const size_t n = rules.allowed.size();
  Groups groups(n);
  for (size_t i = 0; i < primitives.size(); ++i) {
    const Primitive& p = primitives[i];
    const auto operand = [&](size_t k) {
      return static_cast<size_t>(k < p.inputs.size() ? p.inputs[k] : p.outputs[0]);
    };
    forEachTie(rules, p, i, [&](size_t a, size_t b) { groups.join(operand(b), operand(a)); });
  }
  std::vector<int32_t> group(n, -1);
  for (size_t id = 0; id < n; ++id)
    if (rules.allowed[id] != layoutBit(Layout::Plain))
      group[id] = static_cast<int32_t>(groups.find(id));
  return group;
}

Status checkLayouts(const LayoutRules& rules, std::span<const Primitive> primitives,
                    const std::vector<TensorDesc>& t) {
  for (size_t id = 0; id < t.size(); ++id)
    if (!(rules.allowed[id] & layoutBit(t[id].layout)))
      return invalidArgument("tensor " + std::to_string(id) + " may not be stored " +
                             std::string(layoutName(t[id].layout)));
  for (size_t i = 0; i < primitives.size(); ++i) {
    const Primitive& p = primitives[i];
    std::vector<Layout> laid;
    for (int32_t id : p.inputs)
      laid.push_back(t[static_cast<size_t>(id)].layout);
    laid.push_back(t[static_cast<size_t>(p.outputs[0])].layout);
    const auto variants = layoutVariants(rules, primitives, i, t);
    if (std::find(variants.begin(), variants.end(), laid) == variants.end())
      return invalidArgument(std::string(primitiveName(p.kind())) + " '" + p.origin +
                             "': its tensors' layouts are not a combination it may take (tensors "
                             "it addresses alike differ, or a run is not whole blocks)");
  }
  return Status::ok();
}

} // namespace tessel::search
