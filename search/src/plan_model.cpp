#include "tessel/search/plan_model.h"

#include "tessel/search/layouts.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
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
  size_t variant = 0;  // which of the primitive's layout variants it runs with
  bool failed = false; // measuring it failed: the kernel cannot run it here
};

// The tensors with one primitive's operands (inputs, then output) laid out as a layout variant
// says, the rest as given.
class Laid {
public:
  explicit Laid(const std::vector<TensorDesc>& t) : t_(t) {}
  const std::vector<TensorDesc>& with(const Primitive& p, const std::vector<Layout>& v) {
    for (size_t k = 0; k < p.inputs.size(); ++k)
      t_[static_cast<size_t>(p.inputs[k])].layout = v[k];
    t_[static_cast<size_t>(p.outputs[0])].layout = v.back();
    return t_;
  }

private:
  std::vector<TensorDesc> t_;
};

// The operands' layouts as the tensors are: primitive p's one variant where the plan does not
// choose layouts.
std::vector<Layout> layoutsOf(const Primitive& p, const std::vector<TensorDesc>& t) {
  std::vector<Layout> v;
  for (int32_t id : p.inputs)
    v.push_back(t[static_cast<size_t>(id)].layout);
  v.push_back(t[static_cast<size_t>(p.outputs[0])].layout);
  return v;
}

// The candidates of primitive i on `backends` (those that support it with the tensors as laid
// out in `t`, and whose constant inputs are), each at its (calibrated) estimate, added to `all`.
void collect(const ModelPlanRequest& r, size_t i, std::span<const int> backends,
             const std::vector<TensorDesc>& t, size_t variant, std::vector<Weighed>* all) {
  const Primitive& p = r.primitives[i];
  const int threads = std::max(r.threads, 1);
  int64_t inPlace = 0; // the constant inputs' bytes
  for (int32_t id : p.inputs)
    if (r.isConstant(id)) inPlace += t[static_cast<size_t>(id)].byteSize();
  for (int b : backends) {
    const BackendDescriptor& d = *r.descriptors[static_cast<size_t>(b)];
    if (!d.supports(p, t)) continue;
    for (KernelCandidate& k : d.candidates(p, t)) {
      const Primitive* alone = &p;
      if (!constantsFit(r, std::span<const Primitive* const>(&alone, 1), k.constantInputs))
        continue;
      Weighed w;
      w.raw = d.estimateSeconds(p, t, k.choice, threads);
      if (!std::isfinite(w.raw)) continue; // a kernel that does not take these layouts
      double estimate = r.calibrate ? r.calibrate(p.kind(), d, k, w.raw) : w.raw;
      // The weights that stream from memory each run, at the device's measured read rate.
      if (auto rate = r.readRates.find(d.memorySpace()); rate != r.readRates.end())
        estimate = std::max(
            estimate, static_cast<double>(d.streamedBytes(p, t, k.choice, threads)) / rate->second);
      w.option = {b,
                  k.choice,
                  std::string(d.name()) + ":" + k.name,
                  estimate,
                  estimate,
                  false,
                  std::max(d.preparedBytes(p, t, k.choice, threads), inPlace),
                  layoutsOf(p, t)};
      w.candidate = std::move(k);
      w.variant = variant;
      all->push_back(std::move(w));
    }
  }
}

