// ProgramBuilder: one runtime Program from lowered nodes, in order. lowerToProgram() feeds it a
// specialized graph's nodes; specialize() feeds it each node as it lowers when a plan is made at
// run time (specializeToProgram), so that no specialized copy of the nodes is kept in between.
#pragma once

#include "tessel/graph/graph.h"

#include <memory>
#include <vector>

namespace tessel::graph {

class ProgramBuilder {
public:
  // g: the graph whose values the nodes read and write; it may grow while nodes are added, and
  // finish() is given it again (it may have moved in between).
  explicit ProgramBuilder(const Graph& g);
  // The graph's inputs that are not constants, as the program's inputs in order.
  void addInputs();
  // A node's lowering: its tensors become program tensors (its inputs and outputs the graph
  // values `inputs` and `outputs` name), its primitives appended. Moved from when `owned`.
  Status addNode(decompose::Lowering& low, bool owned, const std::vector<int32_t>& inputs,
                 const std::vector<int32_t>& outputs, const std::string& name);
  // Copies for outputs no primitive writes, post-op fusion, validation. Tensors named after
  // their values (the names moved out of g when `takeNames`).
  Result<std::shared_ptr<Program>> finish(Graph& g, bool takeNames);

private:
  int32_t add(ProgramTensor t);
  int32_t valueTensor(int32_t v);

  const Graph* g_;
  std::shared_ptr<Program> prog_ = std::make_shared<Program>();
  std::shared_ptr<std::vector<Bytes>> keep_ = std::make_shared<std::vector<Bytes>>();
  std::vector<int32_t> tensorOf_; // per graph value: its program tensor, -1 until used
  std::vector<bool> written_;     // per graph value: a primitive writes it
  std::vector<int32_t> ids_;      // per node: lowering tensor -> program tensor
};

} // namespace tessel::graph
