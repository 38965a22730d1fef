// @main as a runtime Program, shared by tessel-search (which plans it) and tessel-emit (which
// writes it).
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "tessel/ir/Passes.h"
#include "tessel/runtime/program.h"

#include <vector>

namespace tessel::ir {

// tessel-search's plan: per primitive op, its backend ("" for a view) and kernel (id, then
// parameters), its result's layout where the plan blocks it (layoutName: "nchwc16"), and
// whether it runs fused with the next primitive op; on the module, the target (name, channel
// block, threads, cost model version).
inline constexpr llvm::StringLiteral kBackendAttr = "tessel.backend";
inline constexpr llvm::StringLiteral kKernelAttr = "tessel.kernel";
inline constexpr llvm::StringLiteral kLayoutAttr = "tessel.layout";
inline constexpr llvm::StringLiteral kFusedAttr = "tessel.fused";
inline constexpr llvm::StringLiteral kTargetAttr = "tessel.target";

// TargetInfo::costModelVersion of a plan by the cost model (0: first fit); from
// kGraphPlanVersion on, the plan's layouts and fused chains are the artifact's too.
inline constexpr uint32_t kCostModelVersion = kGraphPlanVersion;

struct ModuleProgram {
  Program program;                   // validated; constants point into the module's storage
  std::vector<mlir::Operation*> ops; // per primitive, its op
};

Result<ModuleProgram> programOf(mlir::ModuleOp module);

// The plan (program.backends, kernels, target) as PlanOptions say.
Status planProgram(Program& program, const PlanOptions& options);

} // namespace tessel::ir
