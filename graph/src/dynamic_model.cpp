// The runtime's DynamicModel (tessel/runtime/dynamic.h) over a graph artifact: registered when
// this library loads, so the C API reaches dynamic sessions without linking decomposition.
#include "tessel/graph/artifact.h"
#include "tessel/graph/dynamic_session.h"
#include "tessel/runtime/dynamic.h"
#include "tessel/runtime/thread_pool.h"

namespace tessel::graph {
namespace {

class Runner final : public DynamicRunner {
public:
  explicit Runner(std::unique_ptr<DynamicSession> s) : session_(std::move(s)) {}

  Status run(const std::vector<DynamicInput>& given) override {
    if (given.size() != session_->inputCount())
      return invalidArgument("the model has " + std::to_string(session_->inputCount()) +
                             " inputs, " + std::to_string(given.size()) + " given");
    std::vector<InputRef> inputs;
    for (size_t i = 0; i < given.size(); ++i) {
      const DynamicInput& in = given[i];
      const DType dtype = session_->input(i).desc.dtype;
      InputRef ref{{dtype, in.shape}, in.data, in.list, in.present, {}};
      if (in.itemShapes.size() != in.itemData.size())
        return invalidArgument("input " + std::to_string(i) + ": shapes and data differ in count");
      for (size_t k = 0; k < in.itemShapes.size(); ++k)
        ref.items.push_back({{dtype, in.itemShapes[k]}, in.itemData[k], false, true, {}});
      inputs.push_back(std::move(ref));
    }
    return session_->run(inputs);
  }
  const TensorDesc& outputDesc(size_t i) const override { return session_->outputDesc(i); }
  const void* outputData(size_t i) const override { return session_->outputData(i); }
  int64_t outputItems(size_t i) const override { return session_->outputItems(i); }
  const TensorDesc& outputItemDesc(size_t i, size_t k) const override {
    return session_->outputItemDesc(i, k);
  }
  const void* outputItemData(size_t i, size_t k) const override {
    return session_->outputItemData(i, k);
  }
  int threads() const override { return threads_; }
  int64_t arenaBytes() const override {
    return session_->plansBuilt() ? session_->session().arenaBytes() : 0;
  }
  int threads_ = 1;

private:
  std::unique_ptr<DynamicSession> session_;
};

class Model final : public DynamicModel {
public:
  explicit Model(std::shared_ptr<const Graph> g) : graph_(std::move(g)) {
    for (int32_t v : graph_->inputs)
      inputs_.push_back({graph_->values[v].name, graph_->values[v].desc,
                         static_cast<DynamicValueKind>(graph_->values[v].kind)});
    for (int32_t v : graph_->outputs)
      outputs_.push_back({graph_->values[v].name,
                          {graph_->values[v].desc.dtype, {}},
                          static_cast<DynamicValueKind>(graph_->values[v].kind)});
  }
  const std::vector<DynamicTensorInfo>& inputs() const override { return inputs_; }
  const std::vector<DynamicTensorInfo>& outputs() const override { return outputs_; }
  Result<std::unique_ptr<DynamicRunner>> createRunner(const SessionOptions& options) override {
    if (options.threads < 0)
      return invalidArgument("thread count " + std::to_string(options.threads) + " is negative");
    if (options.memoryBudget < 0)
      return invalidArgument("memory budget " + std::to_string(options.memoryBudget) +
                             " is negative");
    DynamicOptions dyn;
    dyn.session = options;
    TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<DynamicSession> s, DynamicSession::create(graph_, dyn));
    auto r = std::make_unique<Runner>(std::move(s));
    r->threads_ = options.threadCount();
    return std::unique_ptr<DynamicRunner>(std::move(r));
  }

private:
  std::shared_ptr<const Graph> graph_;
  std::vector<DynamicTensorInfo> inputs_, outputs_;
};

Result<std::unique_ptr<DynamicModel>> openModel(std::shared_ptr<const Program> program) {
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<const Graph> g, artifactGraph(*program));
  if (!g) return corrupt("the model plans at run time but carries no graph");
  return std::unique_ptr<DynamicModel>(std::make_unique<Model>(std::move(g)));
}

[[maybe_unused]] const bool registered = (registerDynamicModelFactory(&openModel), true);

} // namespace
} // namespace tessel::graph
