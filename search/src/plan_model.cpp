#include "tessel/search/plan_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <span>

namespace tessel::search {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One candidate as weighed: its option (seconds: measured, else the calibrated estimate) and the
// backend's own estimate.
struct Weighed {
  KernelCandidate candidate;
  PlanOption option;
  double raw = 0;
  bool failed = false; // measuring it failed: the kernel cannot run it here
};

// The candidates of primitive i on `backends` (those whose constant inputs are), each at its
// time: measured where the request measures and its own estimate is within measureWithin of the
// best of them (a scalar reference kernel is not: its estimate already rules it out, and
// measuring it would take the longest), else the calibrated estimate.
std::vector<Weighed> weigh(const ModelPlanRequest& r, size_t i, std::span<const int> backends,
                           double* measuringSeconds) {
  const Primitive& p = r.primitives[i];
  const std::vector<TensorDesc>& t = *r.tensors;
  const int threads = std::max(r.threads, 1);
  std::vector<Weighed> all;
  double bestRaw = std::numeric_limits<double>::infinity();
  int64_t inPlace = 0; // the constant inputs' bytes
  for (int32_t id : p.inputs)
    if (static_cast<size_t>(id) < r.constant.size() && r.constant[static_cast<size_t>(id)])
      inPlace += t[static_cast<size_t>(id)].byteSize();
  for (int b : backends) {
    const BackendDescriptor& d = *r.descriptors[static_cast<size_t>(b)];
    for (KernelCandidate& k : d.candidates(p, t)) {
      const Primitive* alone = &p;
      if (!constantsFit(r, std::span<const Primitive* const>(&alone, 1), k.constantInputs))
        continue;
      Weighed w;
      w.raw = d.estimateSeconds(p, t, k.choice, threads);
      const double estimate = r.calibrate ? r.calibrate(d, k, w.raw) : w.raw;
      w.option = {b,
                  k.choice,
                  std::string(d.name()) + ":" + k.name,
                  estimate,
                  estimate,
                  false,
                  std::max(d.preparedBytes(p, t, k.choice, threads), inPlace)};
      w.candidate = std::move(k);
      bestRaw = std::min(bestRaw, w.raw);
      all.push_back(std::move(w));
    }
  }
  for (Weighed& w : all) {
    if (!r.measure || w.raw > r.measureWithin * bestRaw) continue;
    const auto t0 = std::chrono::steady_clock::now();
    auto measured =
        r.measure(i, *r.descriptors[static_cast<size_t>(w.option.backend)], w.candidate, w.raw);
    *measuringSeconds += since(t0);
    if (!measured.isOk()) {
      w.failed = true;
      w.option.seconds = std::numeric_limits<double>::infinity();
      continue;
    }
    w.option.seconds = *measured;
    w.option.measured = true;
  }
  return all;
}

} // namespace

