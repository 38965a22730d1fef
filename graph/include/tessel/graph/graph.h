// Graph: a model as high-level nodes (ONNX semantics) over values, the form decomposition on the
// device starts from. A source graph comes from a model file: initializers are constants, graph
// inputs may have dims (-1) or values known only at run time, node outputs are undescribed.
// specialize() fixes the inputs' shapes (and any values a plan depends on), infers every value's
// description and folds what is known (shape arithmetic); lowerToProgram() decomposes the nodes
// into one runtime Program. The compiler (frontend, ir/) and dynamic sessions on the device share
// this code; it links decompose/ and the runtime, never MLIR or protobuf.
#pragma once

#include "tessel/decompose/lowering.h"
#include "tessel/runtime/program.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessel::graph {

using Bytes = std::shared_ptr<const std::vector<uint8_t>>;

// What a graph input or output holds: a tensor, or (ONNX's sequence and optional types) a list of
// tensors of desc.dtype: a sequence's elements, an optional's one tensor or none, an optional
// sequence's elements or none.
enum class ValueKind : uint8_t { Tensor = 0, Sequence = 1, Optional = 2, OptionalSequence = 3 };

struct Value {
  std::string name;
  TensorDesc desc;      // source graphs: Undefined for node outputs, -1 for a symbolic input dim
  Bytes constant;       // set for constants (initializers, folded values, supplied input values)
  bool anyRank = false; // a graph input declared without a shape: a given shape of any rank fits
  ValueKind kind = ValueKind::Tensor; // graph inputs and outputs (declared); lists: element dtype
};

struct Graph;

struct Node {
  decompose::Node node;         // op type, name, opset, attributes, output count; specialized
                                // graphs also hold the input descriptions (and constant data)
  std::vector<int32_t> inputs;  // value ids; -1 for an absent optional input
  std::vector<int32_t> outputs; // value ids
  // Specialized graphs: the node's decomposition for those descriptions.
  std::shared_ptr<decompose::Lowering> lowering;
  // Control flow (If, Loop, Scan): the subgraphs by attribute name. The values they read from
  // enclosing graphs (their `captured` values, matched by name) follow the operator's own inputs
  // in `inputs`: the last `capturedInputs` of them, before any `scannedInputs`.
  std::map<std::string, std::shared_ptr<const Graph>> subgraphs;
  int32_t capturedInputs = 0;
  // A Loop part-way through being unrolled: the iterations already laid out, and (last in
  // `inputs`) their scan outputs, iteration by iteration.
  int64_t iterationsDone = 0;
  int32_t scannedInputs = 0;
  // Laid out by a sequence operator, which stays in the expanded graph in its place.
  bool hidden = false;
};

struct Graph {
  int opset = 0;
  std::vector<Value> values;
  std::vector<Node> nodes; // topological order
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  // Subgraphs: values read from an enclosing graph, each named as the value it reads there.
  std::vector<int32_t> captured;
  // Specialized graphs: per source output, -1 for a tensor, else how many of `outputs` (in
  // order) its list holds; `inputs` likewise hold each list input's elements in its place.
  std::vector<int32_t> outputItems;
};

// What a plan is made for: shapes for graph inputs (required where a dim is symbolic; where given
// otherwise they must agree with the declared dims), and input values the plan may depend on
// (axes, shapes, bounds fed as graph inputs): those inputs become constants.
struct Specialization {
  std::map<std::string, Shape> shapes;
  std::map<std::string, Bytes> values;
  // List inputs (sequences, optionals): their elements' shapes (none: an empty sequence, or an
  // optional without a value).
  std::map<std::string, std::vector<Shape>> items;
  // Nodes control flow may lay out beyond the source's (Loop iterations, Scan steps, branches).
  size_t maxLaidOutNodes = size_t{1} << 14;
};

// What specialize() stopped at: a rule needs a value not known before the run. Either a graph
// input's value (`input`: axes, a shape, a size fed as an input, or a small input a needed value
// is computed from), which a caller holding the inputs supplies in Specialization::values, or
// values computed from the run's data (`values`: the mask of a NonZero, the boxes and scores of a
// NonMaxSuppression), known only once the nodes before them have run: the graph is then planned
// in stages (splitAt). `described` holds every value's description as far as it got.
// `values` name values of `expanded` when control flow was laid out before the stop (a Loop's
// condition computed by its previous iteration): the source graph with If branches inlined and
// Loop iterations unrolled as far as it got, which the stages are then cut from.
struct Wanted {
  std::string input;
  std::vector<int32_t> values;
  std::vector<TensorDesc> described;
  std::shared_ptr<const Graph> expanded;
  bool any() const { return !input.empty() || !values.empty(); }
};

// Infers every value's description and folds each node whose inputs are all known (shape
// subgraphs) by running its decomposition, keeping the rest with their lowerings. Errors name the
// node; a node that needs a value not known yet also fills *wanted (when given).
Result<Graph> specialize(const Graph& source, const Specialization& spec, Wanted* wanted = nullptr);

// A source graph split where values computed from the run's data are needed: `prefix` holds the
// nodes those values depend on and outputs them plus every value of theirs a later node or the
// graph reads; `suffix` holds the other nodes, with those values as inputs (declared with their
// dtype and rank, any dims) after the source inputs it reads. Each input of either names its
// source: prefixFrom[i] is a source input index; suffixFrom[i] is a source input index, or -1 - k
// for prefix output k. The suffix's outputs are the source's.
struct Stages {
  Graph prefix, suffix;
  std::vector<int> prefixFrom, suffixFrom;
};
Result<Stages> splitAt(const Graph& source, const std::vector<int32_t>& values,
                       const std::vector<TensorDesc>& described);

// The operators specialize() lays out (If, Loop, Scan, the sequence operators) with what each
// becomes.
const std::vector<decompose::OpSummary>& controlFlowOps();

// Decomposes a specialized graph into one Program: every node's lowering, tensors named after
// their values, the graph inputs that are not constants as inputs, and a copy for any output no
// primitive writes (a constant or an input passed through). Lowerings the graph alone holds are
// moved into the program (pass the graph as an rvalue when it is not needed after: a plan made
// at run time), shared ones copied.
Result<std::shared_ptr<Program>> lowerToProgram(Graph specialized);

// specialize() then lowerToProgram() in one pass, the form plans made at run time take: each
// node's lowering goes into the program as it is made, so no specialized copy of the nodes is
// kept. *specialized receives the specialized graph's values (their names moved into the
// program), inputs and outputs; no nodes.
Result<std::shared_ptr<Program>> specializeToProgram(const Graph& source,
                                                     const Specialization& spec, Wanted* wanted,
                                                     Graph* specialized);

// Runs a lowering on the reference backend; `inputs` holds the bytes of every node input (null
// for absent ones). Folds constant subgraphs here and in the compiler (tessel-fold-constants).
Result<std::vector<Bytes>> evaluateLowering(const decompose::Lowering& lowering,
                                            const std::vector<const void*>& inputs);

// Whether folding work whose outputs hold `outElements` elements, computed from constants of
// `inElements` elements, belongs in the artifact: at most 2^24 elements, and no more than the
// constants it reads or 2^16. Folding shrinks or keeps what the artifact stores (shape
// arithmetic, batch-norm affines, reversed weights); a generator (ConstantOfShape, an Expand or
// Tile of a constant) stays an operation, so a tiny file cannot make a huge artifact.
bool worthFolding(int64_t outElements, int64_t inElements);

} // namespace tessel::graph
