// Graph-level assignment: given, for every node of a graph in topological order, its candidate
// kernels (each with the state it needs each input in, the state it leaves its output in, and
// its time), the choice of one candidate per node that minimizes the kernels' time plus the
// conversions between states (a transfer between memory spaces, a layout change) that the
// choices imply. Backend-neutral: the caller defines what a state is (a memory space and a
// layout, as small ids), what each candidate costs and what each conversion costs; plan_model.h
// builds the problem from a program and its backends' descriptors.
//
// Cost of a choice: the chosen candidates' seconds, plus for each tensor and each distinct state
// its readers need other than the one it is made in (written by its node, or given for a tensor
// no node writes: graph inputs, constants), one conversion from that state. A conversion made
// for one reader serves every later reader wanting the same state (the runtime keeps the copy),
// and a graph output must end in its final state.
#pragma once

#include "tessel/core/status.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace tessel::search {

using StateId = uint8_t;
inline constexpr int kMaxStates = 16; // state ids 0..15

struct PlanCandidate {
  std::vector<StateId> inputs; // the state each of the node's inputs must be read in
  StateId output = 0;          // the state the node writes its output in
  double seconds = 0;          // the kernel's time
};

struct PlanNode {
  std::vector<int32_t> inputs; // tensor ids (one may appear twice)
  int32_t output = -1;
  std::vector<PlanCandidate> candidates; // at least one
};

struct PlanProblem {
  int32_t tensorCount = 0;
  std::vector<PlanNode> nodes; // in topological order
  // Per tensor: the state of a tensor no node writes (graph inputs, constants); -1 for the ones
  // a node writes.
  std::vector<int> initialState;
  // Per tensor: the state a graph output must end in; -1 for the rest.
  std::vector<int> finalState;
  // Seconds to make tensor t's copy in state `to` from its state `from` (from != to).
  std::function<double(int32_t t, StateId from, StateId to)> convert;
};

struct PlanResult {
  std::vector<int> choice; // per node: the index of its candidate
  double seconds = 0;      // kernels plus conversions
  // False when the search kept only the cheapest partial plans at some node (more than
  // maxPartialPlans of them: many tensors alive at once in many states); the plan is then the
  // best found, not proven the best.
  bool exact = true;
  int64_t partialPlans = 0; // partial plans weighed, over all nodes
};

// The cost of `choice` (one candidate index per node), as described above.
double planCost(const PlanProblem& problem, const std::vector<int>& choice);

// The cheapest choice by dynamic programming over the nodes in order. A partial plan is the
// choices so far; two partial plans are interchangeable once the tensors still to be read are in
// the same states with the same copies made, so only the cheaper is kept. Exact unless more than
// maxPartialPlans distinct ones are alive after a node (then the cheapest of them go on). Fails
// on a malformed problem (a tensor read before it is written, a node without candidates, a
// candidate whose input states do not match its node's inputs, a state id past kMaxStates).
Result<PlanResult> solvePlan(const PlanProblem& problem, size_t maxPartialPlans = 1 << 16);

// Every combination of candidates, the cheapest (the first among equals in lexicographic order
// of choices): the test oracle for small graphs.
PlanResult bruteForcePlan(const PlanProblem& problem);

} // namespace tessel::search
