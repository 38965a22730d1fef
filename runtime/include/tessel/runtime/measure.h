// Timing one primitive's kernel (or a chain's fused kernel) in isolation on a backend, for the
// search (docs/search.md): the kernel prepared as a session would prepare it, its inputs in the
// backend's memory space, warm.
#pragma once

#include "tessel/runtime/backend.h"
#include "tessel/runtime/profile_cache.h"

#include <span>
#include <string>
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

// Several kernels timed as measurePrimitive times one, together: each prepared and warmed, then
// timed run by run in turn (each round starting one further on), so that a machine whose speed
// drifts (a shared host, a phone's clocks) meets them all alike; kernels whose buffers pass 256
// MiB together are timed in batches. Per request (on backends[k], which must be given), its
// time or why it failed.
std::vector<Result<double>> measurePrimitives(std::span<Backend* const> backends,
                                              std::span<const MeasureRequest> requests);

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

// A device's copies from the host, as the search prices them (search::TransferModel): the fixed
// time (the least of 20 uploads of 4 KiB, each waited for) and the bytes a second (the best of 3
// uploads of 16 MiB after one to warm, less that fixed time). An error for a host backend or
// where the backend has no device here.
Result<ProfileCache::Transfer> measureTransfer(Backend& backend);

// What a host backend's device reads from memory past its caches with `threads` threads, in
// bytes a second (search::ModelPlanRequest::readRates): the best of 3 reads of 64 MiB, as many
// bytes as the measurements' eviction streams, after one to warm. An error for a device backend
// or where the backend has no device here.
Result<double> measureReadRate(Backend& backend, int threads);

// What the search knows of the device a backend runs on, measured on it where it can be
// (`tessel devices`; docs/search.md, Device signature).
struct DeviceProfile {
  std::string backend; // the backend's name
  std::string device;  // BackendDescriptor::deviceSignature: vendor and model (and driver)
  std::string key;     // deviceKey: what a profile cache files its times under
  std::string target;  // the named target its kernels are for ("" for none)
  std::string space;   // its memory space
  int threads = 0;     // host backends: the threads a session may use (defaultThreadCount)
  // Host backends: one core's caches as the OS reports them (0: not reported).
  int64_t l1dBytes = 0, l2Bytes = 0, l3Bytes = 0;
  double peakFlops = 0; // one thread's measured fp32 FMA peak (0: the backend does not measure)
  // Measured, the best of 3, one thread: host backends copy 64 MiB between two buffers; device
  // backends upload 64 MiB from the host (a figure to show: the search prices copies by
  // measureTransfer's, kept in the profile cache).
  double bytesPerSecond = 0;
  // Host backends: what `threads` threads read from memory past the caches (measureReadRate).
  double readBytesPerSecond = 0;
};

// The device's profile, measuring its bandwidth (tens of milliseconds); an error when the
// backend has no device here.
Result<DeviceProfile> profileDevice(Backend& backend);

} // namespace tessel
