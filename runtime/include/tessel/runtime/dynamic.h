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

// What a model input or output holds: a tensor, or (ONNX's sequence and optional types) a list
// of tensors of its dtype. The values are the C API's tessel_value_kind.
enum class DynamicValueKind : int { Tensor = 0, Sequence = 1, Optional = 2, OptionalSequence = 3 };

struct DynamicTensorInfo {
  std::string name;
  TensorDesc desc; // -1 for dims known only at run time (outputs: dtype only, shape empty)
  DynamicValueKind kind = DynamicValueKind::Tensor; // lists: desc holds the elements' dtype
};

// One input of a run: a tensor's shape and bytes, or a list input's tensors (an optional
// without a value: present false).
struct DynamicInput {
  Shape shape;
  const void* data = nullptr;
  bool list = false;
  bool present = true;
  std::vector<Shape> itemShapes;
  std::vector<const void*> itemData;
};

// One session on such a model: each run takes the inputs' shapes and bytes.
class DynamicRunner {
public:
  virtual ~DynamicRunner() = default;
  virtual Status run(const std::vector<DynamicInput>& inputs) = 0;
  // After a successful run. A tensor output's description and bytes (a list output: an error
  // for the caller to report, checked by outputItems first).
  virtual const TensorDesc& outputDesc(size_t i) const = 0;
  virtual const void* outputData(size_t i) const = 0;
  // A list output: how many tensors it holds (an optional: 0 without a value, else 1); -1 for a
  // tensor output. Then tensor k of it.
  virtual int64_t outputItems(size_t i) const = 0;
  virtual const TensorDesc& outputItemDesc(size_t i, size_t k) const = 0;
  virtual const void* outputItemData(size_t i, size_t k) const = 0;
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
