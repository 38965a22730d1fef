#include "plan_sessions.h"

#include "tessel/runtime/session.h"
#include "tessel/search/plan_model.h"
#include "timing_input.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessel::detail {
namespace {

// Inputs a timing run reads, as a kernel timed alone reads them (timingInput).
Status fillInputs(Session& session) {
  const Program& prog = session.program();
  for (size_t i = 0; i < prog.inputs.size(); ++i) {
    const std::vector<uint8_t> bytes =
        timingInput(prog.tensors[static_cast<size_t>(prog.inputs[i])].desc);
    TESSEL_RETURN_IF_ERROR(session.setInput(i, bytes.data(), bytes.size()));
  }
  return Status::ok();
}

// Each step's least time over the profiled runs, by its first primitive (inf: never ran).
Status profile(Session& session, std::vector<double>* least) {
  std::vector<Session::StepTime> times;
  TESSEL_RETURN_IF_ERROR(session.runProfiled(&times));
  for (const Session::StepTime& t : times)
    if (t.primitive >= 0) {
      double& m = (*least)[static_cast<size_t>(t.primitive)];
      m = std::min(m, t.seconds);
    }
  return Status::ok();
}

// `model`'s plan as an artifact's (first fit keeps it: its backends, kernels and layouts) and
// options that keep its fused chains, less those through a primitive `changed` marks.
struct PlanCopy {
  std::shared_ptr<Program> program;
  PrepareOptions options;
};

PlanCopy copyPlan(const PreparedModel& model, const std::vector<bool>& changed,
                  const PrepareOptions& options) {
  const Program& planned = model.program();
  const size_t n = planned.primitives.size();
  PlanCopy c;
  c.program = std::make_shared<Program>(planned);
  c.program->target = TargetInfo{}; // planned here: nothing to plan again for
  c.program->backends.assign(n, std::string());
  c.program->kernels.assign(n, KernelChoice{});
  c.options.threads = options.threads;
  c.options.precision = options.precision;
  c.options.fused.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (const Backend* b = model.backend(i)) c.program->backends[i] = std::string(b->name());
    c.program->kernels[i] = model.choice(i);
    bool overlaps = false; // the plan's chain through i meets a changed primitive
    for (auto j = static_cast<size_t>(model.chainHead(i));
         j <= static_cast<size_t>(model.chainLast(i)); ++j)
      overlaps = overlaps || changed[j];
    c.options.fused[i] = !overlaps && model.chainLast(i) > static_cast<int32_t>(i);
  }
  for (const TensorDesc& d : model.descs())
    c.options.layouts.push_back(d.layout);
  return c;
}

// Two plans prepared, then run in turn (one warm run of each, then `runs` profiled runs of each:
// both meet the machine's same minutes), with each step's least time.
struct InTurn {
  std::shared_ptr<const PreparedModel> model[2];
  std::vector<double> least[2];
  // A step's least time, 0 for a step that never ran (skipped: it takes nothing).
  double at(int which, size_t step) const {
    const double t = least[which][step];
    return std::isfinite(t) ? t : 0.0;
  }
};

Result<InTurn> runInTurn(const PlanCopy (&plans)[2], const BackendRegistry& registry,
                         const PrepareOptions& options, int runs) {
  InTurn out;
  std::unique_ptr<Session> sessions[2];
  SessionOptions so;
  so.threads = options.threads;
  so.precision = options.precision;
  so.memoryBudget = options.memoryBudget;
  for (int k = 0; k < 2; ++k) {
    TESSEL_ASSIGN_OR_RETURN(out.model[k],
                            PreparedModel::create(plans[k].program, registry, plans[k].options));
    TESSEL_ASSIGN_OR_RETURN(sessions[k], Session::create(out.model[k], so));
    TESSEL_RETURN_IF_ERROR(fillInputs(*sessions[k]));
    out.least[k].assign(plans[k].program->primitives.size(),
                        std::numeric_limits<double>::infinity());
  }
  for (int k = 0; k < 2; ++k) // warm: caches, pages, the threads
    TESSEL_RETURN_IF_ERROR(sessions[k]->run());
  for (int r = 0; r < std::max(runs, 1); ++r)
    for (int k = 0; k < 2; ++k)
      TESSEL_RETURN_IF_ERROR(profile(*sessions[k], &out.least[k]));
  return out;
}

