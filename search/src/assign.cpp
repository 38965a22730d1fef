#include "tessel/search/assign.h"

namespace tessel::search {
namespace {

int indexOf(const std::vector<const BackendDescriptor*>& ds, std::string_view name) {
  for (size_t i = 0; i < ds.size(); ++i)
    if (ds[i]->name() == name) return static_cast<int>(i);
  return kNoBackend;
}

// The planned kernel when the planned backend still runs the primitive, else its first candidate.
KernelChoice kernelFor(const AssignRequest& r, size_t i, int chosen) {
  const BackendDescriptor& d = *r.descriptors[chosen];
  if (i < r.planned.size() && r.planned[i] == d.name() && i < r.plannedKernels.size())
    return r.plannedKernels[i];
  return d.firstChoice(r.primitives[i], *r.tensors);
}

} // namespace

Result<Assignment> assignBackends(const AssignRequest& r) {
  int preferred = kNoBackend;
  if (!r.preferred.empty()) {
    preferred = indexOf(r.descriptors, r.preferred);
    if (preferred == kNoBackend) return invalidArgument("no backend named '" + r.preferred + "'");
  }
  Assignment a;
  for (size_t i = 0; i < r.primitives.size(); ++i) {
    const Primitive& p = r.primitives[i];
    if (p.kind() == PrimitiveKind::View) {
      a.backend.push_back(kNoBackend);
      a.kernel.emplace_back();
      continue;
    }
    auto supports = [&](int b) {
      return b != kNoBackend && r.descriptors[b]->supports(p, *r.tensors);
    };
    int chosen = supports(preferred) ? preferred : kNoBackend;
    if (chosen == kNoBackend && i < r.planned.size() && !r.planned[i].empty()) {
      const int planned = indexOf(r.descriptors, r.planned[i]);
      if (supports(planned)) chosen = planned;
    }
    for (size_t b = 0; chosen == kNoBackend && b < r.descriptors.size(); ++b)
      if (supports(static_cast<int>(b))) chosen = static_cast<int>(b);
    if (chosen == kNoBackend)
      return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                         "': none of the available backends supports it");
    a.backend.push_back(chosen);
    a.kernel.push_back(kernelFor(r, i, chosen));
  }
  return a;
}

} // namespace tessel::search
