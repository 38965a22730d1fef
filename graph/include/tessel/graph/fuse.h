// Post-op fusion of a Program made at run time (graph/src/fuse.cpp): the compiler's
// tessel-fuse-elementwise pass without MLIR, by the same rules (tessel/core/fusion_rules.h).
#pragma once

#include "tessel/graph/graph.h"
#include "tessel/runtime/program.h"

namespace tessel::graph {

// Hardswish spelled out becomes one unary; then each conv2d and matmul takes into its post-op
// list the unaries and the binaries (with a scalar, per-channel or same-shaped operand ready
// before it) that alone read its result, one after another. Primitives left unused are dropped.
// Then a conv2d's leading post-ops that scale or shift by constants fold into its weights and
// bias (new constants, kept alive by `keep`: the program's storage).
void fusePostOps(Program& prog, std::vector<Bytes>* keep);

} // namespace tessel::graph
