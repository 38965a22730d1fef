#include "tessel/search/memory.h"

#include "tessel/core/checked_math.h"
#include "tessel/runtime/memory_plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace tessel::search {

namespace {

const PlanOption& chosenOption(const ModelPlan& plan, size_t i) {
  return plan.options[i][static_cast<size_t>(plan.chosen[i])];
}

// The scratch of primitive i's option `o`, asked of its backend where not known yet, with the
// tensors as the request has them now (laid out as the plan chose: the chosen options' layouts,
// and those of the options that may replace them).
int64_t workspaceOf(const ModelPlanRequest& r, size_t i, const PlanOption& o) {
  if (o.workspace >= 0) return o.workspace;
  if (o.backend == kNoBackend) return 0;
  const Primitive& p = r.primitives[i];
  uint32_t constants = 0; // bit k: input k is constant
  for (size_t k = 0; k < p.inputs.size() && k < 32; ++k)
    if (r.isConstant(p.inputs[k])) constants |= uint32_t{1} << k;
  return r.descriptors[static_cast<size_t>(o.backend)]->workspaceBytes(
      p, *r.tensors, o.choice, constants, std::max(r.threads, 1));
}

} // namespace

int64_t planArenaBytes(const ModelPlanRequest& r, const ModelPlan& plan) {
  const std::vector<TensorDesc>& t = *r.tensors;
  const size_t n = r.primitives.size();
  const auto end = static_cast<int64_t>(n);
  const Assignment& a = plan.assignment;
  const auto fused = [&](size_t i) { return i < a.fused.size() && a.fused[i] != 0; };
  // Memory spaces by name, the host's first.
  std::vector<std::string_view> spaces = {kHostSpace};
  const auto spaceOf = [&](int backend) -> size_t {
    const std::string_view name = r.descriptors[static_cast<size_t>(backend)]->memorySpace();
    const auto it = std::find(spaces.begin(), spaces.end(), name);
    if (it != spaces.end()) return static_cast<size_t>(it - spaces.begin());
    spaces.push_back(name);
    return spaces.size() - 1;
  };
  // Storage roots (a view's output is its input's bytes) and where each is written.
  std::vector<int32_t> root(t.size());
  std::iota(root.begin(), root.end(), 0);
  std::vector<size_t> home(t.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    const Primitive& p = r.primitives[i];
    const auto out = static_cast<size_t>(p.outputs[0]);
    if (a.backend[i] == kNoBackend)
      root[out] = root[static_cast<size_t>(p.inputs[0])];
    else
      home[out] = spaceOf(a.backend[i]);
  }
  // Per (root, space): the steps it is stored through.
  std::map<std::pair<int32_t, size_t>, std::pair<int64_t, int64_t>> uses;
  const auto touch = [&](int32_t id, size_t space, int64_t step) {
    auto [it, fresh] = uses.try_emplace({id, space}, step, step);
    if (fresh) return;
    it->second.first = std::min(it->second.first, step);
    it->second.second = std::max(it->second.second, step);
  };
  for (int32_t id : r.inputs) {
    touch(root[static_cast<size_t>(id)], 0, -1);
    touch(root[static_cast<size_t>(id)], 0, end);
  }
  struct Workspace {
    size_t space;
    int64_t bytes, step;
  };
  std::vector<Workspace> workspaces;
  for (size_t i = 0; i < n; ++i) {
    if (a.backend[i] == kNoBackend || (i > 0 && fused(i - 1))) continue; // a view, a chain's inner
    size_t last = i;
    while (fused(last) && last + 1 < n)
      ++last;
    const size_t space = spaceOf(a.backend[i]);
    const auto step = static_cast<int64_t>(i);
    int64_t workspace = workspaceOf(r, i, chosenOption(plan, i));
    if (last > i) { // the fused kernel's
      std::vector<const Primitive*> chain;
      for (size_t m = i; m <= last; ++m)
        chain.push_back(&r.primitives[m]);
      workspace = r.descriptors[static_cast<size_t>(a.backend[i])]->chainWorkspaceBytes(
          chain, t, std::max(r.threads, 1));
    }
    for (size_t m = i; m <= last; ++m) {
      const std::vector<int32_t>& inputs = r.primitives[m].inputs;
      for (size_t k = m > i ? 1 : 0; k < inputs.size(); ++k) {
        const int32_t id = root[static_cast<size_t>(inputs[k])];
        if (r.isConstant(id)) { // on the host in place; a device holds its copy for the session
          if (space != 0) touch(id, space, -1), touch(id, space, end);
          continue;
        }
        touch(id, space, step);
        if (home[static_cast<size_t>(id)] != space) touch(id, home[static_cast<size_t>(id)], step);
      }
    }
    touch(root[static_cast<size_t>(r.primitives[last].outputs[0])], space, step);
    if (workspace > 0) workspaces.push_back({space, workspace, step});
  }
  for (int32_t id : r.outputs) { // kept to the end, and on the host
    const int32_t rt = root[static_cast<size_t>(id)];
    touch(rt, home[static_cast<size_t>(rt)], end);
    if (home[static_cast<size_t>(rt)] != 0) touch(rt, 0, end);
  }
  // Per space as a session orders them: the tensors written there, the copies, the workspaces.
  std::vector<std::vector<Lifetime>> lifetimes(spaces.size());
  for (const bool copies : {false, true})
    for (const auto& [key, steps] : uses) {
      const auto [id, space] = key;
      if ((home[static_cast<size_t>(id)] != space) != copies) continue;
      if (r.isConstant(id) && space == 0) continue;
      TensorDesc d = t[static_cast<size_t>(id)];
      if (static_cast<size_t>(id) < plan.layouts.size())
        d.layout = plan.layouts[static_cast<size_t>(id)];
      lifetimes[space].push_back({d.byteSize(), steps.first, steps.second});
    }
  for (const Workspace& w : workspaces)
    lifetimes[w.space].push_back({w.bytes, w.step, w.step});
  int64_t total = 0;
  for (const std::vector<Lifetime>& space : lifetimes)
    total = saturatingAdd(total, packLifetimes(space).arenaBytes);
  return total;
}

