// DynamicSession: runs a source graph whose input shapes, or some input values (axes, shapes,
// bounds fed as inputs), are known only at run time, or whose rules need values computed from the
// run's data (NonZero's mask, NonMaxSuppression's boxes): the graph then runs in stages, planned
// at each such value once it is known. Each run's signature (input dtypes and
// shapes, plus the values of the inputs its plan depends on) selects a plan: the graph
// specialized, decomposed into a Program and prepared into a Session, built on first use and
// cached (a few, least recently used dropped). Runs with a signature seen before cost what a
// static session's run costs plus the input copies.
#pragma once

#include "tessel/graph/graph.h"
#include "tessel/runtime/session.h"

#include <list>
#include <memory>
#include <string>
#include <vector>

namespace tessel::graph {

struct DynamicOptions {
  SessionOptions session; // backend preference, threads, memory budget of each plan's session
  int cachedPlans = 4;    // plans kept; the least recently used beyond that is dropped
  size_t maxLaidOutNodes = size_t{1} << 14; // as Specialization::maxLaidOutNodes
};

// One input of a run: its description and host bytes (desc.byteSize() of them); for an input the
// model declares a sequence or optional, `list` set and its tensors in `items` (an optional
// without a value: `present` false).
struct InputRef {
  TensorDesc desc;
  const void* data = nullptr;
  bool list = false;
  bool present = true;
  std::vector<InputRef> items;
};

class DynamicSession {
public:
  static Result<std::unique_ptr<DynamicSession>> create(std::shared_ptr<const Graph> source,
                                                        const DynamicOptions& options = {});
  ~DynamicSession();

  size_t inputCount() const { return source_->inputs.size(); }
  const Value& input(size_t i) const { return source_->values[source_->inputs[i]]; }
  size_t outputCount() const { return source_->outputs.size(); }
  const Value& output(size_t i) const { return source_->values[source_->outputs[i]]; }

  // Runs with one InputRef per graph input, in order: their dtypes must be the declared ones and
  // their shapes fit the declared dims (a symbolic dim takes any size).
  Status run(const std::vector<InputRef>& inputs);
  // Output i of the last run: its description and host bytes (valid until the next run).
  const TensorDesc& outputDesc(size_t i) const;
  const void* outputData(size_t i) const;
  // A sequence or optional output: how many tensors it holds (-1 for a tensor output), and each
  // (an index past them: an Undefined description and null bytes).
  int32_t outputItems(size_t i) const;
  const TensorDesc& outputItemDesc(size_t i, size_t k) const;
  const void* outputItemData(size_t i, size_t k) const;

  // Plans built so far (a new signature builds one), and whether the last run built one.
  int plansBuilt() const { return plansBuilt_; }
  bool lastRunPlanned() const { return lastRunPlanned_; }
  // Seconds the last run spent making plans (specializing, decomposing, preparing the session:
  // weights packed included), every stage's; 0 when every plan was cached.
  double lastPlanSeconds() const { return lastPlanSeconds_; }
  // The inputs whose values plans depend on, as found so far.
  const std::vector<size_t>& valueInputs() const { return valueInputs_; }
  // The session of the last run's plan (of its last stage when it ran in stages).
  const Session& session() const;
  // How many stages the last run's plan ran in: 1, or more when rules needed values computed
  // from the run's data (each such value splits the graph where it is computed).
  int stages() const;

private:
  bool hasOutputItem(size_t i, size_t k) const;
  struct Plan;
  DynamicSession() = default;
  Result<Plan*> planFor(const std::vector<InputRef>& inputs);
  std::string signature(const std::vector<InputRef>& inputs) const;
  Result<std::unique_ptr<Plan>> stagedPlan(const Wanted& wanted);
  Result<Plan*> addPlan(std::string signature, Result<std::unique_ptr<Plan>> plan);
  Status runStages(Plan& plan, const std::vector<InputRef>& inputs);

  std::shared_ptr<const Graph> source_;
  DynamicOptions options_;
  std::shared_ptr<BackendRegistry> registry_;
  std::list<std::unique_ptr<Plan>> plans_; // most recently used first
  Plan* last_ = nullptr;
  std::vector<size_t> valueInputs_;
  int plansBuilt_ = 0;
  bool lastRunPlanned_ = false;
  double lastPlanSeconds_ = 0;
  int depth_ = 0; // stages before this one
};

} // namespace tessel::graph
