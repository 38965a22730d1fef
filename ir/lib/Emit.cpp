// tessel-emit: @main's primitives -> .tsl artifact bytes.
#include "ModuleProgram.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/backend.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <deque>
#include <fstream>

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELEMIT
#include "tessel/ir/Passes.h.inc"

namespace {

std::string nameAttr(mlir::DictionaryAttr attrs, const std::string& fallback) {
  if (attrs)
    if (auto s = attrs.getAs<mlir::StringAttr>("tessel.name")) return s.str();
  return fallback;
}

struct TesselEmit : impl::TesselEmitBase<TesselEmit> {
  using Base::Base;
  void runOnOperation() override {
    if (outputPath.empty()) {
      getOperation().emitError("tessel-emit needs output=<file>");
      return signalPassFailure();
    }
    llvm::SmallVector<llvm::StringRef> names;
    llvm::SplitString(backend, names, ",");
    std::vector<std::string> list(names.begin(), names.end());
    auto bytes = emitArtifact(getOperation(), list);
    if (!bytes.isOk()) {
      getOperation().emitError(bytes.status().message());
      return signalPassFailure();
    }
    std::ofstream f(outputPath, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes->data()),
            static_cast<std::streamsize>(bytes->size()));
    if (!f) {
      getOperation().emitError("cannot write '" + outputPath + "'");
      signalPassFailure();
    }
  }
};

} // namespace

Result<ModuleProgram> programOf(mlir::ModuleOp module) {
  auto func = module.lookupSymbol<mlir::func::FuncOp>("main");
  if (!func) return invalidArgument("module has no @main function");
  ModuleProgram mp;
  Program& prog = mp.program;
  auto storage = std::make_shared<std::deque<std::vector<uint8_t>>>();
  llvm::DenseMap<mlir::Value, int32_t> ids;
  auto addTensor = [&](mlir::Value v, std::string name) -> Result<int32_t> {
    TESSEL_ASSIGN_OR_RETURN(TensorDesc desc, fromMlirType(v.getType()));
    prog.tensors.push_back({std::move(name), desc, nullptr});
    const auto id = static_cast<int32_t>(prog.tensors.size() - 1);
    ids[v] = id;
    return id;
  };
  mlir::Block& body = func.getBody().front();
  for (unsigned i = 0; i < body.getNumArguments(); ++i) {
    TESSEL_ASSIGN_OR_RETURN(
        int32_t id, addTensor(body.getArgument(i),
                              nameAttr(func.getArgAttrDict(i), "input" + std::to_string(i))));
    prog.inputs.push_back(id);
  }
  for (mlir::Operation& op : body) {
    if (auto c = llvm::dyn_cast<ConstantOp>(op)) {
      if (c->use_empty()) continue;
      TESSEL_ASSIGN_OR_RETURN(const void* data, constantData(c, &storage->emplace_back()));
      TESSEL_ASSIGN_OR_RETURN(
          int32_t id, addTensor(c.getResult(), "const" + std::to_string(prog.tensors.size())));
      prog.tensors[id].data = data;
      continue;
    }
    if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
      for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
        const int32_t id = ids.lookup(ret.getOperand(i));
        prog.tensors[id].name = nameAttr(func.getResultAttrDict(i), "output" + std::to_string(i));
        prog.outputs.push_back(id);
      }
      continue;
    }
    if (llvm::isa<AbsentOp>(op) && op.use_empty()) continue;
    if (!isPrimitiveOp(&op))
      return unsupported("'" + op.getName().getStringRef().str() +
                         "' is not a primitive: run tessel-decompose before emitting");
    TESSEL_ASSIGN_OR_RETURN(Primitive p, primitiveFromOp(&op));
    for (unsigned i = 0; i < op.getNumOperands(); ++i) {
      auto it = ids.find(op.getOperand(i));
      if (it == ids.end()) return internalError("operand defined outside @main's body");
      p.inputs[i] = it->second;
    }
    TESSEL_ASSIGN_OR_RETURN(int32_t out,
                            addTensor(op.getResult(0), "t" + std::to_string(prog.tensors.size())));
    p.outputs = {out};
    prog.primitives.push_back(std::move(p));
    mp.ops.push_back(&op);
  }
  prog.storage = storage;
  TESSEL_RETURN_IF_ERROR(validateProgram(prog));
  return mp;
}

