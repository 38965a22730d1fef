// Host tensors for the CLI: .pb/.npy files, seeded random inputs, summaries and comparison.
#pragma once

#include "tessel/core/tensor_desc.h"

#include <string>
#include <vector>

namespace tessel::cli {

struct HostTensor {
  std::string name;
  TensorDesc desc;
  std::vector<uint8_t> bytes;
  // A sequence or optional value (`list`): its tensors; an optional without one: !present.
  bool list = false;
  bool present = true;
  std::vector<HostTensor> items;
};

// ONNX TensorProto (.pb; a SequenceProto or OptionalProto of tensors gives a list) or NumPy
// (.npy, little-endian, C order).
Result<HostTensor> readTensorFile(const std::string& path);
// Seeded uniform [-1, 1] floats over desc's bytes at data; zeros for other dtypes.
void fillRandom(const TensorDesc& desc, void* data, uint64_t seed);

// Element i as a double (a bool: any nonzero byte is 1).
double valueAt(const TensorDesc& desc, const void* data, int64_t i);
std::string summarize(const TensorDesc& desc, const void* data);

struct Comparison {
  bool ok = true;
  double maxAbsErr = 0;
  double maxRelErr = 0;
  std::string why; // set when !ok
};
// |actual - expected| <= atol + rtol * |expected| everywhere; also fails when the actual output
// is constant (all zeros included) while the expected one is not, so a do-nothing runtime fails.
Comparison compareTensors(const TensorDesc& desc, const void* actual, const HostTensor& expected,
                          double rtol, double atol);

} // namespace tessel::cli