// The steps that read primitive `last`'s output (their first primitives, once each) whose step
// is the same in both plans and holds no primitive `changed` marks.
std::vector<size_t> readerSteps(const Program& program, size_t last, const InTurn& t,
                                const std::vector<bool>& changed) {
  std::vector<size_t> steps;
  for (size_t r : search::outputReaders(program.primitives, last)) {
    const int32_t head = t.model[0]->chainHead(r);
    if (changed[r] || head != t.model[1]->chainHead(r) ||
        std::find(steps.begin(), steps.end(), static_cast<size_t>(head)) != steps.end())
      continue;
    steps.push_back(static_cast<size_t>(head));
  }
  return steps;
}

} // namespace

Result<std::vector<ProfileCache::SessionPair>>
timeChainsInSession(const PreparedModel& model, std::span<const std::pair<size_t, size_t>> chains,
                    const BackendRegistry& registry, const PrepareOptions& options, int runs) {
  const Program& planned = model.program();
  const size_t n = planned.primitives.size();
  std::vector<bool> timed(n, false); // a primitive of one of `chains`
  for (const auto& [first, count] : chains)
    for (size_t j = first; j < first + count && j < n; ++j)
      timed[j] = true;
  // The plan with `chains` fused, and without (the plan's other chains fused in both).
  PlanCopy plans[2] = {copyPlan(model, timed, options), copyPlan(model, timed, options)};
  for (const auto& [first, count] : chains)
    for (size_t j = first; j + 1 < first + count && j < n; ++j)
      plans[0].options.fused[j] = 1;
  TESSEL_ASSIGN_OR_RETURN(const InTurn t, runInTurn(plans, registry, options, runs));
  std::vector<ProfileCache::SessionPair> out;
  for (const auto& [first, count] : chains) {
    ProfileCache::SessionPair c;
    // A backend that declined the fused kernel after all ran the primitives alone: no times.
    if (t.model[0]->chainLast(first) != static_cast<int32_t>(first + count - 1)) {
      out.push_back(c);
      continue;
    }
    c.first = t.at(0, first);
    for (size_t j = first; j < first + count; ++j)
      c.second += t.at(1, j);
    for (size_t step : readerSteps(planned, first + count - 1, t, timed)) {
      c.first += t.at(0, step);
      c.second += t.at(1, step);
    }
    out.push_back(c);
  }
  return out;
}

Result<std::vector<ProfileCache::SessionPair>>
timeKernelsInSession(const PreparedModel& model, std::span<const KernelSwap> swaps,
                     const BackendRegistry& registry, const PrepareOptions& options, int runs) {
  const Program& planned = model.program();
  const size_t n = planned.primitives.size();
  std::vector<bool> swapped(n, false);
  for (const KernelSwap& s : swaps)
    if (s.primitive < n) swapped[s.primitive] = true;
  // The plan as it is, and with the swaps' kernels (each primitive alone: no chain through it).
  PlanCopy plans[2] = {copyPlan(model, swapped, options), copyPlan(model, swapped, options)};
  for (const KernelSwap& s : swaps)
    if (s.primitive < n) plans[1].program->kernels[s.primitive] = s.choice;
  TESSEL_ASSIGN_OR_RETURN(const InTurn t, runInTurn(plans, registry, options, runs));
  std::vector<ProfileCache::SessionPair> out;
  for (const KernelSwap& s : swaps) {
    ProfileCache::SessionPair c;
    const size_t i = s.primitive;
    const auto alone = [&](int which) {
      return t.model[which]->chainHead(i) == static_cast<int32_t>(i) &&
             t.model[which]->chainLast(i) == static_cast<int32_t>(i);
    };
    // Run alone in both, and with the kernel asked for: else no times.
    if (i >= n || t.model[1]->choice(i) != s.choice || !alone(0) || !alone(1)) {
      out.push_back(c);
      continue;
    }
    c.first = t.at(0, i);
    c.second = t.at(1, i);
    for (size_t step : readerSteps(planned, i, t, swapped)) {
      c.first += t.at(0, step);
      c.second += t.at(1, step);
    }
    out.push_back(c);
  }
  return out;
}

} // namespace tessel::detail
