// Models that plan at run time, as the runtime (and its C API) sees them: an interface that
// libtessel_graph implements (graph/src/dynamic_model.cpp) and registers when it loads. The
// runtime itself never links decomposition; it loads that library on first need
// (docs/dynamic-shapes.md, "The C API").
#pragma once

#include "tessel/runtime/program.h"
#include "tessel/runtime/session.h"

#include <memory>
#include <string>
#include <vector>

namespace tessel {

struct DynamicTensorInfo {
  std::string name;
  TensorDesc desc; // -1 for dims known only at run time (outputs: dtype only, shape empty)
};

// One session on such a model: each run takes the inputs' shapes and bytes.
class DynamicRunner {
public:
  virtual ~DynamicRunner() = default;
  virtual Status run(const std::vector<Shape>& shapes, const std::vector<const void*>& data) = 0;
  // After a successful run.
  virtual const TensorDesc& outputDesc(size_t i) const = 0;
  virtual const void* outputData(size_t i) const = 0;
  virtual int threads() const = 0;
  virtual int64_t arenaBytes() const = 0; // the last run's plan; 0 before the first
};

class DynamicModel {
public:
  virtual ~DynamicModel() = default;
  virtual const std::vector<DynamicTensorInfo>& inputs() const = 0;
  virtual const std::vector<DynamicTensorInfo>& outputs() const = 0;
  virtual Result<std::unique_ptr<DynamicRunner>> createRunner(const SessionOptions& options) = 0;
};

// Reads the graph of a loaded program that plans at run time (checking it) into a model.
using DynamicModelFactory =
    Result<std::unique_ptr<DynamicModel>> (*)(std::shared_ptr<const Program> program);

// Called by libtessel_graph's static initializer.
void registerDynamicModelFactory(DynamicModelFactory factory);

// The registered factory applied to `program`; when none is registered yet, loads
// libtessel_graph.so first: from $TESSEL_GRAPH_LIBRARY if set, else beside
// libtessel_runtime.so, else by the dynamic loader's search. A missing library is an error
// naming it.
Result<std::unique_ptr<DynamicModel>> openDynamicModel(std::shared_ptr<const Program> program);

} // namespace tessel
