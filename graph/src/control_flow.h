// Control flow (If, Loop, Scan) and sequences laid out as plain nodes when a plan is made
// (control_flow.cpp).
#pragma once

#include "tessel/graph/graph.h"

#include <map>

namespace tessel::graph {

// Sequences and optionals while a graph is specialized: each such value's elements (tensor value
// ids), `optional` for an optional tensor (none or one; an optional holding a sequence is that
// sequence). They exist only while a plan is made: every sequence operator becomes its elements'
// bookkeeping, or plain nodes (a Split, a Concat, an Identity).
struct List {
  std::vector<int32_t> items;
  bool optional = false;
};
using Sequences = std::map<int32_t, List>;

// Whether specialize() lays out nodes of this operator instead of decomposing them; and whether
// the node is replaced by what it lays out (control flow) or stays in the expanded graph with its
// laid-out nodes hidden (sequence operators, whose outputs are bookkeeping).
bool laidOut(const std::string& opType);
bool replacedByLayout(const std::string& opType);

// The nodes that replace control-flow node n, appended to *out in order (a Loop's last one may be
// the Loop again, for the iterations after the one laid out). New values are added to both g
// (the graph being specialized) and *expanded (the source as laid out), at the same ids. A value
// it needs but that is not known yet is asked for as rules ask (n.node.missingValues) and the
// error returned.
Status layOutControlFlow(const Node& n, Graph* g, Graph* expanded, Sequences* sequences,
                         std::vector<Node>* out);

} // namespace tessel::graph
