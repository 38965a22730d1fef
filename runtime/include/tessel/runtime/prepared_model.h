// PreparedModel: a Program bound to backends: the plan (backend and kernel per primitive) and one
// PreparedKernel per primitive, built once and shared, read-only, by every session of the model.
#pragma once

#include "tessel/runtime/backend.h"
#include "tessel/runtime/program.h"
#include "tessel/search/plan_model.h"

#include <memory>
#include <string>
#include <vector>

namespace tessel {

class ProfileCache;

// How a model's backends and kernels are chosen when it is prepared.
enum class PlanSearch : uint8_t {
  // The artifact's plan where its backends are here, else each primitive's first backend (in
  // registry order) that supports it, with that backend's first kernel (search::assignBackends).
  FirstFit,
  // Every backend's kernel candidates at their estimated times, with the copies between memory
  // spaces they imply, the cheapest whole plan (search::planModel); the artifact's plan is
  // ignored.
  Model,
  // The same with each candidate's time measured on this machine (measurePrimitive: in
  // isolation, warm, the minimum of 5 runs), or taken from the profile cache where it has one;
  // then the chains it weighed fused timed in sessions against their primitives unfused, and
  // the plan made again with what they did there (docs/search.md, Fused chains timed in a
  // session).
  Measure,
};

// Fused forms: chains of primitives that one kernel of their backend runs
// (BackendDescriptor::chainCandidate, Backend::prepareChain).
enum class ChainMode : uint8_t {
  Off,  // every primitive on its own
  Auto, // where the plan weighs the fused kernel faster (search::pickChains: by the estimates,
        // or by measured times with PlanSearch::Measure)
  All,  // every chain a backend has a fused kernel for (tests, comparisons)
};

struct PrepareOptions {
  // A backend that takes every primitive it supports ("" = the artifact's plan).
  std::string preferred;
  // An artifact whose tensors are all plain gets blocked layouts between the kernels that take
  // them, chosen by cost with the plan (search::planModel, search::planLayouts); an artifact
  // that sets layouts keeps its own.
  bool blockedLayouts = true;
  // Per tensor, the layouts a plan made earlier chose (`tessel search --verify` times such
  // plans); empty: chosen as above. They must keep the layout rules (search::checkLayouts) and
  // each primitive's backend must support them.
  std::vector<Layout> layouts;
  ChainMode chains = ChainMode::Auto;
  // Per primitive, whether it runs fused with the next, as a plan made earlier decided it
  // (`tessel search --verify` times such plans); empty: `chains` decides. A chain the backend
  // has no fused kernel for runs unfused.
  std::vector<uint8_t> fused;
  // The thread count its sessions are expected to use (0: not known), for the estimates and the
  // kernels' variants (PrepareArgs::threads); a session at another count runs correctly.
  int threads = 0;
  Precision precision = Precision::F32;
  PlanSearch search = PlanSearch::FirstFit;
  // With Model or Measure: a profile cache file (SessionOptions::profileCache).
  std::string profileCache;
  // With Model or Measure: the bytes of weights the kernels may keep (packed or transformed
  // copies, else the constants they read in place; search::fitMemoryBudget), 0 for no bound.
  int64_t weightBudget = 0;
  // With Model or Measure: the bytes the plan may take in all, its weights plus its sessions'
  // arenas (search::planArenaBytes), 0 for no bound; a first-fit plan is not bounded (its
  // sessions check their arenas, SessionOptions::memoryBudget).
  int64_t memoryBudget = 0;
};

class PreparedModel {
public:
  // The registry must outlive the result (its backends prepared the kernels).
  static Result<std::shared_ptr<const PreparedModel>> create(std::shared_ptr<const Program> program,
                                                             const BackendRegistry& registry,
                                                             const PrepareOptions& options = {});