Status fitMemoryBudget(const ModelPlanRequest& r, ModelPlan* plan) {
  const size_t n = plan->options.size();
  // The options a primitive may change to: its backend's, for the same layouts, that ran.
  const auto same = [&](const PlanOption& o, const PlanOption& now) {
    return o.backend == now.backend && o.layouts == now.layouts && std::isfinite(o.seconds);
  };
  int64_t weights = 0, leanWeights = 0;
  for (size_t i = 0; i < n; ++i) {
    const PlanOption& now = chosenOption(*plan, i);
    weights += now.bytes;
    int64_t lean = now.bytes;
    for (const PlanOption& o : plan->options[i])
      if (same(o, now)) lean = std::min(lean, o.bytes);
    leanWeights += lean;
  }
  // Under a memory budget, every kernel that may take part is sized once.
  if (r.memoryBudget > 0)
    for (size_t i = 0; i < n; ++i) {
      const PlanOption now = chosenOption(*plan, i);
      for (PlanOption& o : plan->options[i])
        if (same(o, now)) o.workspace = workspaceOf(r, i, o);
    }
  int64_t arena = r.memoryBudget > 0 ? planArenaBytes(r, *plan) : 0;
  const int64_t fastestWeights = weights, fastestTotal = saturatingAdd(weights, arena);
  // A move: primitives taking other options. Its saving in the bytes over budget, and the time
  // it adds; `arenaAfter` the arenas with it.
  using Move = std::vector<std::pair<size_t, int>>;
  const auto weigh = [&](const Move& move, bool weightsOnly, int64_t* weightsSaved, int64_t* saved,
                         double* added, int64_t* arenaAfter) {
    int64_t bytes = 0;
    *added = 0;
    std::vector<int> was;
    for (const auto& [i, k] : move) {
      const PlanOption& now = chosenOption(*plan, i);
      const PlanOption& o = plan->options[i][static_cast<size_t>(k)];
      bytes += now.bytes - o.bytes;
      *added += o.seconds - now.seconds;
      was.push_back(plan->chosen[i]);
      plan->chosen[i] = k;
    }
    *arenaAfter = weightsOnly ? arena : planArenaBytes(r, *plan);
    for (size_t m = 0; m < move.size(); ++m)
      plan->chosen[move[m].first] = was[m];
    *weightsSaved = bytes;
    *saved = bytes + (weightsOnly ? 0 : arena - *arenaAfter);
  };
  // A fused chain's primitives run as its kernel: theirs are not the fit's to change.
  const auto inChain = [&](size_t i) {
    const std::vector<uint8_t>& f = plan->assignment.fused;
    return (i < f.size() && f[i]) || (i > 0 && i - 1 < f.size() && f[i - 1]);
  };
  for (;;) {
    const bool weightsOver = r.weightBudget > 0 && weights > r.weightBudget;
    const bool totalOver = r.memoryBudget > 0 && saturatingAdd(weights, arena) > r.memoryBudget;
    if (!weightsOver && !totalOver) break;
    // Single primitives' changes; over the total, also every primitive whose workspace is over
    // a bound taking its fastest option within it at once (an arena's peak falls only when
    // every step at it needs less).
    std::vector<Move> moves;
    std::vector<int64_t> bounds;
    int64_t most = 0; // the largest workspace chosen
    for (size_t i = 0; i < n; ++i) {
      if (inChain(i)) continue;
      const PlanOption& now = chosenOption(*plan, i);
      most = std::max(most, now.workspace);
      for (size_t k = 0; k < plan->options[i].size(); ++k) {
        const PlanOption& o = plan->options[i][k];
        if (static_cast<int>(k) == plan->chosen[i] || !same(o, now)) continue;
        bounds.push_back(o.workspace);
        if (o.bytes < now.bytes || (!weightsOver && o.workspace < now.workspace))
          moves.push_back({{i, static_cast<int>(k)}});
      }
    }
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    for (size_t b = 0; !weightsOver && b < bounds.size() && bounds[b] < most; ++b) {
      Move move;
      for (size_t i = 0; i < n; ++i) {
        const PlanOption& now = chosenOption(*plan, i);
        if (inChain(i) || now.workspace <= bounds[b]) continue;
        int best = -1;
        for (size_t k = 0; k < plan->options[i].size(); ++k) {
          const PlanOption& o = plan->options[i][k];
          if (!same(o, now) || o.workspace > bounds[b]) continue;
          if (best < 0 || o.seconds < plan->options[i][static_cast<size_t>(best)].seconds)
            best = static_cast<int>(k);
        }
        if (best >= 0) move.push_back({i, best});
      }
      if (move.size() > 1) moves.push_back(std::move(move));
    }
    const Move* best = nullptr;
    int64_t bestArena = arena;
    double bestCost = std::numeric_limits<double>::infinity();
    for (const Move& move : moves) {
      int64_t weightsSaved = 0, saved = 0, after = arena;
      double added = 0;
      weigh(move, weightsOver, &weightsSaved, &saved, &added, &after);
      // Never back over the weight budget for the total's sake.
      if (saved <= 0 ||
          (!weightsOver && r.weightBudget > 0 && weights - weightsSaved > r.weightBudget))
        continue;
      const double cost = added / static_cast<double>(saved);
      if (cost < bestCost) bestCost = cost, best = &move, bestArena = after;
    }
    if (!best) {
      plan->weightBytes = weights, plan->arenaBytes = arena; // the leanest found
      if (weightsOver)
        return resourceExhausted("the plan's kernels keep " + std::to_string(fastestWeights) +
                                 " bytes of weights, over the weight budget of " +
                                 std::to_string(r.weightBudget) + " bytes; the leanest keep " +
                                 std::to_string(leanWeights));
      return resourceExhausted("the plan needs " + std::to_string(fastestTotal) +
                               " bytes (weights and arena), over the memory budget of " +
                               std::to_string(r.memoryBudget) +
                               " bytes; the leanest kernels found need " + std::to_string(weights) +
                               " and " + std::to_string(arena));
    }
    ++plan->budgetMoves;
    for (const auto& [i, k] : *best) {
      const PlanOption& from = chosenOption(*plan, i);
      const PlanOption& to = plan->options[i][static_cast<size_t>(k)];
      weights += to.bytes - from.bytes;
      plan->predictedSeconds += to.seconds - from.seconds;
      plan->chosen[i] = k;
      plan->assignment.kernel[i] = to.choice;
    }
    arena = weightsOver && r.memoryBudget > 0 ? planArenaBytes(r, *plan) : bestArena;
  }
  // Under a budget every kernel is named: a backend's first choice (cpu_x86's id 0) is resolved
  // when prepared, at the session's thread count, and could take a kernel that needs more.
  if (r.weightBudget > 0 || r.memoryBudget > 0)
    for (size_t i = 0; i < n; ++i)
      if (plan->assignment.backend[i] != kNoBackend)
        plan->assignment.kernel[i] = chosenOption(*plan, i).choice;
  plan->weightBytes = weights;
  plan->arenaBytes = r.memoryBudget > 0 ? arena : planArenaBytes(r, *plan);
  return Status::ok();
}

