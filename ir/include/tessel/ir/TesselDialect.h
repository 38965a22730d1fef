// The tessel MLIR dialect (offline side only).
#pragma once

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "tessel/ir/TesselDialect.h.inc"

#define GET_OP_CLASSES
#include "tessel/ir/TesselOps.h.inc"
