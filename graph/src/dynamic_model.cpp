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

  Status run(const std::vector<Shape>& shapes, const std::vector<const void*>& data) override {
    if (shapes.size() != session_->inputCount() || data.size() != shapes.size())
      return invalidArgument("the model has " + std::to_string(session_->inputCount()) +
                             " inputs, " + std::to_string(shapes.size()) + " given");
    std::vector<InputRef> inputs;
    for (size_t i = 0; i < shapes.size(); ++i)
      inputs.push_back({{session_->input(i).desc.dtype, shapes[i]}, data[i], false, true, {}});
    return session_->run(inputs);
  }
  const TensorDesc& outputDesc(size_t i) const override { return session_->outputDesc(i); }
  const void* outputData(size_t i) const override { return session_->outputData(i); }
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
      inputs_.push_back({graph_->values[v].name, graph_->values[v].desc});
    for (int32_t v : graph_->outputs)
      outputs_.push_back({graph_->values[v].name, {graph_->values[v].desc.dtype, {}}});
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
    r->threads_ = options.threads > 0 ? options.threads : defaultThreadCount();
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
