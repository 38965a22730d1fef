// tessel-fuse-elementwise: elementwise work rides on the conv2d or matmul that produces its
// input. Hardswish spelled as x * clip(x + 3, 0, 6) / 6 (or x * hardsigmoid(x)) becomes one
// unary first; then a unary, or a binary whose other operand is a scalar, one value per channel
// or a tensor of the result's shape (a bias, a batch-norm affine, a residual), that alone
// consumes the producer's result becomes the last of its post-ops, repeatedly.
#include "mlir/Dialect/Func/IR/FuncOps.h"
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

bool allZero(const I64List& s) {
  return std::all_of(s.begin(), s.end(), [](int64_t v) { return v == 0; });
}

Shape shapeOf(mlir::Value v) {
  auto t = v.getType().cast<mlir::RankedTensorType>();
  return Shape(t.getShape().begin(), t.getShape().end());
}

// The scalar a binary operand holds when the binary reads it with all-zero strides from a
// constant.
std::optional<float> scalarConstant(mlir::Value v, const I64List& strides) {
  auto c = v.getDefiningOp<ConstantOp>();
  if (!c || !isF32(v) || !allZero(strides)) return std::nullopt;
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
  const bool sixth = (db.kind == BinaryKind::Div && k && *k == 6.f) ||
                     (db.kind == BinaryKind::Mul && k && std::fabs(*k - 1.f / 6) < 1e-7f);
  return sixth && stridesAreDense(db.lhsStrides, out) ? d->getOperand(0) : mlir::Value();
}

// Whether `v` is clip(x + 3, 0, 6) with single-use links.
bool isShiftedClip(mlir::Value v, mlir::Value x, const Shape& out) {
  mlir::Operation* c = v.getDefiningOp();
  auto cp = primitiveOf(c);
  if (!cp || !v.hasOneUse() || cp->kind() != PrimitiveKind::Unary) return false;
  const auto& cu = cp->as<UnaryParams>();
  if (cu.kind != UnaryKind::Clip || cu.alpha != 0.f || cu.beta != 6.f) return false;
  mlir::Value shifted = c->getOperand(0);
  mlir::Operation* a = shifted.getDefiningOp();
  auto ap = primitiveOf(a);
  if (!ap || !shifted.hasOneUse() || ap->kind() != PrimitiveKind::Binary) return false;
  const auto& ab = ap->as<BinaryParams>();
  auto three = scalarConstant(a->getOperand(1), ab.rhsStrides);
  return ab.kind == BinaryKind::Add && three && *three == 3.f && a->getOperand(0) == x &&
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
    if (hp && hp->kind() == PrimitiveKind::Unary && other.getDefiningOp()->getOperand(0) == x) {
      const auto& u = hp->as<UnaryParams>();
      if (u.kind == UnaryKind::HardSigmoid && std::fabs(u.alpha - 1.f / 6) < 1e-6f &&
          std::fabs(u.beta - 0.5f) < 1e-6f)
        return x;
    }
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

// The channel dim of a producer's result: conv2d's C, matmul's n when it is the last dim.
std::optional<size_t> channelDim(const Primitive& p, const Shape& out) {
  if (p.kind() == PrimitiveKind::Conv2d)
    return out.size() == 4 ? std::optional<size_t>(1) : std::nullopt;
  if (p.kind() == PrimitiveKind::MatMul && !out.empty() && out.back() == p.as<MatMulParams>().n)
    return out.size() - 1;
  return std::nullopt;
}

// How a binary reads its other operand relative to the producer's result, if a post-op can.
std::optional<Broadcast> spreadOf(const I64List& strides, const Shape& out,
                                  std::optional<size_t> channel) {
  if (allZero(strides)) return Broadcast::Scalar;
  if (stridesAreDense(strides, out)) return Broadcast::Full;
  if (!channel) return std::nullopt;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] > 1 && strides[i] != (i == *channel ? 1 : 0)) return std::nullopt;
  return Broadcast::Channel;
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
  PostOps* ops = std::visit(
      [](auto& v) -> PostOps* {
        if constexpr (requires { v.postOps; })
          return &v.postOps;
        else
          return nullptr;
      },
      prim->params);
  if (!ops) return nullptr;
  llvm::SmallVector<mlir::Value> operands(producer->getOperands());
  if (up->kind() == PrimitiveKind::Unary) {
    const auto& u = up->as<UnaryParams>();
    if (u.kind == UnaryKind::Cast || u.kind == UnaryKind::Identity) return nullptr;
    ops->push_back(PostOp::makeUnary(u.kind, u.alpha, u.beta));
  } else if (up->kind() == PrimitiveKind::Binary) {
    const auto& bp = up->as<BinaryParams>();
    if (!binaryInPostOps(bp.kind)) return nullptr; // comparisons, logic, remainders
    const Shape out = shapeOf(y);
    const bool producerIsLhs = user->getOperand(0) == y;
    if (user->getOperand(0) == user->getOperand(1)) return nullptr; // y op y
    const auto& own = producerIsLhs ? bp.lhsStrides : bp.rhsStrides;
    const auto& other = producerIsLhs ? bp.rhsStrides : bp.lhsStrides;
    mlir::Value operand = user->getOperand(producerIsLhs ? 1 : 0);
    auto spread = spreadOf(other, out, channelDim(*prim, out));
    if (!stridesAreDense(own, out) || !spread || !isF32(operand) || !dominates(operand, producer))
      return nullptr;
    operands.push_back(operand);
    const bool commutative = bp.kind == BinaryKind::Add || bp.kind == BinaryKind::Mul ||
                             bp.kind == BinaryKind::Max || bp.kind == BinaryKind::Min;
    ops->push_back(PostOp::makeBinary(bp.kind, *spread, static_cast<int32_t>(operands.size() - 1),
                                      !producerIsLhs && !commutative));
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
