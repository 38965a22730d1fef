// The tessel passes (one per file in ir/lib) and the pipeline `tessel convert` runs.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "tessel/core/status.h"

#include <memory>
#include <string>
#include <vector>

namespace tessel::ir {

#define GEN_PASS_DECL
#include "tessel/ir/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "tessel/ir/Passes.h.inc"

// decompose, canonicalize, fold constants, fuse rasters, fuse activations, canonicalize
// (drops dead ops).
void buildLoweringPipeline(mlir::OpPassManager& pm);

// Serializes @main (primitives only) into artifact bytes.
// `backends`: the plan's candidates in order of preference (empty: every built-in backend);
// `costModel`: the plan from search::planModel (at one thread) instead of first fit.
Result<std::vector<uint8_t>> emitArtifact(mlir::ModuleOp module,
                                          const std::vector<std::string>& backends,
                                          bool costModel = false);

} // namespace tessel::ir
