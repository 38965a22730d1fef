// The values timing runs give inputs that are not constant (internal): the same for a kernel
// timed alone (measure.cpp) and for a plan timed in a session (plan_sessions.cpp).
#pragma once

#include "tessel/core/tensor_desc.h"

#include <cstdint>
#include <vector>

namespace tessel::detail {

// Host bytes for a tensor: floats in [-1, 1) from a fixed sequence (no NaN or subnormal slow
// paths), else zeros (indices stay in range).
std::vector<uint8_t> timingInput(const TensorDesc& d);

} // namespace tessel::detail
