// Session: one execution of a PreparedModel: per memory space an arena planned over the steps,
// the copies the plan needs between spaces, per-device streams and the thread count. Sessions of
// one model share its prepared kernels; each session runs on one caller thread at a time.
#pragma once

#include "tessel/runtime/memory_plan.h"
#include "tessel/runtime/prepared_model.h"

#include <memory>
#include <string>

namespace tessel {

namespace detail {
struct PlanStep;
}

struct SessionOptions {
  std::string backend;        // prefer this backend where it supports a primitive ("" = the plan's)
  int threads = 0;            // threads for kernels, the caller included; 0 = defaultThreadCount()
  bool blockedLayouts = true; // blocked layouts chosen at load (PreparedModel::create)
  ChainMode chains = ChainMode::Auto; // fused forms (prepared_model.h)
  // Bytes the session's arenas (tensors, inputs, outputs, workspace; every memory space) may
  // take; a plan needing more fails before anything is allocated. 0 = defaultMemoryBudget().
  // With PlanSearch::Model or Measure, when set, the plan made at load keeps its weights plus its
  // arenas within it too (PrepareOptions::memoryBudget).
  int64_t memoryBudget = 0;
  // F16Storage lets a backend keep f32 values as half where its device reads them (backend.h).
  Precision precision = Precision::F32;
  // How backends and kernels are chosen (prepared_model.h): the plan, or the cost model.
  PlanSearch search = PlanSearch::FirstFit;
  // With PlanSearch::Measure: a profile cache file to take measured times from and add new ones
  // to ("" = measure everything, keep nothing); with Model or Measure, its kernels' fitted lines
  // calibrate the estimates of what is not measured.
  std::string profileCache;
  // With Model or Measure: the bytes of weights the kernels may keep (PrepareOptions); 0 = none.
  int64_t weightBudget = 0;
  // `threads`, or defaultThreadCount() when 0.
  int threadCount() const;
  // What PreparedModel::create takes of these.
  PrepareOptions prepareOptions() const;
};

// Half the machine's physical memory: what a session may plan unless told otherwise.
int64_t defaultMemoryBudget();

class Session {
public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const PreparedModel> model,
                                                 const SessionOptions& options = {});
  // Prepares the program (with options.backend preferred), then creates a session on it.
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Program> program,
                                                 const BackendRegistry& registry,
                                                 const SessionOptions& options = {});
  ~Session();

  const Program& program() const { return model_->program(); }
  const PreparedModel& preparedModel() const { return *model_; }
  int threads() const { return threads_; }
  // Copies bytes into input i; bytes must equal the input's byte size. Bool bytes other than 0
  // are stored as 1.
  Status setInput(size_t i, const void* data, size_t bytes);
  // Input i's storage, to be filled in place before run() (host memory; a bool must be 0 or 1).
  void* inputData(size_t i);
  Status run();
  // One executed step of a profiled run: a primitive's kernel (primitive >= 0; a chain's runs
  // primitives primitive..last) or a copy between memory spaces (primitive -1), with its wall
  // time.
  struct StepTime {
    int32_t primitive = -1;
    int32_t last = -1;
    double seconds = 0;
  };
  // run(), timing each step (devices are waited on after every step, so times are honest and
  // the run is slower than an unprofiled one).
  Status runProfiled(std::vector<StepTime>* times);
  // Host bytes of output i, valid until the next run.
  const void* outputData(size_t i) const;

  // What the plan costs in memory and copies, per memory space.
  struct Arena {
    std::string space;
    int64_t bytes = 0;         // peak bytes of this space's arena (tensors and workspace)
    int64_t unsharedBytes = 0; // without reuse
  };
  const std::vector<Arena>& arenas() const { return arenaStats_; }
  int64_t arenaBytes() const;    // all spaces
  int64_t unsharedBytes() const; // all spaces
  // Copies between memory spaces: once at creation (constants a device reads) and per run.
  int preloadCopyCount() const { return preloadCopies_; }
  int runCopyCount() const;
  // Storage sharing the plan found: rasters made unnecessary (concats whose sources write in
  // place, contiguous slices read in place) and outputs written over a dying input.
  int skippedRasterCount() const;
  int inPlaceCount() const;
  // The backend of primitive i (null for views).
  Backend* backendOf(size_t i) const { return model_->backend(i); }

private:
public:
  struct Plan; // steps, tensor placement, arenas (session.cpp)

private:
  Session() = default;
  Status build();
  Status allocate();
  Status runStep(const detail::PlanStep& s);

  std::shared_ptr<const PreparedModel> model_;
  int threads_ = 1;
  int64_t budget_ = 0;
  std::unique_ptr<Plan> plan_;
  std::vector<Arena> arenaStats_;
  int preloadCopies_ = 0;
};

} // namespace tessel
