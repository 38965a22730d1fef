// tessel-fuse-elementwise: elementwise work rides on the conv2d or matmul that produces its
// input. Hardswish spelled as x * clip(x + 3, 0, 6) / 6 (or x * hardsigmoid(x)) becomes one
// unary first; then a unary, or a binary whose other operand is a scalar, one value per channel
// or a tensor of the result's shape (a bias, a batch-norm affine, a residual), that alone
// consumes the producer's result becomes the last of its post-ops, repeatedly.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tessel/core/fusion_rules.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

#include "llvm/ADT/DenseSet.h"

#include <cmath>

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELFUSEELEMENTWISE
#include "tessel/ir/Passes.h.inc"

namespace {

std::optional<Primitive> primitiveOf(mlir::Operation* op) {
  if (!op || !isPrimitiveOp(op)) return std::nullopt;
  auto p = primitiveFromOp(op);
  if (!p.isOk()) return std::nullopt;
  return std::move(p).value();
}

bool isF32(mlir::Value v) {
  auto t = v.getType().dyn_cast<mlir::RankedTensorType>();
  return t && t.getElementType().isF32();
}

Shape shapeOf(mlir::Value v) {
  auto t = v.getType().cast<mlir::RankedTensorType>();
  return Shape(t.getShape().begin(), t.getShape().end());
}

// The scalar a binary operand holds when the binary reads it with all-zero strides from a
// constant.
std::optional<float> scalarConstant(mlir::Value v, const I64List& strides) {
  auto c = v.getDefiningOp<ConstantOp>();
  if (!c || !isF32(v) || !allZeroStrides(strides)) return std::nullopt;
  auto n = elementCount(shapeOf(v));
  if (!n.isOk() || *n == 0) return std::nullopt;
  std::vector<uint8_t> scratch;
  auto data = constantData(c, &scratch);
  if (!data.isOk()) return std::nullopt;
  return *static_cast<const float*>(*data);
}

// Whether `v` is a single-use scalar divide by 6 (or multiply by 1/6) of a dense value; that
// value.
mlir::Value sixthOf(mlir::Value v, const Shape& out) {
  mlir::Operation* d = v.getDefiningOp();
  auto dp = primitiveOf(d);
  if (!dp || dp->kind() != PrimitiveKind::Binary) return {};
  const auto& db = dp->as<BinaryParams>();
  auto k = scalarConstant(d->getOperand(1), db.rhsStrides);
  return k && dividesBySix(db.kind, *k) && stridesAreDense(db.lhsStrides, out) ? d->getOperand(0)
                                                                               : mlir::Value();
}

// Whether `v` is clip(x + 3, 0, 6) with single-use links.
bool isShiftedClip(mlir::Value v, mlir::Value x, const Shape& out) {
  mlir::Operation* c = v.getDefiningOp();
  auto cp = primitiveOf(c);
  if (!cp || !v.hasOneUse() || cp->kind() != PrimitiveKind::Unary) return false;
  if (!clipsZeroToSix(cp->as<UnaryParams>())) return false;
  mlir::Value shifted = c->getOperand(0);
  mlir::Operation* a = shifted.getDefiningOp();
  auto ap = primitiveOf(a);
  if (!ap || !shifted.hasOneUse() || ap->kind() != PrimitiveKind::Binary) return false;
  const auto& ab = ap->as<BinaryParams>();
  auto three = scalarConstant(a->getOperand(1), ab.rhsStrides);
  return three && addsThree(ab.kind, *three) && a->getOperand(0) == x &&
         stridesAreDense(ab.lhsStrides, out);
}

// The operands of a dense multiply of two same-shaped values, or none.
std::optional<std::pair<mlir::Value, mlir::Value>> denseProduct(mlir::Operation* op) {
  auto m = primitiveOf(op);
  if (!m || m->kind() != PrimitiveKind::Binary || !isF32(op->getResult(0))) return std::nullopt;
  const auto& mp = m->as<BinaryParams>();
  const Shape out = shapeOf(op->getResult(0));
  if (mp.kind != BinaryKind::Mul || !stridesAreDense(mp.lhsStrides, out) ||
      !stridesAreDense(mp.rhsStrides, out))
    return std::nullopt;
  return std::make_pair(op->getOperand(0), op->getOperand(1));
}

// The value x when `root` closes a hardswish chain: x * (clip(x + 3, 0, 6) / 6),
// (x * clip(x + 3, 0, 6)) / 6, or x * hardsigmoid(x) with slope 1/6 and offset 1/2.
mlir::Value hardswishInput(mlir::Operation* root) {
  if (!isPrimitiveOp(root) || !isF32(root->getResult(0))) return {};
  const Shape out = shapeOf(root->getResult(0));
  if (mlir::Value m = sixthOf(root->getResult(0), out); m && m.hasOneUse())
    if (auto xy = denseProduct(m.getDefiningOp()))
      for (auto [x, c] : {*xy, std::make_pair(xy->second, xy->first)})
        if (isShiftedClip(c, x, out)) return x;
  auto xy = denseProduct(root);
  if (!xy) return {};
  for (auto [x, other] : {*xy, std::make_pair(xy->second, xy->first)}) {
    if (!other.hasOneUse()) continue;
    if (mlir::Value c = sixthOf(other, out); c && isShiftedClip(c, x, out)) return x;
    auto hp = primitiveOf(other.getDefiningOp());
    if (hp && hp->kind() == PrimitiveKind::Unary && other.getDefiningOp()->getOperand(0) == x &&
        isHardSigmoidSixth(hp->as<UnaryParams>()))
      return x;
  }
  return {};
}

// Erases `op` and then every primitive it fed from that is left without users, so the value the
// chain started from is single-use again for the fusion that follows.
void eraseDeadChain(mlir::Operation* op, llvm::DenseSet<mlir::Operation*>* erased) {
  llvm::SmallVector<mlir::Operation*> work{op};
  while (!work.empty()) {
    mlir::Operation* o = work.pop_back_val();
    if (!o->use_empty()) continue;
    llvm::SmallVector<mlir::Value> operands(o->getOperands());
    erased->insert(o);
    o->erase();
    for (mlir::Value v : operands)
      if (mlir::Operation* def = v.getDefiningOp(); def && isPrimitiveOp(def) && def->use_empty())
        work.push_back(def);
  }
}

void recognizeHardswish(mlir::ModuleOp module) {
  std::vector<mlir::Operation*> roots;
  module.walk([&](BinaryOp op) { roots.push_back(op); });
  llvm::DenseSet<mlir::Operation*> erased; // compared, never dereferenced
  for (mlir::Operation* root : roots) {
    if (erased.contains(root)) continue; // part of an earlier chain
    mlir::Value x = hardswishInput(root);
    if (!x) continue;
    mlir::OpBuilder b(root);
    Primitive hs;
    hs.params = UnaryParams{UnaryKind::HardSwish};
    mlir::Operation* h = buildPrimitiveOp(b, root->getLoc(), hs, x, root->getResult(0).getType());
    root->getResult(0).replaceAllUsesWith(h->getResult(0));
    eraseDeadChain(root, &erased);
  }
}

bool dominates(mlir::Value v, mlir::Operation* op) {
  mlir::Operation* def = v.getDefiningOp();
  if (!def) return v.getParentBlock() == op->getBlock();
  return def->getBlock() == op->getBlock() && def->isBeforeInBlock(op);
}

// Fuses the single user of `producer` into it; the new producer, or null.
mlir::Operation* fuseUser(mlir::Operation* producer) {
  mlir::Value y = producer->getResult(0);
  if (!y.hasOneUse() || !isF32(y)) return nullptr;
  auto prim = primitiveOf(producer);
  if (!prim) return nullptr;
  mlir::Operation* user = *y.getUsers().begin();
  auto up = primitiveOf(user);
  if (!up || user->getResult(0).getType() != y.getType()) return nullptr;
  PostOps* ops = postOpsOf(*prim);
  if (!ops) return nullptr;
  llvm::SmallVector<mlir::Value> operands(producer->getOperands());
  if (up->kind() == PrimitiveKind::Unary) {
    const auto& u = up->as<UnaryParams>();
    if (!unaryInPostOps(u.kind)) return nullptr;
    ops->push_back(PostOp::makeUnary(u.kind, u.alpha, u.beta));
  } else if (up->kind() == PrimitiveKind::Binary) {
    const bool producerIsLhs = user->getOperand(0) == y;
    if (user->getOperand(0) == user->getOperand(1)) return nullptr; // y op y
    mlir::Value operand = user->getOperand(producerIsLhs ? 1 : 0);
    auto op = binaryPostOp(*prim, up->as<BinaryParams>(), producerIsLhs, shapeOf(y),
                           static_cast<int32_t>(operands.size()));
    if (!op || !isF32(operand) || !dominates(operand, producer)) return nullptr;
    operands.push_back(operand);
    ops->push_back(*op);
  } else {
    return nullptr;
  }
  mlir::OpBuilder b(producer);
  mlir::Operation* fused = buildPrimitiveOp(b, producer->getLoc(), *prim, operands, y.getType());
  if (!fused) return nullptr;
  user->getResult(0).replaceAllUsesWith(fused->getResult(0));
  user->erase();
  producer->erase();
  return fused;
}

struct TesselFuseElementwise : impl::TesselFuseElementwiseBase<TesselFuseElementwise> {
  void runOnOperation() override {
    recognizeHardswish(getOperation());
    std::vector<mlir::Operation*> producers;
    getOperation().walk([&](mlir::Operation* op) {
      if (llvm::isa<Conv2dOp, MatMulOp>(op)) producers.push_back(op);
    });
    for (mlir::Operation* op : producers)
      while (mlir::Operation* fused = fuseUser(op))
        op = fused;
  }
};

} // namespace
} // namespace tessel::ir
