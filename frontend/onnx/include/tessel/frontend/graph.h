// ImportedGraph: an ONNX graph with every tensor's description inferred, input shapes pinned and
// every node whose inputs are all constants (shape subgraphs: Shape, Gather, Unsqueeze, Concat,
// ...) folded by running its decomposition on the reference backend. MLIR-free; the MLIR
// importer turns it into the tessel dialect.
#pragma once

#include "tessel/decompose/lowering.h"
#include "tessel/frontend/onnx_model.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessel::frontend {

struct GraphValue {
  std::string name;
  TensorDesc desc;
  std::shared_ptr<const std::vector<uint8_t>> constant; // set for constants
};

struct GraphNode {
  decompose::Node node;         // attributes and input descriptions (constant data included)
  std::vector<int32_t> inputs;  // value ids; -1 for an absent optional input
  std::vector<int32_t> outputs; // value ids
};

struct ImportedGraph {
  int opset = 0;
  std::vector<GraphValue> values;
  std::vector<GraphNode> nodes; // topological order, constant nodes folded away
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
};

// NAME -> dims for inputs whose ONNX dims are symbolic (or to override them).
using ShapeOverrides = std::map<std::string, Shape>;

Result<ImportedGraph> importGraph(const OnnxModel& model, const ShapeOverrides& shapes);

using ConstantBytes = std::shared_ptr<const std::vector<uint8_t>>;

// Runs a lowering on the reference backend at convert time; `inputs` holds the bytes of every
// node input (null for absent ones). Used to fold constant subgraphs here and in
// tessel-fold-constants.
Result<std::vector<ConstantBytes>> evaluateLowering(const decompose::Lowering& lowering,
                                                    const std::vector<const void*>& inputs);

// Whether folding work whose outputs hold `outElements` elements, computed from constants of
// `inElements` elements, belongs in the artifact: at most 2^24 elements, and no more than the
// constants it reads or 2^16. Folding shrinks or keeps what the artifact stores (shape
// arithmetic, batch-norm affines, reversed weights); a generator (ConstantOfShape, an Expand or
// Tile of a constant) stays an operation, so a tiny file cannot make a huge artifact.
bool worthFolding(int64_t outElements, int64_t inElements);

} // namespace tessel::frontend
