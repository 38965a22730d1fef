// tessel-fuse-raster: rasters read through producer rasters and views; identity rasters become
// views. The region algebra lives in decompose/raster_fusion.h.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tessel/decompose/raster_fusion.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

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
    if (!producer || producer->getNumOperands() != 1) continue;
    std::optional<RasterParams> inner = paramsOf(producer);
    if (!inner) continue;
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