  const Program& program() const { return *program_; }
  // Per tensor, as the kernels see them: the program's, with the layouts chosen at load.
  const std::vector<TensorDesc>& descs() const { return descs_; }
  int blockedTensorCount() const { return blocked_; }
  // Per primitive; views have no backend, device or kernel (they alias their input).
  Backend* backend(size_t i) const { return steps_[i].backend; }
  const std::shared_ptr<Device>& device(size_t i) const { return steps_[i].device; }
  // Null for views and for the later primitives of a chain (the first one's kernel runs it).
  const PreparedKernel* kernel(size_t i) const { return steps_[i].kernel.get(); }
  // The chain primitive i belongs to: its first and last primitive (both i when it runs alone).
  int32_t chainHead(size_t i) const { return steps_[i].head; }
  // With PlanSearch::Model or Measure, what the plan weighed and predicted (null otherwise).
  const search::ModelPlan* searchPlan() const { return searchPlan_.get(); }
  // How the plan that runs was made, in words: "the artifact's", "first fit", "cost model",
  // "measured", or why the artifact's was made again here ("cost model: the artifact was
  // planned for x86-64-avx512, this machine runs x86-64-avx2").
  const std::string& planSource() const { return planSource_; }
  int32_t chainLast(size_t i) const { return steps_[steps_[i].head].last; }
  // Planned by cost with a profile cache: per primitive, the cache's key of the kernel the plan
  // chose ("" for a view), under which a session's time of the step is kept
  // (ProfileCache::putSession); empty otherwise.
  const std::vector<std::string>& profileKeys() const { return profileKeys_; }
  // Per primitive with a profile key, its session class (sessionClassKey), else "".
  const std::vector<std::string>& sessionClasses() const { return sessionClasses_; }
  int chainCount() const { return chains_; }
  // The inputs a step running primitives head..chainLast(head) reads, in the order its kernel
  // takes them (the later primitives' chained input 0 left out).
  std::vector<int32_t> stepInputs(size_t head) const;
  const KernelChoice& choice(size_t i) const { return steps_[i].choice; }
  // Each backend that runs a primitive, once, in first-use order.
  std::vector<Backend*> backendsUsed() const;

private:
  // create's plan and kernels, with the profile cache `shared` when given (read and added to,
  // not saved; `changes` counts what was added), else the options' file.
  static Result<std::shared_ptr<PreparedModel>> build(std::shared_ptr<const Program> program,
                                                      const BackendRegistry& registry,
                                                      const PrepareOptions& options,
                                                      ProfileCache* shared, int* changes);
  struct Bound {
    Backend* backend = nullptr;
    std::shared_ptr<Device> device;
    KernelChoice choice;
    std::unique_ptr<PreparedKernel> kernel;
    int32_t head = -1, last = -1; // the chain this primitive belongs to
  };
  // The fused kernel of primitives first..last (null: the backend has none after all).
  Result<std::unique_ptr<PreparedKernel>> prepareChain(size_t first, int32_t last) const;
  PreparedModel() = default;
  std::string where(size_t i) const;       // "conv2d 'node' on backend", for errors
  PrepareArgs prepareArgs(size_t i) const; // primitive i with its constants and chosen kernel
  // Primitive i's inputs' constant bytes, null for the others (constants_).
  std::span<const void* const> constantsOf(size_t i) const {
    return {constants_.data() + constantStart_[i], program_->primitives[i].inputs.size()};
  }
  // Gives back the pages of constants whose readers all keep their own copies.
  struct ConstantRelease {
    bool enabled = false;
    std::vector<int64_t> lastUse; // per tensor: the last primitive reading it
    std::vector<bool> stillRead;  // per tensor: some kernel reads it in place (or it is out)
    void plan(const Program& prog);
    // input: the index of primitive i's input k in the kernel's input list
    void prepared(const Program& prog, size_t i, const PreparedKernel* kernel,
                  const std::vector<int>& input = {});
  };
  std::shared_ptr<const Program> program_;
  std::vector<TensorDesc> descs_;
  std::unique_ptr<search::ModelPlan> searchPlan_;
  std::string planSource_;
  std::vector<std::string> profileKeys_;
  std::vector<std::string> sessionClasses_;
  // Per chain of the search plan, when measuring: its key among the profile cache's chain times
  // (chainSessionKey) where the plan weighed it without them, else "".
  std::vector<std::string> chainKeys_;
  // Measuring: the kernels the plan chose close to a rival (search::closeKernels) whose session
  // times against it the cache lacks, for create to time in sessions: the primitive, the
  // rival's kernel, and the chosen kernel's and the rival's profile keys
  // (ProfileCache::kernelSession).
  struct KernelRival {
    size_t primitive = 0;
    KernelChoice choice;
    std::string chosenKey, rivalKey;
  };
  std::vector<KernelRival> kernelRivals_;
  // Every primitive's inputs' constant bytes (null for the others), primitive i's from
  // constantStart_[i]: what prepareArgs hands a backend, built once.
  std::vector<const void*> constants_;
  std::vector<size_t> constantStart_;
  std::vector<Bound> steps_;
  int blocked_ = 0;
  int threads_ = 0; // expected by its sessions; 0: not known
  int chains_ = 0;
  Precision precision_ = Precision::F32;
};

} // namespace tessel
