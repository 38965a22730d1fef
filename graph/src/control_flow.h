// Control flow (If, Loop, Scan) and sequences laid out as plain nodes when a plan is made
// (control_flow.cpp).
#pragma once

#include "tessel/graph/graph.h"

#include <map>

namespace tessel::graph {

// Sequences while a graph is specialized: each sequence value's elements (tensor value ids).
// Sequences exist only while a plan is made: every sequence operator becomes its elements'
// bookkeeping, or plain nodes (a Split, a Concat, an Identity).
using Sequences = std::map<int32_t, std::vector<int32_t>>;

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
