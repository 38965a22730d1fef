// tessel-fuse-raster: rasters read through producer rasters and views; identity rasters become
// views. The region algebra lives in decompose/raster_fusion.h.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tessel/decompose/raster_fusion.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

#include <algorithm>

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELFUSERASTER
#include "tessel/ir/Passes.h.inc"

namespace {

int64_t numel(mlir::Value v) {
  return v.getType().cast<mlir::RankedTensorType>().getNumElements();
}

std::optional<RasterParams> paramsOf(RasterOp op) {
  auto p = primitiveFromOp(op);
  if (!p.isOk()) return std::nullopt; // the verifier reports it
  return p->as<RasterParams>();
}

void setRegions(RasterOp op, const std::vector<Region>& regions) {
  op.setRegionsAttr(mlir::DenseI64ArrayAttr::get(op.getContext(), flattenRegions(regions)));
}

// `op` reads operand i, the output of a multi-source raster writing contiguous blocks: its
// regions are rewritten to read the producer's sources, which join op's operands; operands no
// region reads any more are dropped.
bool fuseThroughBlocks(RasterOp op, const RasterParams& params, unsigned i, RasterOp producer,
                       const RasterParams& inner) {
  llvm::SmallVector<mlir::Value> operands(op->getOperands());
  std::vector<int32_t> sourceIndex;
  for (mlir::Value v : producer->getOperands()) {
    auto at = std::find(operands.begin(), operands.end(), v);
    if (at == operands.end()) {
      operands.push_back(v);
      at = operands.end() - 1;
    }
    sourceIndex.push_back(static_cast<int32_t>(at - operands.begin()));
  }
  auto composed = decompose::composeThroughBlocks(inner, numel(producer.getResult()), params,
                                                  static_cast<int32_t>(i), sourceIndex);
  if (!composed) return false;
  std::vector<int32_t> renumber(operands.size(), -1);
  llvm::SmallVector<mlir::Value> kept;
  for (const Region& r : *composed)
    if (renumber[r.source] < 0) renumber[r.source] = 0;
  for (size_t k = 0; k < operands.size(); ++k)
    if (renumber[k] == 0) {
      renumber[k] = static_cast<int32_t>(kept.size());
      kept.push_back(operands[k]);
    }
  if (kept.empty()) return false;
  std::vector<Region> regions = std::move(*composed);
  for (Region& r : regions)
    r.source = renumber[r.source];
  op->setOperands(kept);
  setRegions(op, regions);
  return true;
}

// Rewrites `op` to read past producer rasters and views; true when anything changed.
bool fuseSources(RasterOp op) {
  bool changed = false;
  std::optional<RasterParams> own = paramsOf(op);
  if (!own) return false;
  RasterParams& params = *own;
  for (unsigned i = 0; i < op->getNumOperands(); ++i) {
    mlir::Value src = op->getOperand(i);
    if (auto view = src.getDefiningOp<ViewOp>()) {
      // A view keeps the element order, so offsets into it are offsets into its input.
      op->setOperand(i, view->getOperand(0));
      changed = true;
      continue;
    }
    auto producer = src.getDefiningOp<RasterOp>();
    if (!producer) continue;
    std::optional<RasterParams> inner = paramsOf(producer);
    if (!inner) continue;
    if (producer->getNumOperands() > 1) {
      // A concat-like producer: read its sources directly (operand indices change: stop here
      // and let the caller run again).
      if (fuseThroughBlocks(op, params, i, producer, *inner)) return true;
      continue;
    }
    auto composed = decompose::composeRegions(*inner, numel(producer.getResult()), params,
                                              static_cast<int32_t>(i));
    if (!composed) continue;
    params.regions = std::move(*composed);
    setRegions(op, params.regions);
    op->setOperand(i, producer->getOperand(0));
    changed = true;
  }
  return changed;
}

struct TesselFuseRaster : impl::TesselFuseRasterBase<TesselFuseRaster> {
  void runOnOperation() override {
    bool changed = true;
    while (changed) {
      changed = false;
      std::vector<RasterOp> rasters;
      getOperation().walk([&](RasterOp op) { rasters.push_back(op); });
      for (RasterOp op : rasters) {
        changed |= fuseSources(op);
        std::optional<RasterParams> own = paramsOf(op);
        if (own && op->getNumOperands() == 1 &&
            decompose::isIdentityRaster(*own, numel(op->getOperand(0)), numel(op.getResult()))) {
          mlir::OpBuilder b(op);
          auto view = b.create<ViewOp>(op->getLoc(), op.getResult().getType(),
                                       mlir::ValueRange{op->getOperand(0)});
          op.getResult().replaceAllUsesWith(view.getResult());
          op->erase();
          changed = true;
        }
      }
    }
  }
};

} // namespace
} // namespace tessel::ir