Result<ModelPlan> planModel(const ModelPlanRequest& r) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<TensorDesc>& t = *r.tensors;
  ModelPlan plan;
  plan.spaces.push_back(std::string(kHostSpace));
  auto stateOf = [&](std::string_view space) -> Result<StateId> {
    for (size_t s = 0; s < plan.spaces.size(); ++s)
      if (plan.spaces[s] == space) return static_cast<StateId>(s);
    if (plan.spaces.size() == kMaxStates) return unsupported("plan: more than 16 memory spaces");
    plan.spaces.push_back(std::string(space));
    return static_cast<StateId>(plan.spaces.size() - 1);
  };
  std::vector<StateId> backendState(r.descriptors.size());
  int preferred = kNoBackend;
  for (size_t b = 0; b < r.descriptors.size(); ++b) {
    TESSEL_ASSIGN_OR_RETURN(backendState[b], stateOf(r.descriptors[b]->memorySpace()));
    if (!r.preferred.empty() && r.descriptors[b]->name() == r.preferred)
      preferred = static_cast<int>(b);
  }
  if (!r.preferred.empty() && preferred == kNoBackend)
    return invalidArgument("no backend named '" + r.preferred + "'");

  PlanProblem pr;
  pr.tensorCount = static_cast<int32_t>(t.size());
  pr.initialState.assign(t.size(), 0); // what no primitive writes starts on the host
  pr.finalState.assign(t.size(), -1);
  for (int32_t id : r.outputs)
    pr.finalState[static_cast<size_t>(id)] = 0;
  for (size_t i = 0; i < r.primitives.size(); ++i) {
    const Primitive& p = r.primitives[i];
    PlanNode node;
    node.inputs = p.inputs;
    node.output = p.outputs[0];
    pr.initialState[static_cast<size_t>(node.output)] = -1;
    std::vector<PlanOption> options;
    if (p.kind() == PrimitiveKind::View) { // aliases its input: wherever that is
      for (size_t s = 0; s < plan.spaces.size(); ++s) {
        const auto state = static_cast<StateId>(s);
        node.candidates.push_back({{state}, state, 0.0});
        options.push_back({kNoBackend, {}, "view (" + plan.spaces[s] + ")", 0.0, 0.0, false});
      }
    } else {
      std::vector<int> backends;
      if (preferred != kNoBackend && r.descriptors[preferred]->supports(p, t))
        backends.push_back(preferred);
      // Asked for by name, the preferred backend alone where it supports the primitive; then
      // every backend that does (only the first, as first fit, when one was asked for).
      for (size_t b = 0; backends.empty() && b < r.descriptors.size(); ++b)
        if (r.descriptors[b]->supports(p, t)) backends.push_back(static_cast<int>(b));
      if (backends.empty())
        return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                           "': none of the available backends supports it");
      for (size_t b = 0; preferred == kNoBackend && b < r.descriptors.size(); ++b)
        if (static_cast<int>(b) != backends.front() && r.descriptors[b]->supports(p, t))
          backends.push_back(static_cast<int>(b));
      for (Weighed& w : weigh(r, i, backends, &plan.measuringSeconds)) {
        if (w.failed) continue; // this kernel cannot run it here: not a choice
        const StateId s = backendState[static_cast<size_t>(w.option.backend)];
        node.candidates.push_back({std::vector<StateId>(p.inputs.size(), s), s, w.option.seconds});
        options.push_back(std::move(w.option));
      }
    }
    if (node.candidates.empty())
      return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                         "': no kernel of the backends that support it could be measured");
    pr.nodes.push_back(std::move(node));
    plan.options.push_back(std::move(options));
  }
  const auto copySeconds = [&](int32_t id, StateId from, StateId to) {
    if (static_cast<size_t>(id) < r.constant.size() && r.constant[static_cast<size_t>(id)])
      return 0.0; // copied once, when the session is made
    const double one = r.transfer.seconds(t[static_cast<size_t>(id)].byteSize());
    return from == 0 || to == 0 ? one : 2 * one;
  };
  pr.convert = copySeconds;
  TESSEL_ASSIGN_OR_RETURN(PlanResult result, solvePlan(pr));
  plan.chosen = result.choice;
  plan.predictedSeconds = result.seconds;
  plan.exact = result.exact;
  for (size_t i = 0; i < r.primitives.size(); ++i) {
    const PlanOption& o = plan.options[i][static_cast<size_t>(plan.chosen[i])];
    plan.assignment.backend.push_back(o.backend);
    plan.assignment.kernel.push_back(o.choice);
  }
  // The copies the plan implies (planCost's rules), counted apart.
  PlanProblem copiesOnly = pr;
  for (PlanNode& node : copiesOnly.nodes)
    for (PlanCandidate& c : node.candidates)
      c.seconds = 0;
  copiesOnly.convert = [&](int32_t id, StateId from, StateId to) {
    const double s = copySeconds(id, from, to);
    if (s > 0) ++plan.copies;
    return s;
  };
  plan.predictedCopySeconds = planCost(copiesOnly, plan.chosen);
  plan.planningSeconds = since(start);
  return plan;
}