Result<std::vector<uint8_t>> emitArtifact(mlir::ModuleOp module,
                                          const std::vector<std::string>& backends) {
  TESSEL_ASSIGN_OR_RETURN(ModuleProgram mp, programOf(module));
  Program& prog = mp.program;
  // tessel-search's plan where it ran (every primitive then carries one), else first fit.
  size_t planned = 0;
  for (mlir::Operation* op : mp.ops)
    planned += op->hasAttr(kBackendAttr) || op->hasAttr(kKernelAttr);
  if (planned > 0 && planned < mp.ops.size())
    return invalidArgument("the plan covers " + std::to_string(planned) + " of " +
                           std::to_string(mp.ops.size()) +
                           " primitives: run tessel-search after the last pass that adds one");
  if (planned == 0) {
    PlanOptions first;
    first.backends = backends;
    TESSEL_RETURN_IF_ERROR(planProgram(prog, first));
  } else {
    for (mlir::Operation* op : mp.ops) {
      auto backend = op->getAttrOfType<mlir::StringAttr>(kBackendAttr);
      auto kernel = op->getAttrOfType<mlir::DenseI64ArrayAttr>(kKernelAttr);
      if (!backend || !kernel || kernel.empty() || kernel[0] < 0 || kernel[0] > UINT32_MAX)
        return invalidArgument("'" + op->getName().getStringRef().str() +
                               "': a malformed plan (tessel.backend, a string; tessel.kernel, "
                               "the kernel id and its parameters)");
      prog.backends.push_back(backend.str());
      KernelChoice choice{static_cast<uint32_t>(kernel[0]), {}};
      const llvm::ArrayRef<int64_t> values = kernel.asArrayRef();
      choice.params.assign(values.begin() + 1, values.end());
      prog.kernels.push_back(std::move(choice));
      prog.fused.push_back(op->hasAttr(kFusedAttr) ? 1 : 0);
      if (auto layout = op->getAttrOfType<mlir::StringAttr>(kLayoutAttr)) {
        TensorDesc& out = prog.tensors[prog.primitives[prog.fused.size() - 1].outputs[0]].desc;
        const Layout blocked[] = {Layout::NCHWc8, Layout::NCHWc16};
        auto it = std::find_if(std::begin(blocked), std::end(blocked),
                               [&](Layout l) { return layoutName(l) == layout.getValue().str(); });
        if (it == std::end(blocked) || out.shape.size() != 4 || out.dtype != DType::F32)
          return invalidArgument("'" + op->getName().getStringRef().str() + "': layout '" +
                                 layout.str() + "' for a " + out.toString() +
                                 " result (tessel.layout: nchwc8 or nchwc16, on a 4-D f32 one)");
        out.layout = *it;
      }
    }
    if (!prog.fused.empty() && prog.fused.back())
      return invalidArgument("the last primitive is marked fused with a next one (tessel.fused)");
    if (auto target = module->getAttrOfType<mlir::DictionaryAttr>(kTargetAttr)) {
      if (auto name = target.getAs<mlir::StringAttr>("name")) prog.target.isa = name.str();
      if (auto threads = target.getAs<mlir::IntegerAttr>("threads"))
        prog.target.threads = static_cast<int32_t>(threads.getInt());
      if (auto block = target.getAs<mlir::IntegerAttr>("block"))
        prog.target.block = static_cast<int32_t>(block.getInt());
      if (auto version = target.getAs<mlir::IntegerAttr>("cost_model"))
        prog.target.costModelVersion = static_cast<uint32_t>(version.getInt());
    }
  }
  return writeArtifact(prog, "tessel-convert");
}

} // namespace tessel::ir
