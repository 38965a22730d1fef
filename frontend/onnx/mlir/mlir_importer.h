// ImportedGraph -> tessel dialect: one @main function of high-level ops.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "tessel/frontend/graph.h"

namespace tessel::frontend {

mlir::OwningOpRef<mlir::ModuleOp> importToMlir(mlir::MLIRContext& ctx, const ImportedGraph& graph);

} // namespace tessel::frontend
