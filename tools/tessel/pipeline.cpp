#include "pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir_importer.h"
#include "tessel/graph/artifact.h"
#include "tessel/graph/simplify.h"
#include "tessel/ir/Passes.h"
#include "tessel/runtime/artifact.h"

#include <algorithm>

namespace tessel::cli {

Result<std::vector<uint8_t>> convertOnnxFile(const std::string& path,
                                             const ConvertOptions& options) {
  TESSEL_ASSIGN_OR_RETURN(frontend::OnnxModel model, frontend::readOnnxModel(path));
  // Inputs with dims no --shape pins: the shapes are known only at run time.
  // (Sequences and optionals among the inputs or outputs: their lengths too.)
  bool symbolic = false;
  for (const frontend::OnnxValueInfo& v : model.outputInfo)
    symbolic = symbolic || v.kind != 0;
  for (const frontend::OnnxValueInfo& in : model.inputs)
    symbolic = symbolic || in.kind != 0;
  for (const frontend::OnnxValueInfo& in : model.inputs)
    if (!options.shapes.count(in.name))
      symbolic = symbolic || !in.hasShape ||
                 std::any_of(in.dims.begin(), in.dims.end(), [](int64_t d) { return d < 0; });
  graph::Wanted wanted;
  auto imported = symbolic ? Result<frontend::ImportedGraph>(unsupported("symbolic input dims"))
                           : frontend::importGraph(model, options.shapes, &wanted);
  if (!imported.isOk()) {
    if (!symbolic && !wanted.any()) return imported.status();
    // The plan depends on input shapes or on the value of an input (axes, a shape, bounds fed
    // as inputs): the artifact carries the graph, and plans at run time
    // (docs/dynamic-shapes.md). Given shapes are pinned in it; the rest is checked at run time.
    TESSEL_ASSIGN_OR_RETURN(graph::Graph source, frontend::sourceGraph(model));
    for (int32_t v : source.inputs)
      if (auto it = options.shapes.find(source.values[v].name); it != options.shapes.end()) {
        source.values[v].desc.shape = it->second;
        source.values[v].anyRank = false;
      }
    simplifyGraph(source); // shape-independent rewrites, once here instead of in every plan
    return graph::writeGraphArtifact(source, "tessel-convert");
  }
  frontend::ImportedGraph graph = std::move(*imported);
  mlir::MLIRContext ctx;
  ctx.disableMultithreading();
  std::string firstError;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic& d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error && firstError.empty())
      firstError = d.str();
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module = frontend::importToMlir(ctx, graph);
  if (options.dumpMlirAfter == "import") (*module)->print(llvm::errs());
  if (mlir::failed(mlir::verify(*module)))
    return internalError("imported module does not verify: " + firstError);
  mlir::PassManager pm(&ctx);
  ir::buildLoweringPipeline(pm);
  if (mlir::failed(pm.run(*module)))
    return unsupported(firstError.empty() ? "lowering failed" : firstError);
  if (options.dumpMlirAfter == "lower") (*module)->print(llvm::errs());
  ir::PlanOptions plan; // what the tessel-search pass does, with its options
  plan.backends = options.backends;
  plan.costModel = options.costModel;
  plan.target = options.target;
  plan.threads = options.threads;
  plan.profile = options.profile;
  plan.weightBudget = options.weightBudget;
  plan.memoryBudget = options.memoryBudget;
  TESSEL_RETURN_IF_ERROR(ir::planModule(*module, plan));
  return ir::emitArtifact(*module);
}

Result<std::shared_ptr<const Program>> loadModel(const std::string& path,
                                                 const ConvertOptions& options) {
  if (!path.ends_with(".onnx")) return loadArtifactFile(path); // its shapes are fixed
  TESSEL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, convertOnnxFile(path, options));
  return loadArtifact(std::move(bytes));
}

} // namespace tessel::cli
