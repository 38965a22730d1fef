#ifndef TESSEL_PASSES_TD
#define TESSEL_PASSES_TD

include "mlir/Pass/PassBase.td"

def TesselDecompose : Pass<"tessel-decompose", "mlir::ModuleOp"> {
  let summary = "rewrites every high-level op into raster and atomic primitives";
  let description = [{
    A dialect conversion: every `tessel.onnx.*` op is illegal afterwards, so an op without a
    rule fails the pass. The rules are the MLIR-free ones in decompose/, shared with the runtime.
  }];
  let dependentDialects = ["::tessel::ir::TesselDialect"];
}

def TesselFoldConstants : Pass<"tessel-fold-constants", "mlir::ModuleOp"> {
  let summary = "evaluates primitives whose operands are all constants";
  let description = [{
    Runs such primitives on the reference backend at convert time and replaces them with
    constants (batch-norm scale arithmetic, weight rearrangements of transposed convolutions).
  }];
  let options = [
    Option<"maxElements", "max-elements", "int64_t", "int64_t{1} << 24",
           "do not fold results larger than this many elements">
  ];
}

def TesselFuseRaster : Pass<"tessel-fuse-raster", "mlir::ModuleOp"> {
  let summary = "fuses adjacent rasters and turns identity rasters into views";
  let description = [{
    A raster reading another single-source raster (or a view) reads that raster's source
    directly when the regions compose; a raster that copies its source in order becomes a
    `tessel.view`; views of views collapse.
  }];
}

def TesselFuseElementwise : Pass<"tessel-fuse-elementwise", "mlir::ModuleOp"> {
  let summary = "fuses elementwise work into the conv2d or matmul that produces its input";
  let description = [{
    Hardswish spelled as `x * clip(x + 3, 0, 6) / 6` or `x * hardsigmoid(x)` first becomes one
    `tessel.unary {kind = "hardswish"}`. Then a unary, or a binary whose other operand is a
    scalar, one value per channel or a tensor of the result's shape (defined before the
    producer), that is the only user of a conv2d or matmul result becomes the last of the
    producer's `post_ops` (the operand appended to its inputs), repeatedly: bias and batch-norm
    affines, residual adds and activations cost no pass over the output.
  }];
}

def TesselFoldAffine : Pass<"tessel-fold-affine", "mlir::ModuleOp"> {
  let summary = "folds constant scales and shifts at the head of a conv2d's post-ops into it";
  let description = [{
    A conv2d with constant weights whose post-ops start with multiplies, divides, adds or
    subtracts by constant scalars or per-channel vectors (a batch-norm after the convolution, a
    learnable scale and shift) gets them folded: the weights of each output channel scaled, the
    bias (created when absent) scaled and shifted. Run after tessel-fuse-elementwise, which
    moves those steps into the post-ops; tessel-fold-constants' canonicalization drops the old
    constants.
  }];
}

def TesselSearch : Pass<"tessel-search", "mlir::ModuleOp"> {
  let summary = "plans @main's primitives: a backend and kernel each, for a target";
  let description = [{
    Chooses, per primitive, the backend and kernel that run it (search/: first fit, or the cost
    model's whole-graph plan with the copies between memory spaces), for the named target (the
    host's backends, or a CPU family described offline), and writes the plan as attributes:
    `tessel.backend` and `tessel.kernel` (the kernel id, then its parameters) on each primitive,
    `tessel.target` (name, threads) on the module. `tessel-emit` writes them into the artifact.
  }];
  let options = [
    Option<"backend", "backends", "std::string", "\"\"", "comma-separated backends to plan with, in order of preference">,
    Option<"search", "search", "std::string", "\"off\"", "how the plan is chosen: off (first fit) or model (the cost model over every backend's kernels)">,
    Option<"target", "target", "std::string", "\"host\"", "what the plan is for: host (this machine's backends) or a named target (x86-64-avx2, x86-64-avx512)">,
    Option<"threads", "threads", "int", "1", "the thread count the estimates are for">,
    Option<"profile", "profile", "std::string", "\"\"", "a profile cache whose kernels' fits calibrate the estimates (search=model), for the devices it was measured on">,
    Option<"weightBudget", "weight-budget", "int64_t", "0", "the bytes of weights the plan's kernels may keep (search=model; 0: no bound)">,
    Option<"memoryBudget", "memory-budget", "int64_t", "0", "the bytes the plan may take, its weights plus its sessions' arenas (search=model; 0: no bound)">
  ];
}

def TesselEmit : Pass<"tessel-emit", "mlir::ModuleOp"> {
  let summary = "writes the primitive graph of @main to a .tsl artifact";
  let description = [{
    Fails on any op that is not a primitive, a constant or an absent marker. The artifact
    holds tensors, constants (64-byte aligned), primitives in order, and the backend plan:
    tessel-search's attributes where it ran, else first fit over the listed backends.
  }];
  let options = [
    Option<"outputPath", "output", "std::string", "\"\"", "artifact file to write">,
    Option<"backend", "backends", "std::string", "\"\"", "without tessel-search's plan: comma-separated backends to plan with by first fit, in order of preference">
  ];
}

#endif
