#include "mlir_importer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "tessel/ir/PrimitiveConversion.h"

namespace tessel::frontend {
namespace {

mlir::Attribute toAttr(mlir::OpBuilder& b, const decompose::AttrValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return b.getI64IntegerAttr(*i);
  if (auto* f = std::get_if<double>(&v)) return b.getF64FloatAttr(*f);
  if (auto* s = std::get_if<std::string>(&v)) return b.getStringAttr(*s);
  if (auto* is = std::get_if<std::vector<int64_t>>(&v)) return b.getDenseI64ArrayAttr(*is);
  return mlir::DenseF64ArrayAttr::get(b.getContext(), *std::get_if<std::vector<double>>(&v));
}

} // namespace

mlir::OwningOpRef<mlir::ModuleOp> importToMlir(mlir::MLIRContext& ctx, const ImportedGraph& g) {
  ctx.loadDialect<ir::TesselDialect, mlir::func::FuncDialect>();
  mlir::OpBuilder b(&ctx);
  mlir::Location loc = b.getUnknownLoc();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
  (*module)->setAttr("tessel.onnx_opset", b.getI64IntegerAttr(g.opset));
  auto typeOf = [&](int32_t id) { return ir::toMlirType(&ctx, g.values[id].desc); };
  llvm::SmallVector<mlir::Type> ins, outs;
  for (int32_t id : g.inputs)
    ins.push_back(typeOf(id));
  for (int32_t id : g.outputs)
    outs.push_back(typeOf(id));
  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<mlir::func::FuncOp>(loc, "main", b.getFunctionType(ins, outs));
  for (size_t i = 0; i < g.inputs.size(); ++i)
    func.setArgAttr(i, "tessel.name", b.getStringAttr(g.values[g.inputs[i]].name));
  for (size_t i = 0; i < g.outputs.size(); ++i)
    func.setResultAttr(i, "tessel.name", b.getStringAttr(g.values[g.outputs[i]].name));
  mlir::Block* entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  std::vector<mlir::Value> values(g.values.size());
  for (size_t i = 0; i < g.inputs.size(); ++i)
    values[g.inputs[i]] = entry->getArgument(i);
  mlir::Value absent;
  auto valueOf = [&](int32_t id) -> mlir::Value {
    if (id < 0) {
      if (!absent) absent = b.create<ir::AbsentOp>(loc, b.getNoneType());
      return absent;
    }
    if (!values[id]) {
      const GraphValue& v = g.values[id];
      auto type = typeOf(id).cast<mlir::RankedTensorType>();
      values[id] = b.create<ir::ConstantOp>(mlir::NameLoc::get(b.getStringAttr(v.name)),
                                            ir::makeDenseAttr(type, v.constant->data()));
    }
    return values[id];
  };
  for (const GraphNode& n : g.nodes) {
    mlir::OperationState state(mlir::NameLoc::get(b.getStringAttr(n.node.name)),
                               "tessel.onnx." + n.node.opType);
    for (int32_t id : n.inputs)
      state.addOperands(valueOf(id));
    for (int32_t id : n.outputs)
      state.addTypes(typeOf(id));
    for (const auto& [key, v] : n.node.attrs)
      state.addAttribute(key, toAttr(b, v));
    mlir::Operation* op = b.create(state);
    for (size_t i = 0; i < n.outputs.size(); ++i)
      values[n.outputs[i]] = op->getResult(i);
  }
  llvm::SmallVector<mlir::Value> results;
  for (int32_t id : g.outputs)
    results.push_back(valueOf(id));
  b.create<mlir::func::ReturnOp>(loc, results);
  return module;
}

} // namespace tessel::frontend
