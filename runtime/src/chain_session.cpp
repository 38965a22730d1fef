#include "chain_session.h"

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

} // namespace

Result<std::vector<ProfileCache::ChainSession>>
timeChainsInSession(const PreparedModel& model, std::span<const std::pair<size_t, size_t>> chains,
                    const BackendRegistry& registry, const PrepareOptions& options, int runs) {
  const Program& planned = model.program();
  const size_t n = planned.primitives.size();
  // The plan as an artifact's (first fit keeps it): its kernels and layouts, and its fused
  // chains that overlap none of `chains`; then once with `chains` fused, once without.
  auto prog = std::make_shared<Program>(planned);
  prog->target = TargetInfo{}; // planned here: nothing to plan again for
  prog->backends.assign(n, std::string());
  prog->kernels.assign(n, KernelChoice{});
  std::vector<bool> timed(n, false); // a primitive of one of `chains`
  for (const auto& [first, count] : chains)
    for (size_t j = first; j < first + count && j < n; ++j)
      timed[j] = true;
  PrepareOptions unfusedOptions;
  unfusedOptions.threads = options.threads;
  unfusedOptions.precision = options.precision;
  unfusedOptions.fused.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (const Backend* b = model.backend(i)) prog->backends[i] = std::string(b->name());
    prog->kernels[i] = model.choice(i);
    bool overlaps = false; // the plan's chain through i meets one of `chains`
    for (auto j = static_cast<size_t>(model.chainHead(i));
         j <= static_cast<size_t>(model.chainLast(i)); ++j)
      overlaps = overlaps || timed[j];
    unfusedOptions.fused[i] = !overlaps && model.chainLast(i) > static_cast<int32_t>(i);
  }
  for (const TensorDesc& d : model.descs())
    unfusedOptions.layouts.push_back(d.layout);
  PrepareOptions fusedOptions = unfusedOptions;
  for (const auto& [first, count] : chains)
    for (size_t j = first; j + 1 < first + count && j < n; ++j)
      fusedOptions.fused[j] = 1;
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<const PreparedModel> fused,
                          PreparedModel::create(prog, registry, fusedOptions));
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<const PreparedModel> unfused,
                          PreparedModel::create(prog, registry, unfusedOptions));

  SessionOptions so;
  so.threads = options.threads;
  so.precision = options.precision;
  so.memoryBudget = options.memoryBudget;
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Session> fusedRun, Session::create(fused, so));
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Session> unfusedRun, Session::create(unfused, so));
  TESSEL_RETURN_IF_ERROR(fillInputs(*fusedRun));
  TESSEL_RETURN_IF_ERROR(fillInputs(*unfusedRun));
  TESSEL_RETURN_IF_ERROR(fusedRun->run()); // warm: caches, pages, the threads
  TESSEL_RETURN_IF_ERROR(unfusedRun->run());
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> fusedLeast(n, inf), unfusedLeast(n, inf);
  for (int r = 0; r < std::max(runs, 1); ++r) { // in turn: both meet the machine's same minutes
    TESSEL_RETURN_IF_ERROR(profile(*fusedRun, &fusedLeast));
    TESSEL_RETURN_IF_ERROR(profile(*unfusedRun, &unfusedLeast));
  }
  const auto at = [&](const std::vector<double>& least, size_t step) {
    return std::isfinite(least[step]) ? least[step] : 0.0; // a skipped step takes nothing
  };
  std::vector<ProfileCache::ChainSession> out;
  for (const auto& [first, count] : chains) {
    ProfileCache::ChainSession c;
    // A backend that declined the fused kernel after all ran the primitives alone: no times.
    if (fused->chainLast(first) != static_cast<int32_t>(first + count - 1)) {
      out.push_back(c);
      continue;
    }
    c.fused = at(fusedLeast, first);
    for (size_t j = first; j < first + count; ++j)
      c.unfused += at(unfusedLeast, j);
    std::vector<int32_t> counted;
    for (size_t r : search::outputReaders(planned.primitives, first + count - 1)) {
      const int32_t head = fused->chainHead(r);
      if (timed[r] || head != unfused->chainHead(r) ||
          std::find(counted.begin(), counted.end(), head) != counted.end())
        continue;
      counted.push_back(head);
      c.fused += at(fusedLeast, static_cast<size_t>(head));
      c.unfused += at(unfusedLeast, static_cast<size_t>(head));
    }
    out.push_back(c);
  }
  return out;
}

} // namespace tessel::detail
