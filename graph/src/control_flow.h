// Control flow (If, Loop, Scan) laid out as plain nodes when a plan is made (control_flow.cpp).
#pragma once

#include "tessel/graph/graph.h"

namespace tessel::graph {

// The nodes that replace control-flow node n, appended to *out in order (a Loop's last one may be
// the Loop again, for the iterations after the one laid out). New values are added to both g
// (the graph being specialized) and *expanded (the source as laid out), at the same ids. A value
// it needs but that is not known yet is asked for as rules ask (n.node.missingValues) and the
// error returned.
Status layOutControlFlow(const Node& n, Graph* g, Graph* expanded, std::vector<Node>* out);

} // namespace tessel::graph
