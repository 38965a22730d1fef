// Storage sharing that costs no copy: concat and slice rasters become aliases, elementwise
// outputs overwrite inputs that die. Decided once per session, before the arenas are planned.
#include "session_plan.h"

#include <algorithm>

namespace tessel {
namespace {

using Plan = Session::Plan;

struct Usage {
  std::vector<int> readers;    // per tensor: steps reading it directly (skipped ones too)
  std::vector<int> aliases;    // per tensor: tensors aliasing it (kept current by the aliasers)
  std::vector<int64_t> writer; // per tensor: the kernel step writing it, -1 if none
  std::vector<bool> pinned;    // program inputs and outputs, constants: storage kept as is
};

Usage usageOf(const Plan& plan, const Program& prog) {
  Usage u;
  const size_t n = plan.tensors.size();
  u.readers.assign(n, 0);
  u.aliases.assign(n, 0);
  u.writer.assign(n, -1);
  u.pinned.assign(n, false);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& s = plan.steps[i];
    for (int32_t id : s.inputs)
      ++u.readers[id];
    if (s.kind == detail::StepKind::Kernel) u.writer[s.output] = static_cast<int64_t>(i);
  }
  for (size_t id = 0; id < n; ++id) {
    if (plan.tensors[id].aliasOf >= 0) ++u.aliases[plan.tensors[id].aliasOf];
    if (plan.tensors[id].constant) u.pinned[id] = true;
  }
  for (int32_t id : prog.inputs)
    u.pinned[id] = true;
  for (int32_t id : prog.outputs)
    u.pinned[id] = true;
  for (int32_t id : plan.outputs)
    u.pinned[id] = true;
  return u;
}

// The raster's sources, as its step reads them.
std::vector<const TensorDesc*> sourcesOf(const Plan& plan, const Plan::Step& step) {
  std::vector<const TensorDesc*> sources;
  for (int32_t id : step.inputs)
    sources.push_back(plan.tensors[id].desc);
  return sources;
}

// A raster that copies one contiguous slice of its source into the whole output (rasterAlias):
// the output reads the source in place.
bool aliasSlice(Plan& plan, Plan::Step& step, const RasterParams& r, Usage& u) {
  const TensorDesc& o = *plan.tensors[step.output].desc;
  if (rasterAlias(r, sourcesOf(plan, step), o) != RasterAlias::Slice) return false;
  const Region& g = r.regions[0];
  const int32_t src = step.inputs[g.source], out = step.output;
  if (plan.tensors[src].space != plan.tensors[out].space) return false;
  plan.tensors[out].aliasOf = src;
  plan.tensors[out].aliasOffset = g.src.offset * static_cast<int64_t>(dtypeSize(o.dtype));
  ++u.aliases[src];
  step.skip = true;
  return true;
}

// A raster that copies whole tensors, each once and contiguously, into disjoint ranges of its
// output (a concat, rasterAlias): each source, when only this raster reads it, is written in
// place.
bool aliasConcat(Plan& plan, Plan::Step& step, const RasterParams& r, Usage& u) {
  const int32_t out = step.output;
  if (rasterAlias(r, sourcesOf(plan, step), *plan.tensors[out].desc) != RasterAlias::Concat)
    return false;
  const auto elem = static_cast<int64_t>(dtypeSize(plan.tensors[out].desc->dtype));
  std::vector<int32_t> sources;
  for (const Region& g : r.regions) {
    const int32_t src = step.inputs[g.source];
    const Plan::Tensor& t = plan.tensors[src];
    if (t.aliasOf >= 0 || u.aliases[src] || u.pinned[src] || u.readers[src] != 1 ||
        u.writer[src] < 0 || t.space != plan.tensors[out].space)
      return false;
    if (std::find(sources.begin(), sources.end(), src) != sources.end()) return false;
    sources.push_back(src);
  }
  for (size_t k = 0; k < r.regions.size(); ++k) {
    plan.tensors[sources[k]].aliasOf = out;
    plan.tensors[sources[k]].aliasOffset = r.regions[k].dst.offset * elem;
  }
  u.aliases[out] += static_cast<int>(sources.size());
  step.skip = true;
  return true;
}

} // namespace

void planAliases(Plan& plan, const PreparedModel& model) {
  const Program& prog = model.program();
  // Aliasing changes no step's reads or writes; only the alias counts move, and the aliasers
  // update those.
  Usage u = usageOf(plan, prog);
  // 1. Rasters that only move whole tensors.
  for (Plan::Step& step : plan.steps) {
    if (step.kind != detail::StepKind::Kernel) continue;
    const Primitive& p = prog.primitives[step.primitive];
    if (p.kind() != PrimitiveKind::Raster || plan.tensors[step.output].aliasOf >= 0) continue;
    const auto& r = p.as<RasterParams>();
    if (aliasSlice(plan, step, r, u) || u.pinned[step.output]) continue;
    aliasConcat(plan, step, r, u);
  }
  // 2. Outputs written over an input that dies at their step.
  const auto end = static_cast<int64_t>(plan.steps.size());
  std::vector<int64_t> lastRead(plan.tensors.size(), -1);
  std::vector<bool> pinned(plan.tensors.size(), false);
  for (size_t id = 0; id < plan.tensors.size(); ++id)
    if (u.pinned[id]) pinned[plan.rootOf(static_cast<int32_t>(id))] = true;
  for (const Plan::Step& s : plan.preload)
    pinned[plan.rootOf(s.output)] = true;
  for (int64_t i = 0; i < end; ++i) {
    if (plan.steps[i].skip) continue;
    for (int32_t id : plan.steps[i].inputs)
      lastRead[plan.rootOf(id)] = std::max(lastRead[plan.rootOf(id)], i);
  }
  for (int32_t id : plan.outputs)
    lastRead[plan.rootOf(id)] = end;
  for (int64_t i = 0; i < end; ++i) {
    Plan::Step& s = plan.steps[i];
    if (s.skip || s.kind != detail::StepKind::Kernel) continue;
    const int which = model.kernel(s.primitive)->inPlaceInput();
    if (which < 0 || static_cast<size_t>(which) >= s.inputs.size()) continue;
    const int32_t in = s.inputs[which], out = s.output;
    const int32_t root = plan.rootOf(in);
    if (pinned[root] || plan.tensors[out].aliasOf >= 0 || lastRead[root] != i ||
        plan.tensors[in].space != plan.tensors[out].space ||
        plan.tensors[in].desc->byteSize() != plan.tensors[out].desc->byteSize())
      continue;
    plan.tensors[out].aliasOf = in;
    plan.tensors[out].aliasOffset = 0;
    lastRead[root] = std::max(lastRead[root], lastRead[out]);
    pinned[root] = pinned[root] || pinned[out];
    ++plan.inPlace;
  }
}

} // namespace tessel
