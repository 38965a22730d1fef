// mlir-opt with the tessel dialect and passes: what the lit tests drive.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "tessel/ir/Passes.h"
#include "tessel/ir/TesselDialect.h"

int main(int argc, char** argv) {
  mlir::DialectRegistry registry;
  registry.insert<tessel::ir::TesselDialect, mlir::func::FuncDialect>();
  mlir::registerTransformsPasses();
  tessel::ir::registerTesselPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Tessel optimizer driver\n", registry));
}
