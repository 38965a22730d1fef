#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "tessel/ir/Passes.h"

namespace tessel::ir {

void buildLoweringPipeline(mlir::OpPassManager& pm) {
  pm.addPass(createTesselDecompose());
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(createTesselFoldConstants());
  pm.addPass(createTesselFuseRaster());
  pm.addPass(createTesselFuseElementwise());
  pm.addPass(createTesselFoldAffine());
  pm.addPass(mlir::createCanonicalizerPass());
}

} // namespace tessel::ir
