// tessel-decompose: high-level ops -> primitives through the rules in decompose/.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/DialectConversion.h"
#include "tessel/decompose/lowering.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

#include <deque>

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELDECOMPOSE
#include "tessel/ir/Passes.h.inc"

namespace {

constexpr llvm::StringLiteral kOnnxPrefix = "tessel.onnx.";

Result<decompose::AttrValue> attrValue(mlir::Attribute a) {
  if (auto i = a.dyn_cast<mlir::IntegerAttr>()) return decompose::AttrValue(i.getInt());
  if (auto f = a.dyn_cast<mlir::FloatAttr>()) return decompose::AttrValue(f.getValueAsDouble());
  if (auto s = a.dyn_cast<mlir::StringAttr>()) return decompose::AttrValue(s.str());
  if (auto v = a.dyn_cast<mlir::DenseI64ArrayAttr>())
    return decompose::AttrValue(std::vector<int64_t>(v.asArrayRef().begin(), v.asArrayRef().end()));
  if (auto v = a.dyn_cast<mlir::DenseF64ArrayAttr>())
    return decompose::AttrValue(std::vector<double>(v.asArrayRef().begin(), v.asArrayRef().end()));
  return unsupported("attribute kind");
}

std::string nodeName(mlir::Location loc) {
  if (auto name = loc.dyn_cast<mlir::NameLoc>()) return name.getName().str();
  return "";
}

int moduleOpset(mlir::Operation* op) {
  auto module = op->getParentOfType<mlir::ModuleOp>();
  if (module)
    if (auto a = module->getAttrOfType<mlir::IntegerAttr>("tessel.onnx_opset"))
      return static_cast<int>(a.getInt());
  return 13;
}

// The rules' view of a high-level op: its type, name, attributes and operand descriptions, with
// the bytes of constant operands (`storage` keeps expanded splats alive).
Result<decompose::Node> nodeOf(mlir::Operation* op, llvm::ArrayRef<mlir::Value> operands,
                               std::deque<std::vector<uint8_t>>* storage) {
  decompose::Node node;
  node.opType = op->getName().getStringRef().drop_front(kOnnxPrefix.size()).str();
  node.name = nodeName(op->getLoc());
  node.opset = moduleOpset(op);
  node.numOutputs = static_cast<int>(op->getNumResults());
  for (const mlir::NamedAttribute& a : op->getAttrs()) {
    auto v = attrValue(a.getValue());
    if (!v.isOk())
      return unsupported(node.label() + ": attribute '" + a.getName().str() +
                         "' has an unsupported kind");
    node.attrs[a.getName().str()] = *v;
  }
  for (mlir::Value v : operands) {
    decompose::NodeInput in;
    if (!v.getType().isa<mlir::NoneType>()) {
      auto desc = fromMlirType(v.getType());
      if (!desc.isOk()) return desc.status().withContext(node.label());
      in.present = true;
      in.desc = *desc;
      if (auto c = v.getDefiningOp<ConstantOp>()) {
        auto bytes = constantData(c, &storage->emplace_back());
        if (bytes.isOk()) in.constant = *bytes;
      }
    }
    node.inputs.push_back(in);
  }
  return node;
}

// Creates the lowering's constants and primitives; returns the values of the node's outputs.
llvm::SmallVector<mlir::Value> materialize(const decompose::Lowering& low,
                                           llvm::ArrayRef<mlir::Value> operands, mlir::Location loc,
                                           mlir::OpBuilder& b) {
  std::vector<mlir::Value> ids(low.tensors.size());
  std::copy(operands.begin(), operands.end(), ids.begin());
  mlir::MLIRContext* ctx = b.getContext();
  for (const auto& [id, bytes] : low.constants) {
    auto type = toMlirType(ctx, low.tensors[id]).cast<mlir::RankedTensorType>();
    ids[id] = b.create<ConstantOp>(loc, makeDenseAttr(type, bytes.data()));
  }
  for (const Primitive& p : low.primitives) {
    llvm::SmallVector<mlir::Value> ins;
    for (int32_t id : p.inputs)
      ins.push_back(ids[id]);
    const int32_t out = p.outputs[0];
    ids[out] = buildPrimitiveOp(b, loc, p, ins, toMlirType(ctx, low.tensors[out]))->getResult(0);
  }
  return {ids.begin() + low.numInputs, ids.begin() + low.numInputs + low.numOutputs};
}

struct DecomposeHighLevelOp : public mlir::ConversionPattern {
  explicit DecomposeHighLevelOp(mlir::MLIRContext* ctx)
      : ConversionPattern(mlir::Pattern::MatchAnyOpTypeTag(), 1, ctx) {}

  mlir::LogicalResult matchAndRewrite(mlir::Operation* op, llvm::ArrayRef<mlir::Value> operands,
                                      mlir::ConversionPatternRewriter& rewriter) const override {
    if (!op->getName().getStringRef().startswith(kOnnxPrefix)) return mlir::failure();
    std::deque<std::vector<uint8_t>> storage;
    auto node = nodeOf(op, operands, &storage);
    if (!node.isOk()) return op->emitError() << node.status().message();
    auto lowered = decompose::lower(*node);
    if (!lowered.isOk()) return op->emitError() << lowered.status().message();
    llvm::SmallVector<mlir::Value> results =
        materialize(*lowered, operands, op->getLoc(), rewriter);
    for (unsigned i = 0; i < op->getNumResults(); ++i)
      if (!results[i] || results[i].getType() != op->getResult(i).getType())
        return op->emitError() << node->label() << ": decomposition gives "
                               << (results[i] ? results[i].getType() : mlir::Type())
                               << " for output " << i << ", the op declares "
                               << op->getResult(i).getType();
    rewriter.replaceOp(op, results);
    return mlir::success();
  }
};

struct TesselDecompose : impl::TesselDecomposeBase<TesselDecompose> {
  void runOnOperation() override {
    mlir::MLIRContext* ctx = &getContext();
    mlir::ConversionTarget target(*ctx);
    target.addLegalDialect<TesselDialect>();
    target.addLegalDialect<mlir::func::FuncDialect>();
#define TESSEL_ONNX_OP(op, rule, summary) target.addIllegalOp<Onnx##op##Op>();
#include "tessel/decompose/onnx_ops.def"
#undef TESSEL_ONNX_OP
    mlir::RewritePatternSet patterns(ctx);
    patterns.add<DecomposeHighLevelOp>(ctx);
    if (mlir::failed(mlir::applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace tessel::ir
