// Cost-model planning of a whole program: which backend and kernel run each primitive, chosen by
// the graph-level assignment (graph_plan.h) over every backend's kernel candidates at their
// estimated times (BackendDescriptor::estimateSeconds at the session's thread count), with the
// copies between memory spaces that the choices imply as conversion costs. A tensor's state is
// its memory space and its layout (state 0: the host, plain): where the request asks, the plan
// chooses the blocked layouts the rules allow (layouts.h) with the kernels, each candidate
// weighed with its operands laid out each way the rules allow and its backend supports. No
// kernel converts a layout, so a tensor's readers take it in the layout it is written in.
#pragma once

#include "tessel/search/assign.h"
#include "tessel/search/graph_plan.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tessel::search {

// What a copy between memory spaces costs a run: a fixed part (the session waits on the stream
// after each copy between spaces) and the bytes at a bandwidth; between two device spaces, two
// copies (through the host).
struct TransferModel {
  double latencySeconds = 50e-6;
  double bytesPerSecond = 8e9;
  double seconds(int64_t bytes) const {
    return latencySeconds + static_cast<double>(bytes) / bytesPerSecond;
  }
};

// A candidate to time (ModelPlanRequest::measure): `tensors` are the request's, with the
// primitive's operands laid out as the candidate reads and writes them; `estimate` is the
// backend's own (estimateSeconds), for the kernel's fit (profile_cache.h).
struct MeasureItem {
  const std::vector<TensorDesc>* tensors = nullptr;
  const BackendDescriptor* backend = nullptr;
  KernelCandidate candidate;
  double estimate = 0;
};

struct ModelPlanRequest {
  std::span<const Primitive> primitives;
  const std::vector<TensorDesc>* tensors = nullptr;
  std::vector<const BackendDescriptor*> descriptors;
  // Per descriptor: whether its backend can run here (its device opens); empty: all can. The
  // runtime plans for the machine it runs on, so a GPU backend without a driver takes nothing;
  // the compiler plans offline for a target and leaves this empty.
  std::vector<bool> usable;
  bool isUsable(size_t backend) const {
    return usable.empty() || (backend < usable.size() && usable[backend]);
  }
  std::vector<bool> constant; // per tensor: bytes known at load (copied once, not per run)
  bool isConstant(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < constant.size() &&
           constant[static_cast<size_t>(id)];
  }
  std::vector<int32_t> inputs, outputs; // the program's: given on the host, wanted on the host
  std::string preferred;                // takes every primitive it supports ("" = none)
  int threads = 1;
  // Whether the plan chooses the tensors' layouts (the blocked ones the rules allow, layouts.h);
  // else each stays as `tensors` has it.
  bool layouts = false;
  // A copy between the host and a device space: `transfers` for that space where it has one (a
  // device's measured copies, ProfileCache::transfer), else `transfer` (nominal).
  TransferModel transfer;
  std::map<std::string, TransferModel, std::less<>> transfers;
  const TransferModel& transferFor(std::string_view space) const {
    auto it = transfers.find(space);
    return it == transfers.end() ? transfer : it->second;
  }
  // Per memory space: the bytes a second its device reads from memory past the caches at the
  // plan's thread count (measured: measureReadRate, kept in the profile cache). A candidate's
  // estimate is then at least its BackendDescriptor::streamedBytes at that rate; a space without
  // one has no such floor.
  std::map<std::string, double, std::less<>> readRates;
  // When set, a candidate's time is what this gives for it (measured, or kept from an earlier
  // measurement) in place of its estimate; a candidate it fails for is left out of the plan.
  // Given a primitive's candidates together (those within measureWithin), one result each, in
  // order, so that they can be timed in turn (measurePrimitives).
  std::function<std::vector<Result<double>>(size_t primitive,
                                            std::span<const MeasureItem> candidates)>
      measure;
  // When set and `measure` is not: a time already measured for a candidate on the device planned
  // for (a profile cache, read at load or offline), which the plan takes in place of its estimate
  // as `measure`'s; nullopt where there is none, and the estimate stands. A device's cache so
  // gives its measured plan without measuring again (tessel convert --search measure).
  std::function<std::optional<double>(size_t primitive, const std::vector<TensorDesc>& tensors,
                                      const BackendDescriptor& backend,
                                      const KernelCandidate& candidate)>
      known;
  // When set, the time the plan takes for a candidate it does not measure, from the backend's
  // estimate: a kernel's line fitted to its measurements (ProfileCache::fits) where there is one.
  // `kind` is the primitive's (a fused chain's first primitive's).
  std::function<double(PrimitiveKind kind, const BackendDescriptor& backend,
                       const KernelCandidate& candidate, double estimate)>
      calibrate;
  // When set, the time of a chain's fused kernel (primitives first..first+count-1, as
  // BackendDescriptor::chainCandidate offers it), as `measure` gives a primitive's.
  std::function<Result<double>(size_t first, size_t count, const BackendDescriptor& backend,
                               const KernelCandidate& candidate, double estimate)>
      measureChain;
  // A chain's fused kernel's time already measured, as `known` gives a primitive's.
  std::function<std::optional<double>(size_t first, size_t count, const BackendDescriptor& backend,
                                      const KernelCandidate& candidate)>
      knownChain;
  // A chain's fused kernel's effect on a session's time (seconds, negative where fusing gains),
  // measured there (PreparedModel::create with PlanSearch::Measure: the chain and the steps
  // reading its output, fused against unfused, ProfileCache::chainSession); `assignment` is the
  // plan's, whose kernels for those readers the measurement depends on. nullopt where none was
  // measured. Where given, the chain is weighed at its primitives' own time plus this, in place
  // of its time measured alone: a kernel timed alone cannot see what it does to the next one
  // (docs/search.md, Fused chains timed in a session).
  std::function<std::optional<double>(size_t first, size_t count, const BackendDescriptor& backend,
                                      const KernelCandidate& candidate,
                                      const Assignment& assignment)>
      chainEffect;
  // When set, two kernels `a` and `b` of primitive i on `backend`, with its operands laid out
  // alike (`tensors`), timed against each other in a session (PreparedModel::create with
  // PlanSearch::Measure: the plan with one and with the other, run by run in turn; each time
  // its step and the steps reading its output; ProfileCache::kernelSession): their times there,
  // a's and b's; nullopt where none were. Where given, the two are weighed apart by their
  // difference there, around the mean of their times alone: kernels whose times alone are
  // close are decided by what they cost a session (docs/search.md, Kernels decided in a
  // session).
  std::function<std::optional<std::pair<double, double>>(
      size_t i, const std::vector<TensorDesc>& tensors, const BackendDescriptor& backend,
      const KernelCandidate& a, const KernelCandidate& b)>
      kernelsInSession;
  // Bytes the plan's kernels may keep of weights (their packed or transformed copies, else the
  // constants they read in place; memory.h, fitMemoryBudget); 0: no bound.
  int64_t weightBudget = 0;
  // Bytes the plan may take in all: those weights plus its sessions' arenas (tensors and
  // workspace, every memory space; planArenaBytes); 0: no bound.
  int64_t memoryBudget = 0;
  // Only candidates estimated within this factor of the primitive's best estimate are measured;
  // the rest keep their estimates. The backends' own estimates decide (not the calibrated ones),
  // so that a cache's fits never change what is measured: a warm cache measures nothing.
  double measureWithin = 20;
};

