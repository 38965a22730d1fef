#include "tessel/core/tensor_desc.h"

namespace tessel {

Result<int64_t> elementCount(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return invalidArgument("negative dimension in shape " + shapeToString(shape));
    if (d != 0 && n > (int64_t{1} << 48) / d)
      return invalidArgument("shape " + shapeToString(shape) + " has too many elements");
    n *= d;
  }
  return n;
}

Shape denseStrides(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

std::string shapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t TensorDesc::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string TensorDesc::toString() const {
  return std::string(dtypeName(dtype)) + shapeToString(shape);
}

} // namespace tessel
