// Timing one primitive's kernel (or a chain's fused kernel) in isolation on a backend, for the
// search (docs/search.md): the kernel prepared as a session would prepare it, its inputs in the
// backend's memory space, warm.
#pragma once

#include "tessel/runtime/backend.h"

#include <span>
#include <vector>

namespace tessel {

struct MeasureRequest {
  const Primitive* primitive = nullptr;
  const std::vector<TensorDesc>* tensors = nullptr;
  std::span<const void* const> constants; // per input: its bytes when known at load, else null
  KernelChoice choice;
  int threads = 1;
  int runs = 5;
  Precision precision = Precision::F32;
};

// The fastest of `runs` runs (fewer, but at least two, where they would take more than 50 ms),
// after one warm-up run, of the primitive's kernel on `backend`:
// constant inputs hold their bytes, the others small deterministic values (floats in [-1, 1),
// integers and booleans 0, so that indices stay in range); each run is waited on, so a device's
// time includes its submission. Buffers are allocated for the measurement and released after.
Result<double> measurePrimitive(Backend& backend, const MeasureRequest& request);

// A chain of consecutive primitives (Backend::prepareChain) to time as one fused kernel.
struct ChainMeasureRequest {
  std::span<const Primitive> primitives;
  const std::vector<TensorDesc>* tensors = nullptr;
  std::vector<std::span<const void* const>> constants; // per primitive, per input
  int threads = 1;
  int runs = 5;
  Precision precision = Precision::F32;
};

// The chain's fused kernel timed as measurePrimitive times one kernel: its inputs the chain's
// (every primitive's, less the later ones' chained input 0), its output the last primitive's.
// An error when the backend has no fused kernel for it.
Result<double> measureChain(Backend& backend, const ChainMeasureRequest& request);

} // namespace tessel
