// tessel-emit: @main's primitives -> .tsl artifact bytes.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/backend.h"
#include "tessel/search/assign.h"
#include "tessel/search/plan_model.h"

#include "llvm/ADT/StringExtras.h"

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
    if (search != "off" && search != "model") {
      getOperation().emitError("tessel-emit: search expects off or model, got '" + search + "'");
      return signalPassFailure();
    }
    auto bytes = emitArtifact(getOperation(), list, search == "model");
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

// The plan, through the same planners the runtime uses: each primitive goes to the first listed
// backend (all built-in ones, in priority order, when the list is empty) that supports it; or,
// with costModel, the cheapest whole plan over the listed backends' kernels (search::planModel).
Status planBackends(Program& prog, const std::vector<std::string>& backends, bool costModel) {
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  search::AssignRequest request;
  for (const std::string& name : backends) {
    Backend* b = registry.find(name);
    if (!b) return invalidArgument("no backend named '" + name + "'");
    request.descriptors.push_back(&b->descriptor());
  }
  if (request.descriptors.empty()) request.descriptors = registry.descriptors();
  const std::vector<TensorDesc> descs = prog.descs();
  request.primitives = prog.primitives;
  request.tensors = &descs;
  Result<search::Assignment> assigned = search::Assignment{};
  if (costModel) {
    search::ModelPlanRequest model;
    model.primitives = prog.primitives;
    model.tensors = &descs;
    model.descriptors = request.descriptors;
    model.inputs = prog.inputs;
    model.outputs = prog.outputs;
    for (const ProgramTensor& t : prog.tensors)
      model.constant.push_back(t.data != nullptr);
    auto plan = search::planModel(model);
    assigned = plan.isOk() ? Result<search::Assignment>(std::move(plan->assignment))
                           : Result<search::Assignment>(plan.status());
  } else {
    assigned = search::assignBackends(request);
  }
  if (!assigned.isOk())
    return assigned.status().withContext(
        "with backends " + (backends.empty() ? std::string("(all)") : llvm::join(backends, ",")));
  prog.backends.clear();
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    const int b = assigned->backend[i];
    prog.backends.push_back(b == search::kNoBackend ? std::string()
                                                    : std::string(request.descriptors[b]->name()));
  }
  prog.kernels = assigned->kernel;
  return Status::ok();
}

Result<std::vector<uint8_t>>
emitArtifact(mlir::ModuleOp module, const std::vector<std::string>& backends, bool costModel) {
  auto func = module.lookupSymbol<mlir::func::FuncOp>("main");
  if (!func) return invalidArgument("module has no @main function");
  Program prog;
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
  }
  prog.storage = storage;
  TESSEL_RETURN_IF_ERROR(validateProgram(prog));
  TESSEL_RETURN_IF_ERROR(planBackends(prog, backends, costModel));
  return writeArtifact(prog, "tessel-convert");
}

} // namespace tessel::ir