// One kernel that could run a primitive, as the plan weighed it.
struct PlanOption {
  int backend = kNoBackend; // index into the request's descriptors (kNoBackend: a view)
  KernelChoice choice;
  std::string name;    // backend:candidate
  double seconds = 0;  // the time the plan weighed: the measured one where there is one
  double estimate = 0; // the backend's estimate (calibrated where the request calibrates)
  bool measured = false;
  // The weights it keeps resident: its own copies (BackendDescriptor::preparedBytes), or the
  // bytes of the constant inputs it reads in place, whichever is more.
  int64_t bytes = 0;
  std::vector<Layout> layouts; // its operands' (inputs, then output; empty for a view)
  // The scratch it needs per run (BackendDescriptor::workspaceBytes), in its backend's space;
  // -1 until the memory planning asks (memory.h: only the chosen kernels and, under a memory
  // budget, those that could replace them are sized).
  int64_t workspace = -1;
  // Weighed by a session's times against another kernel of its backend (kernelsInSession).
  bool inSession = false;
};

// A chain of primitives that could run as one kernel of their backend, as pickChains weighed it.
struct ChainOption {
  size_t first = 0, count = 0; // primitives first..first+count-1
  int backend = kNoBackend;
  std::string name;           // backend:candidate
  double seconds = 0;         // fused: measured, else the (calibrated) estimate
  double estimate = 0;        // fused: the (calibrated) estimate
  double unfusedSeconds = 0;  // the primitives' own kernels, as the plan weighs them
  double unfusedEstimate = 0; // the same by their (calibrated) estimates
  bool measured = false;
  bool inSession = false; // weighed by its effect measured in a session (chainEffect)
  bool fused = false;     // the plan runs it fused
};

