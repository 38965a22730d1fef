// Lowering: the result of decomposing one Node into raster and atomic primitives.
#pragma once

#include "tessel/core/primitive.h"
#include "tessel/decompose/node.h"

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

namespace tessel::decompose {

// Tensor ids: [0, numInputs) are the node's inputs (absent ones keep an Undefined desc),
// [numInputs, numInputs + numOutputs) its outputs, and any later id a tensor the rule created:
// a constant when `constants` holds its bytes, otherwise a temporary.
struct Lowering {
  int numInputs = 0;
  int numOutputs = 0;
  std::vector<TensorDesc> tensors;
  std::map<int32_t, std::vector<uint8_t>> constants;
  std::vector<Primitive> primitives;

  std::vector<TensorDesc> outputDescs() const {
    return {tensors.begin() + numInputs, tensors.begin() + numInputs + numOutputs};
  }
};

bool isSupportedOp(const std::string& opType);

// An operator and what it decomposes into: onnx_ops.def's entries, in its order.
struct OpSummary {
  std::string_view op, summary;
};
const std::vector<OpSummary>& supportedOps();
// Infers output descriptions and decomposes; errors name the node and the reason.
Result<Lowering> lower(const Node& node);

} // namespace tessel::decompose