// Measures the candidates where the request measures and their own estimate is within
// measureWithin of the best of them (a scalar reference kernel is not: its estimate already
// rules it out, and measuring it would take the longest); `tensors(v)` lays the tensors out as
// variant v.
void timeCandidates(const ModelPlanRequest& r, size_t i, std::vector<Weighed>& all,
                    const std::function<const std::vector<TensorDesc>&(size_t)>& tensors,
                    double* measuringSeconds) {
  if (!r.measure && r.known) { // times measured before, where there are some
    for (Weighed& w : all)
      if (std::optional<double> seconds =
              r.known(i, tensors(w.variant), *r.descriptors[static_cast<size_t>(w.option.backend)],
                      w.candidate)) {
        w.option.seconds = *seconds;
        w.option.measured = true;
      }
    return;
  }
  if (!r.measure) return;
  double bestRaw = std::numeric_limits<double>::infinity();
  for (const Weighed& w : all)
    bestRaw = std::min(bestRaw, w.raw);
  // The tensors as each variant lays them out, kept apart (`tensors` lays out one at a time).
  std::map<size_t, std::vector<TensorDesc>> laid;
  std::vector<Weighed*> timed;
  for (Weighed& w : all) {
    if (w.raw > r.measureWithin * bestRaw) continue;
    timed.push_back(&w);
    if (!laid.count(w.variant)) laid.emplace(w.variant, tensors(w.variant));
  }
  std::vector<MeasureItem> items;
  for (const Weighed* w : timed)
    items.push_back({&laid.at(w->variant), r.descriptors[static_cast<size_t>(w->option.backend)],
                     w->candidate, w->raw});
  if (items.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Result<double>> measured = r.measure(i, items);
  *measuringSeconds += since(t0);
  for (size_t k = 0; k < timed.size(); ++k) {
    Weighed& w = *timed[k];
    if (k >= measured.size() || !measured[k].isOk()) {
      w.failed = true;
      w.option.seconds = std::numeric_limits<double>::infinity();
      continue;
    }
    w.option.seconds = *measured[k];
    w.option.measured = true;
  }
}

// Whether the session will run primitive i, a raster, as storage shared instead of a copy
// (rasterAlias; its planAliases): a slice; a concat whose sources are written by kernels (not a
// view or a slice, which share storage already), read by it alone and not program outputs, nor is
// the concat's output.
// The plan takes it as free, on any backend: the session skips its step (where the sources
// and the output share a memory space, as a plan that keeps them on one backend has them).
bool rasterElided(const ModelPlanRequest& r, size_t i) {
  const Primitive& p = r.primitives[i];
  if (p.kind() != PrimitiveKind::Raster) return false;
  const std::vector<TensorDesc>& t = *r.tensors;
  const auto aliasOf = [&](const Primitive& q) {
    std::vector<const TensorDesc*> sources;
    for (int32_t id : q.inputs)
      sources.push_back(&t[static_cast<size_t>(id)]);
    return rasterAlias(q.as<RasterParams>(), sources, t[static_cast<size_t>(q.outputs[0])]);
  };
  const RasterAlias kind = aliasOf(p);
  if (kind != RasterAlias::Concat) return kind == RasterAlias::Slice;
  const auto isOutput = [&](int32_t id) {
    return std::find(r.outputs.begin(), r.outputs.end(), id) != r.outputs.end();
  };
  if (isOutput(p.outputs[0])) return false;
  for (int32_t src : p.inputs) {
    if (isOutput(src) || r.isConstant(src) ||
        std::find(r.inputs.begin(), r.inputs.end(), src) != r.inputs.end())
      return false;
    int readers = 0;
    const Primitive* writer = nullptr;
    for (const Primitive& q : r.primitives) {
      readers += static_cast<int>(std::count(q.inputs.begin(), q.inputs.end(), src));
      if (q.outputs[0] == src) writer = &q;
    }
    if (readers != 1 || !writer || writer->kind() == PrimitiveKind::View ||
        (writer->kind() == PrimitiveKind::Raster && aliasOf(*writer) == RasterAlias::Slice))
      return false;
  }
  return true;
}

// Two measured kernels of one backend with the operands laid out alike, timed against each
// other in a session (the request's kernelsInSession), weighed apart by their difference there
// around the mean of their times alone (neither below zero).
void weighInSession(const ModelPlanRequest& r, size_t i, std::vector<Weighed>& all,
                    const std::function<const std::vector<TensorDesc>&(size_t)>& tensors) {
  if (!r.kernelsInSession) return;
  for (size_t a = 0; a < all.size(); ++a)
    for (size_t b = a + 1; b < all.size(); ++b) {
      Weighed& x = all[a];
      Weighed& y = all[b];
      if (!x.option.measured || !y.option.measured || x.option.backend != y.option.backend ||
          x.variant != y.variant)
        continue;
      const std::optional<std::pair<double, double>> session = r.kernelsInSession(
          i, tensors(x.variant), *r.descriptors[static_cast<size_t>(x.option.backend)], x.candidate,
          y.candidate);
      if (!session) continue;
      const double mean = (x.option.seconds + y.option.seconds) / 2;
      const double half = (session->first - session->second) / 2;
      x.option.seconds = std::max(mean + half, 0.0);
      y.option.seconds = std::max(mean - half, 0.0);
      x.option.inSession = y.option.inSession = true;
    }
}

// timeCandidates, the kernels timed against each other in a session (weighInSession), then a
// raster the session skips (rasterElided) at no time.
void measure(const ModelPlanRequest& r, size_t i, std::vector<Weighed>& all,
             const std::function<const std::vector<TensorDesc>&(size_t)>& tensors,
             double* measuringSeconds) {
  timeCandidates(r, i, all, tensors, measuringSeconds);
  weighInSession(r, i, all, tensors);
  if (rasterElided(r, i))
    for (Weighed& w : all)
      w.option.seconds = 0;
}

// The candidates of primitive i on `backends` with the tensors as they are, each at its time
// (measured where the request measures, else the calibrated estimate).
std::vector<Weighed> weigh(const ModelPlanRequest& r, size_t i, std::span<const int> backends,
                           double* measuringSeconds) {
  std::vector<Weighed> all;
  collect(r, i, backends, *r.tensors, 0, &all);
  measure(
      r, i, all, [&](size_t) -> const std::vector<TensorDesc>& { return *r.tensors; },
      measuringSeconds);
  return all;
}

// planModel, or with `fixed` planLayouts: each primitive at its assigned backend and kernel, at
// the backend's estimate, the layouts alone chosen.
Result<ModelPlan> plan(const ModelPlanRequest& r, const Assignment* fixed) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<TensorDesc>& t = *r.tensors;
  ModelPlan plan;
  plan.spaces.push_back(std::string(kHostSpace));
  // A state is a memory space (index into plan.spaces) and a layout; state 0 is the host's plain.
  std::vector<std::pair<size_t, Layout>> states = {{0, Layout::Plain}};
  auto stateOf = [&](size_t space, Layout layout) -> Result<StateId> {
    for (size_t s = 0; s < states.size(); ++s)
      if (states[s] == std::pair{space, layout}) return static_cast<StateId>(s);
    if (states.size() == kMaxStates)
      return unsupported("plan: more than 16 memory spaces and layouts");
    states.emplace_back(space, layout);
    return static_cast<StateId>(states.size() - 1);
  };
  std::vector<size_t> backendSpace(r.descriptors.size());
  int preferred = kNoBackend;
  for (size_t b = 0; b < r.descriptors.size(); ++b) {
    const std::string_view space = r.descriptors[b]->memorySpace();
    const auto it = std::find(plan.spaces.begin(), plan.spaces.end(), space);
    backendSpace[b] = static_cast<size_t>(it - plan.spaces.begin());
    if (it == plan.spaces.end()) plan.spaces.push_back(std::string(space));
    if (!r.preferred.empty() && r.descriptors[b]->name() == r.preferred)
      preferred = static_cast<int>(b);
  }
  if (!r.preferred.empty() && preferred == kNoBackend)
    return invalidArgument("no backend named '" + r.preferred + "'");
  // The layouts the rules allow, where the plan chooses them.
  LayoutRules rules;
  if (r.layouts) {
    std::vector<bool> pinned = r.constant;
    pinned.resize(t.size(), false);
    for (int32_t id : r.inputs)
      pinned[static_cast<size_t>(id)] = true;
    for (int32_t id : r.outputs)
      pinned[static_cast<size_t>(id)] = true;
    rules = layoutRules(r.primitives, t, pinned, r.constant);
  }
  Laid laid(t);

  PlanProblem pr;
  pr.tensorCount = static_cast<int32_t>(t.size());
  pr.initialState.assign(t.size(), -1);
  pr.finalState.assign(t.size(), -1);
  for (size_t id = 0; id < t.size(); ++id) { // what no primitive writes starts on the host
    TESSEL_ASSIGN_OR_RETURN(const StateId s, stateOf(0, t[id].layout));
    pr.initialState[id] = s;
  }
  for (int32_t id : r.outputs) {
    TESSEL_ASSIGN_OR_RETURN(const StateId s, stateOf(0, t[static_cast<size_t>(id)].layout));
    pr.finalState[static_cast<size_t>(id)] = s;
  }
  for (size_t i = 0; i < r.primitives.size(); ++i) {
    const Primitive& p = r.primitives[i];
    PlanNode node;
    node.inputs = p.inputs;
    node.output = p.outputs[0];
    pr.initialState[static_cast<size_t>(node.output)] = -1;
    std::vector<PlanOption> options;
    if (p.kind() == PrimitiveKind::View) { // aliases its input's bytes: wherever that is
      const Layout layout = t[static_cast<size_t>(node.output)].layout;
      for (size_t s = 0; s < plan.spaces.size(); ++s) {
        TESSEL_ASSIGN_OR_RETURN(const StateId state, stateOf(s, layout));
        node.candidates.push_back({{state}, state, 0.0});
        options.push_back(
            {kNoBackend, {}, "view (" + plan.spaces[s] + ")", 0.0, 0.0, false, 0, {}});
      }
    } else {
      std::vector<int> backends;
      if (fixed) {
        backends.push_back(fixed->backend[i]);
      } else {
        const auto takes = [&](size_t b) {
          return r.isUsable(b) && r.descriptors[b]->supports(p, t);
        };
        if (preferred != kNoBackend && takes(static_cast<size_t>(preferred)))
          backends.push_back(preferred);
        // Asked for by name, the preferred backend alone where it supports the primitive; then
        // every backend that does (only the first, as first fit, when one was asked for).
        for (size_t b = 0; backends.empty() && b < r.descriptors.size(); ++b)
          if (takes(b)) backends.push_back(static_cast<int>(b));
        if (backends.empty())
          return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                             "': none of the available backends supports it");
        for (size_t b = 0; preferred == kNoBackend && b < r.descriptors.size(); ++b)
          if (static_cast<int>(b) != backends.front() && takes(b))
            backends.push_back(static_cast<int>(b));
      }
      std::vector<std::vector<Layout>> variants =
          r.layouts ? layoutVariants(rules, r.primitives, i, t)
                    : std::vector<std::vector<Layout>>{layoutsOf(p, t)};
      std::vector<Weighed> all;
      for (size_t v = 0; v < variants.size(); ++v) {
        const std::vector<TensorDesc>& laidOut = laid.with(p, variants[v]);
        if (!fixed) {
          collect(r, i, backends, laidOut, v, &all);
          continue;
        }
        const BackendDescriptor& d = *r.descriptors[static_cast<size_t>(backends[0])];
        if (!d.supports(p, laidOut)) continue;
        Weighed w;
        w.raw = d.estimateSeconds(p, laidOut, fixed->kernel[i], std::max(r.threads, 1));
        if (!std::isfinite(w.raw)) continue; // the kernel does not take these layouts
        w.option = {backends[0], fixed->kernel[i], std::string(d.name()), w.raw, w.raw, false,
                    0,           variants[v]};
        w.variant = v;
        all.push_back(std::move(w));
      }
      measure(
          r, i, all,
          [&](size_t v) -> const std::vector<TensorDesc>& { return laid.with(p, variants[v]); },
          &plan.measuringSeconds);
      laid.with(p, layoutsOf(p, t));
      for (Weighed& w : all) {
        if (w.failed) continue; // this kernel cannot run it here: not a choice
        const size_t space = backendSpace[static_cast<size_t>(w.option.backend)];
        const std::vector<Layout>& v = variants[w.variant];
        PlanCandidate c;
        for (size_t k = 0; k < p.inputs.size(); ++k) {
          TESSEL_ASSIGN_OR_RETURN(const StateId s, stateOf(space, v[k]));
          c.inputs.push_back(s);
        }
        TESSEL_ASSIGN_OR_RETURN(c.output, stateOf(space, v.back()));
        c.seconds = w.option.seconds;
        node.candidates.push_back(std::move(c));
        options.push_back(std::move(w.option));
      }
    }
    if (node.candidates.empty())
      return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                         "': no kernel of the backends that support it could be measured");
    pr.nodes.push_back(std::move(node));
    plan.options.push_back(std::move(options));
  }
  // A copy between memory spaces; a layout is never changed on the way (no kernel converts one).
  const auto copySeconds = [&](int32_t id, StateId from, StateId to) {
    if (states[from].second != states[to].second) return std::numeric_limits<double>::infinity();
    if (r.isConstant(id)) return 0.0; // copied once, when the session is made
    // Each copy through the host at its device's rate: one from or to the host, two between
    // two devices.
    const int64_t bytes = t[static_cast<size_t>(id)].byteSize();
    double seconds = 0;
    for (const size_t space : {states[from].first, states[to].first})
      if (space != 0) seconds += r.transferFor(plan.spaces[space]).seconds(bytes);
    return seconds;
  };
  pr.convert = copySeconds;
  for (size_t s = 1; s < plan.spaces.size(); ++s)
    plan.transfers[plan.spaces[s]] = r.transferFor(plan.spaces[s]);
  plan.readRates = r.readRates;
  TESSEL_ASSIGN_OR_RETURN(PlanResult result, solvePlan(pr));
  plan.chosen = result.choice;
  plan.predictedSeconds = result.seconds;
  plan.exact = result.exact;
  plan.layouts.resize(t.size());
  for (size_t id = 0; id < t.size(); ++id)
    plan.layouts[id] = t[id].layout;
  for (size_t i = 0; i < r.primitives.size(); ++i) {
    const PlanOption& o = plan.options[i][static_cast<size_t>(plan.chosen[i])];
    plan.assignment.backend.push_back(o.backend);
    plan.assignment.kernel.push_back(o.choice);
    const PlanCandidate& c = pr.nodes[i].candidates[static_cast<size_t>(plan.chosen[i])];
    plan.layouts[static_cast<size_t>(r.primitives[i].outputs[0])] = states[c.output].second;
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

} // namespace