Status pickKernels(const ModelPlanRequest& r, ModelPlan* plan) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<TensorDesc>& t = *r.tensors;
  for (size_t i = 0; i < r.primitives.size(); ++i) {
    const int b = plan->assignment.backend[i];
    if (b == kNoBackend) continue;
    const Primitive& p = r.primitives[i];
    const BackendDescriptor& d = *r.descriptors[static_cast<size_t>(b)];
    std::vector<Weighed> mine = weigh(r, i, std::span<const int>(&b, 1), &plan->measuringSeconds);
    if (mine.empty())
      return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                         "': " + std::string(d.name()) + " has no kernel for its tensors' layouts");
    size_t firstBest = 0; // the best (calibrated) estimate's
    size_t rawBest = 0;   // the backend's own best estimate's
    for (size_t k = 1; k < mine.size(); ++k) {
      if (mine[k].option.estimate < mine[firstBest].option.estimate) firstBest = k;
      if (mine[k].raw < mine[rawBest].raw) rawBest = k;
    }
    size_t best = firstBest;
    for (size_t k = 0; k < mine.size(); ++k)
      if (mine[k].option.seconds < mine[best].option.seconds) best = k;
    if (!std::isfinite(mine[best].option.seconds))
      return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                         "': no kernel of " + std::string(d.name()) + " could be measured");
    const double before = plan->options[i][static_cast<size_t>(plan->chosen[i])].seconds;
    // The backend's own first choice where its own best estimate wins: it may pick among the same
    // kernels when prepared, knowing more (and keep what pinning one would rule out, such as
    // a chain of kernels fused when prepared).
    plan->assignment.kernel[i] = best == rawBest ? d.firstChoice(p, t) : mine[best].option.choice;
    std::vector<PlanOption>& options = plan->options[i];
    std::erase_if(options, [&](const PlanOption& o) { return o.backend == b; });
    plan->chosen[i] = static_cast<int>(options.size() + best);
    plan->predictedSeconds += mine[best].option.seconds - before;
    for (Weighed& w : mine)
      options.push_back(std::move(w.option));
  }
  plan->planningSeconds += since(start);
  return Status::ok();
}

Status fitWeightBudget(const ModelPlanRequest& r, ModelPlan* plan) {
  const auto chosen = [&](size_t i) -> PlanOption& {
    return plan->options[i][static_cast<size_t>(plan->chosen[i])];
  };
  int64_t total = 0, least = 0;
  for (size_t i = 0; i < plan->options.size(); ++i) {
    total += chosen(i).bytes;
    int64_t lean = chosen(i).bytes;
    for (const PlanOption& o : plan->options[i])
      if (o.backend == chosen(i).backend && std::isfinite(o.seconds))
        lean = std::min(lean, o.bytes);
    least += lean;
  }
  const int64_t fastest = total;
  while (r.weightBudget > 0 && total > r.weightBudget) {
    size_t bestI = 0, bestK = 0;
    double bestCost = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < plan->options.size(); ++i) {
      const PlanOption& now = chosen(i);
      for (size_t k = 0; k < plan->options[i].size(); ++k) {
        const PlanOption& o = plan->options[i][k];
        if (o.backend != now.backend || o.bytes >= now.bytes || !std::isfinite(o.seconds)) continue;
        const double cost = (o.seconds - now.seconds) / static_cast<double>(now.bytes - o.bytes);
        if (cost < bestCost) bestCost = cost, bestI = i, bestK = k;
      }
    }
    if (!std::isfinite(bestCost))
      return resourceExhausted("the plan's kernels keep " + std::to_string(fastest) +
                               " bytes of weights, over the weight budget of " +
                               std::to_string(r.weightBudget) + " bytes; the leanest keep " +
                               std::to_string(least));
    const PlanOption& from = chosen(bestI);
    const PlanOption& to = plan->options[bestI][bestK];
    total -= from.bytes - to.bytes;
    plan->predictedSeconds += to.seconds - from.seconds;
    plan->chosen[bestI] = static_cast<int>(bestK);
    plan->assignment.kernel[bestI] = to.choice;
  }
  plan->weightBytes = total;
  return Status::ok();
}

} // namespace tessel::search
