// Rewrites of a source graph that hold for every input shape, applied once where a model that
// plans at run time is converted, so that each new input shape has fewer nodes to infer,
// decompose and fuse (docs/dynamic-shapes.md, "Planning time"). The plan-time fusion
// (fusePostOps) still applies to whatever these leave; they only move shape-independent work
// out of every plan.
#pragma once

#include "tessel/graph/graph.h"

namespace tessel::graph {

// - A Conv with constant f32 weights (and bias) whose only reader is a Mul or an Add by an f32
//   constant holding one value, or one per output channel (shape [..., O, 1, ...] aligned on
//   the channel axis, of no higher rank than the output), takes it into its weights and bias
//   and writes the Mul's or Add's output; repeated while it applies (a scale, then a shift).
// - x * Clip(x + 3, 0, 6) / 6 and x * HardSigmoid(x) (alpha 1/6, beta 1/2), with scalar
//   constants and no other reader of the steps between, become HardSwish(x).
// Values no node or graph list refers to any more are dropped. Subgraphs are left as they are.
// Returns the number of nodes removed.
size_t simplifyGraph(Graph& g);

} // namespace tessel::graph