struct ModelPlan {
  Assignment assignment;
  std::vector<std::vector<PlanOption>> options; // per primitive, in the order weighed
  std::vector<int> chosen;                      // per primitive: index into its options
  std::vector<Layout> layouts;                  // per tensor: as the plan lays it out
  std::vector<ChainOption> chains;              // every chain pickChains weighed
  double predictedSeconds = 0;                  // kernels plus copies
  double predictedCopySeconds = 0;              // of which copies
  int64_t weightBytes = 0; // the chosen kernels' PlanOption::bytes (fitMemoryBudget)
  int64_t arenaBytes = 0;  // its sessions' arenas, estimated (fitMemoryBudget, planArenaBytes)
  int budgetMoves = 0;     // changes of kernels the budgets forced (fitMemoryBudget)
  int copies = 0;          // copies a run makes (per run, not constants)
  bool exact = true;
  std::vector<std::string> spaces; // state id: memory space
  // Per device space, the copies' model the plan priced (ModelPlanRequest::transferFor).
  std::map<std::string, TransferModel, std::less<>> transfers;
  // The request's readRates, as the plan used them.
  std::map<std::string, double, std::less<>> readRates;
  int measurements = 0, cacheHits = 0; // with a measure callback: what its caller reports
  int chainsInSession = 0;             // fused chains its caller timed in sessions (chainEffect)
  int kernelsInSession = 0;    // pairs of kernels its caller timed in sessions (kernelsInSession)
  double planningSeconds = 0;  // planModel's wall time, measuring included
  double measuringSeconds = 0; // of which in the measure callback
};

// Fails naming the first primitive no backend supports, or an unknown preferred backend.
Result<ModelPlan> planModel(const ModelPlanRequest& request);

// The layouts alone (per tensor), for an assignment made otherwise (first fit, an artifact's
// plan): the same graph-level plan with each primitive at its assigned backend and kernel, by
// the backend's estimates (a kernel that does not take a layout estimates infinity); the
// request's measure and calibrate are not used.
Result<std::vector<Layout>> planLayouts(const ModelPlanRequest& request,
                                        const Assignment& assignment);

// The kernel of each primitive again, among its planned backend's candidates for the tensors as
// they are now (laid out as the plan chose, say), by the same times as planModel (measured where
// the request measures): the plan's options, choices and predicted time follow. A choice whose
// kernel is the backend's best estimate is stored as the backend's firstChoice, which lets the
// backend decide when it prepares the kernel.
Status pickKernels(const ModelPlanRequest& request, ModelPlan* plan);

// Whether the inputs a kernel needs constant (a KernelCandidate's constantInputs) are: bit k
// stands for input k of the kernel, which runs `chain` (one primitive, or a fused form's chain:
// each primitive's inputs in turn, less the later ones' chained input 0).
bool constantsFit(const ModelPlanRequest& request, std::span<const Primitive* const> chain,
                  uint32_t constantInputs);

// A primitive whose kernel a session should decide: the plan runs it alone (in no fused
// chain), and another measured option of the chosen one's backend, its operands laid out alike,
// is within `within` (a factor) of the chosen one's time; `rival` is the closest such option
// (an index into plan.options[primitive]).
struct CloseKernels {
  size_t primitive = 0;
  int rival = 0;
};
std::vector<CloseKernels> closeKernels(const ModelPlan& plan, double within);

// The longest chain a fused form may span.
inline constexpr size_t kMaxChain = 3;

// Whether primitive i's output may pass to primitive i + 1 inside one kernel: the same backend
// runs both, i + 1 reads it as its input 0, and nothing else reads it (no other primitive, not a
// program output) nor is it a constant.
bool chainable(const ModelPlanRequest& request, const Assignment& assignment, size_t i);

// The primitives that read primitive i's output, in program order: its readers, and through a
// view (which aliases its input) the view's readers in turn; the views themselves left out.
std::vector<size_t> outputReaders(std::span<const Primitive> primitives, size_t i);

// Fused forms: which chains (runs of up to kMaxChain chainable primitives) run as one kernel of
// their backend (BackendDescriptor::chainCandidate, Backend::prepareChain). Each chain's fused
// kernel is weighed (measured where the request measures chains, else its estimate, calibrated
// where the request calibrates) against the primitives' own kernels: `plan`'s chosen options
// (their weighed times; null: the backends' estimates at the assigned kernels, calibrated),
// and the fastest set of disjoint chains is fused (exact: a pass over the program); with
// `every`, each longest chain that has a fused kernel, whatever the times. Sets
// assignment->fused; returns every chain weighed, in program order.
Result<std::vector<ChainOption>> pickChains(const ModelPlanRequest& request, const ModelPlan* plan,
                                            Assignment* assignment, bool every = false);

} // namespace tessel::search
