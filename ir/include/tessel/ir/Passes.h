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

// How tessel-search plans (its options).
struct PlanOptions {
  std::vector<std::string> backends; // in order of preference; empty: every one of the target's
  bool costModel = false;            // search::planModel's whole-graph plan instead of first fit
  std::string target = "host";       // or a named target (BackendRegistry::target)
  int threads = 1;
  std::string profile;      // a profile cache: its kernels' fits calibrate the estimates
  int64_t weightBudget = 0; // with costModel: the bytes of weights the kernels may keep (0: any)
  int64_t memoryBudget = 0; // with costModel: the bytes of weights plus arenas (0: any)
};

// tessel-search's work: plans @main's primitives and writes the plan as attributes.
Status planModule(mlir::ModuleOp module, const PlanOptions& options);

// Serializes @main (primitives only) into artifact bytes, with tessel-search's plan where the
// module carries one, else first fit over `backends` (empty: every built-in backend).
Result<std::vector<uint8_t>> emitArtifact(mlir::ModuleOp module,
                                          const std::vector<std::string>& backends = {});

} // namespace tessel::ir
