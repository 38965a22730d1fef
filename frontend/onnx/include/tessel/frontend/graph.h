// The ONNX importer's graph: an ONNX model as a graph::Graph (tessel/graph/graph.h), specialized
// to the given input shapes: every tensor's description inferred and every node whose inputs are
// all constants (shape subgraphs: Shape, Gather, Unsqueeze, Concat, ...) folded. MLIR-free; the
// MLIR importer turns it into the tessel dialect.
#pragma once

#include "tessel/frontend/onnx_model.h"
#include "tessel/graph/graph.h"

#include <map>
#include <string>

namespace tessel::frontend {

using GraphValue = graph::Value;
using GraphNode = graph::Node;
using ImportedGraph = graph::Graph;
using ConstantBytes = graph::Bytes;
using graph::evaluateLowering;
using graph::worthFolding;

// NAME -> dims for inputs whose ONNX dims are symbolic (or to override them).
using ShapeOverrides = std::map<std::string, Shape>;

// The model as a source graph: initializers and Constant nodes are constants, graph inputs keep
// their declared dims (-1 where symbolic, rank 0 where no shape is declared), node outputs are
// undescribed. Errors name what is malformed (a node reading an undefined value).
Result<graph::Graph> sourceGraph(const OnnxModel& model);

// sourceGraph specialized to `shapes` (graph::specialize), with every output checked against
// what the model declares. `wanted` as in graph::specialize.
Result<ImportedGraph> importGraph(const OnnxModel& model, const ShapeOverrides& shapes,
                                  graph::Wanted* wanted = nullptr);

} // namespace tessel::frontend
