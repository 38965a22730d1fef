// Timing one primitive's kernel in isolation on a backend, for the search (docs/search.md): the
// kernel prepared as a session would prepare it, its inputs in the backend's memory space, warm.
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

} // namespace tessel