Result<ModelPlan> planModel(const ModelPlanRequest& request) {
  return plan(request, nullptr);
}

Result<std::vector<Layout>> planLayouts(const ModelPlanRequest& request,
                                        const Assignment& assignment) {
  ModelPlanRequest r = request;
  r.measure = nullptr;
  r.known = nullptr;
  r.calibrate = nullptr;
  TESSEL_ASSIGN_OR_RETURN(ModelPlan p, plan(r, &assignment));
  return std::move(p.layouts);
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
    // Its options on this backend for the tensors as laid out now give way to these; the
    // options the plan weighed with other layouts stay (what the plan chose among).
    std::vector<PlanOption>& options = plan->options[i];
    const std::vector<Layout> laid = layoutsOf(p, t);
    std::erase_if(options,
                  [&](const PlanOption& o) { return o.backend == b && o.layouts == laid; });
    plan->chosen[i] = static_cast<int>(options.size() + best);
    plan->predictedSeconds += mine[best].option.seconds - before;
    for (Weighed& w : mine)
      options.push_back(std::move(w.option));
  }
  plan->planningSeconds += since(start);
  return Status::ok();
}

std::vector<CloseKernels> closeKernels(const ModelPlan& plan, double within) {
  std::vector<CloseKernels> out;
  const std::vector<uint8_t>& fused = plan.assignment.fused;
  const auto inChain = [&](size_t i) {
    return (i < fused.size() && fused[i]) || (i > 0 && i - 1 < fused.size() && fused[i - 1]);
  };
  for (size_t i = 0; i < plan.options.size() && i < plan.chosen.size(); ++i) {
    if (plan.chosen[i] < 0 || inChain(i)) continue;
    const std::vector<PlanOption>& options = plan.options[i];
    const PlanOption& chosen = options[static_cast<size_t>(plan.chosen[i])];
    if (chosen.backend == kNoBackend || !chosen.measured) continue;
    int rival = -1;
    for (size_t k = 0; k < options.size(); ++k) {
      const PlanOption& o = options[k];
      if (static_cast<int>(k) == plan.chosen[i] || !o.measured || o.backend != chosen.backend ||
          o.layouts != chosen.layouts || o.choice == chosen.choice ||
          !(o.seconds <= chosen.seconds * within))
        continue;
      if (rival < 0 || o.seconds < options[static_cast<size_t>(rival)].seconds)
        rival = static_cast<int>(k);
    }
    if (rival >= 0) out.push_back({i, rival});
  }
  return out;
}

} // namespace tessel::search