Result<ModelPlan> planWithinBudgets(const ModelPlanRequest& request,
                                    const std::function<void(const std::vector<Layout>&)>& layOut,
                                    const std::function<Status(ModelPlan*)>& chains) {
  const auto planned = [&](const ModelPlanRequest& r, ModelPlan* plan) -> Status {
    TESSEL_RETURN_IF_ERROR(pickKernels(r, plan)); // adds its own time
    if (chains) TESSEL_RETURN_IF_ERROR(chains(plan));
    const auto start = std::chrono::steady_clock::now(); // the fit's time (no measuring in it)
    Status s = fitMemoryBudget(r, plan);
    plan->planningSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
  };
  TESSEL_ASSIGN_OR_RETURN(ModelPlan plan, planModel(request));
  layOut(plan.layouts);
  Status fit = planned(request, &plan);
  if (!fit.isOk() && fit.code() != StatusCode::kResourceExhausted) return fit;
  const bool blocked = std::any_of(plan.layouts.begin(), plan.layouts.end(),
                                   [](Layout l) { return l != Layout::Plain; });
  // Blocked tensors pad their channels to the block: where the budgets bound the plan, plain
  // ones may fit where they did not, or with faster kernels.
  if (!request.layouts || !blocked || (fit.isOk() && plan.budgetMoves == 0)) {
    if (fit.isOk()) return plan;
    return fit;
  }
  ModelPlanRequest plain = request;
  plain.layouts = false;
  layOut(std::vector<Layout>(plan.layouts.size(), Layout::Plain));
  TESSEL_ASSIGN_OR_RETURN(ModelPlan flat, planModel(plain));
  const Status flatFit = planned(plain, &flat);
  if (!flatFit.isOk() && flatFit.code() != StatusCode::kResourceExhausted) return flatFit;
  if (!fit.isOk() && !flatFit.isOk())
    return resourceExhausted(flatFit.message() + " with every tensor plain; " +
                             std::to_string(plan.weightBytes) + " and " +
                             std::to_string(plan.arenaBytes) + " with blocked layouts");
  const double spent = plan.planningSeconds + flat.planningSeconds;
  const double measuring = plan.measuringSeconds + flat.measuringSeconds;
  ModelPlan& kept = !fit.isOk() || (flatFit.isOk() && flat.predictedSeconds < plan.predictedSeconds)
                        ? flat
                        : plan;
  if (&kept == &plan) layOut(plan.layouts);
  kept.planningSeconds = spent;
  kept.measuringSeconds = measuring;
  return std::move(kept);
}

} // namespace tessel::search
