// Shape and TensorDesc: static descriptions of tensors, shared by compiler and runtime.
#pragma once

#include "tessel/core/dtype.h"
#include "tessel/core/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tessel {

using Shape = std::vector<int64_t>;

// Number of elements, or an error when a dim is negative or the product overflows.
Result<int64_t> elementCount(const Shape& shape);
// Row-major strides (in elements) of a dense tensor of this shape.
Shape denseStrides(const Shape& shape);
std::string shapeToString(const Shape& shape);

struct TensorDesc {
  DType dtype = DType::Undefined;
  Shape shape;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  // Element count; assumes a validated shape (elementCount() checks).
  int64_t numel() const;
  int64_t byteSize() const { return numel() * static_cast<int64_t>(dtypeSize(dtype)); }
  bool operator==(const TensorDesc&) const = default;
  std::string toString() const;
};

} // namespace tessel
