// Fused forms weighed against the primitives' own kernels (plan_model.h, pickChains).
#include "tessel/search/plan_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessel::search {

bool chainable(const ModelPlanRequest& r, const Assignment& a, size_t i) {
  if (i + 1 >= r.primitives.size()) return false;
  const int b = a.backend[i];
  if (b == kNoBackend || a.backend[i + 1] != b) return false;
  const Primitive& next = r.primitives[i + 1];
  const int32_t passed = r.primitives[i].outputs[0];
  if (next.inputs.empty() || next.inputs[0] != passed) return false;
  if (r.isConstant(passed)) return false;
  if (std::find(r.outputs.begin(), r.outputs.end(), passed) != r.outputs.end()) return false;
  int readers = 0;
  for (const Primitive& p : r.primitives)
    readers += static_cast<int>(std::count(p.inputs.begin(), p.inputs.end(), passed));
  return readers == 1;
}

std::vector<size_t> outputReaders(std::span<const Primitive> primitives, size_t i) {
  std::vector<size_t> readers;
  std::vector<int32_t> read{primitives[i].outputs[0]}; // the output, then views of it
  for (size_t k = 0; k < read.size(); ++k)
    for (size_t j = i + 1; j < primitives.size(); ++j) {
      const std::vector<int32_t>& in = primitives[j].inputs;
      if (std::find(in.begin(), in.end(), read[k]) == in.end()) continue;
      if (primitives[j].kind() == PrimitiveKind::View)
        read.push_back(primitives[j].outputs[0]);
      else if (std::find(readers.begin(), readers.end(), j) == readers.end())
        readers.push_back(j);
    }
  std::sort(readers.begin(), readers.end());
  return readers;
}

bool constantsFit(const ModelPlanRequest& r, std::span<const Primitive* const> chain,
                  uint32_t constantInputs) {
  size_t k = 0;
  for (size_t j = 0; j < chain.size(); ++j)
    for (size_t in = j > 0 ? 1 : 0; in < chain[j]->inputs.size(); ++in, ++k) {
      if (k >= 32 || (constantInputs >> k & 1u) == 0) continue;
      if (!r.isConstant(chain[j]->inputs[in])) return false;
    }
  return true;
}

namespace {

// Primitive i's time at its assigned kernel by the estimates (calibrated where the request
// calibrates): that candidate's, or for a backend's first choice that names none of them (cpu_x86's
// id 0, the cheapest when prepared) the best of its candidates.
double ownSeconds(const ModelPlanRequest& r, const BackendDescriptor& d, size_t i,
                  const KernelChoice& choice) {
  const Primitive& p = r.primitives[i];
  const std::vector<TensorDesc>& t = *r.tensors;
  const int threads = std::max(r.threads, 1);
  double exact = -1, best = std::numeric_limits<double>::infinity();
  for (const KernelCandidate& k : d.candidates(p, t)) {
    const double raw = d.estimateSeconds(p, t, k.choice, threads);
    const double s = r.calibrate ? r.calibrate(p.kind(), d, k, raw) : raw;
    if (k.choice == choice) exact = s;
    best = std::min(best, s);
  }
  return exact >= 0 ? exact : best;
}

} // namespace

Result<std::vector<ChainOption>> pickChains(const ModelPlanRequest& r, const ModelPlan* plan,
                                            Assignment* a, bool every) {
  const size_t n = r.primitives.size();
  const std::vector<TensorDesc>& t = *r.tensors;
  const int threads = std::max(r.threads, 1);
  a->fused.assign(n, 0);
  // Each primitive's own time, as the plan weighs it.
  std::vector<double> own(n, 0.0), ownEstimate(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const int b = a->backend[i];
    if (b == kNoBackend) continue;
    if (plan) {
      const PlanOption& o = plan->options[i][static_cast<size_t>(plan->chosen[i])];
      own[i] = o.seconds;
      ownEstimate[i] = o.estimate;
      continue;
    }
    own[i] = ownEstimate[i] =
        ownSeconds(r, *r.descriptors[static_cast<size_t>(b)], i, a->kernel[i]);
  }
  // Every chain some backend has a fused kernel for.
  std::vector<ChainOption> all;
  for (size_t first = 0; first + 1 < n; ++first) {
    std::vector<const Primitive*> chain{&r.primitives[first]};
    double ownSum = own[first], ownEstimateSum = ownEstimate[first];
    for (size_t j = first; j + 1 < n && chain.size() < kMaxChain && chainable(r, *a, j); ++j) {
      chain.push_back(&r.primitives[j + 1]);
      ownSum += own[j + 1];
      ownEstimateSum += ownEstimate[j + 1];
      const int b = a->backend[first];
      const BackendDescriptor& d = *r.descriptors[static_cast<size_t>(b)];
      std::optional<KernelCandidate> k = d.chainCandidate(chain, t);
      if (!k || !constantsFit(r, chain, k->constantInputs)) continue;
      const double raw = d.estimateChainSeconds(chain, t, threads);
      if (!std::isfinite(raw)) continue;
      ChainOption o;
      o.first = first, o.count = chain.size(), o.backend = b;
      o.name = std::string(d.name()) + ":" + k->name;
      o.seconds = o.estimate = r.calibrate ? r.calibrate(chain.front()->kind(), d, *k, raw) : raw;
      o.unfusedSeconds = ownSum;
      o.unfusedEstimate = ownEstimateSum;
      if (r.measureChain) {
        auto measured = r.measureChain(first, chain.size(), d, *k, raw);
        if (!measured.isOk()) continue; // the fused kernel cannot run it here
        o.seconds = *measured;
        o.measured = true;
      } else if (r.knownChain) {
        if (std::optional<double> seconds = r.knownChain(first, chain.size(), d, *k)) {
          o.seconds = *seconds;
          o.measured = true;
        }
      }
      if (r.chainEffect)
        if (std::optional<double> effect = r.chainEffect(first, chain.size(), d, *k, *a)) {
          o.seconds = std::max(0.0, ownSum + *effect);
          o.inSession = true;
        }
      all.push_back(std::move(o));
    }
  }
  // The fastest set of disjoint chains: best[i] is the least time of primitives i.. (each alone,
  // or a chain from i), from the end.
  std::vector<double> best(n + 1, 0.0);
  std::vector<int> take(n, -1); // the chain from i that best[i] takes (-1: i alone)
  for (size_t i = n; i-- > 0;) {
    best[i] = best[i + 1] + own[i];
    for (size_t c = 0; c < all.size(); ++c)
      if (all[c].first == i && (every ? take[i] < 0 || all[c].count > all[take[i]].count
                                      : best[i + all[c].count] + all[c].seconds < best[i])) {
        best[i] = best[i + all[c].count] + all[c].seconds;
        take[i] = static_cast<int>(c);
      }
  }
  for (size_t i = 0; i < n;) {
    if (take[i] < 0) {
      ++i;
      continue;
    }
    ChainOption& o = all[static_cast<size_t>(take[i])];
    o.fused = true;
    for (size_t j = i; j + 1 < i + o.count; ++j)
      a->fused[j] = 1;
    i += o.count;
  }
  return all;
}

} // namespace tessel::search
