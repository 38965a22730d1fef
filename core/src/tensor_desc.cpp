#include "tessel/core/tensor_desc.h"

namespace tessel {

Result<int64_t> elementCount(const Shape& shape) {
  // The product of the non-zero dims is bounded too: an empty tensor [0, 2^62, 2^62] holds no
  // element, but its strides (denseStrides) would overflow.
  int64_t n = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) return invalidArgument("negative dimension in shape " + shapeToString(shape));
    if (d == 0) {
      empty = true;
      continue;
    }
    if (n > (int64_t{1} << 48) / d)
      return invalidArgument("shape " + shapeToString(shape) + " has too many elements");
    n *= d;
  }
  return empty ? 0 : n;
}

Shape denseStrides(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

bool stridesAreDense(std::span<const int64_t> strides, const Shape& shape) {
  int64_t dense = 1; // the dense stride of dim i, innermost first
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] > 1 && strides[i] != dense) return false;
    dense *= shape[i];
  }
  return true;
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

int64_t layoutBlock(Layout layout) {
  switch (layout) {
  case Layout::Plain: return 0;
  case Layout::NCHWc8: return 8;
  case Layout::NCHWc16: return 16;
  }
  return 0;
}

std::string_view layoutName(Layout layout) {
  switch (layout) {
  case Layout::Plain: return "plain";
  case Layout::NCHWc8: return "nchwc8";
  case Layout::NCHWc16: return "nchwc16";
  }
  return "?";
}

Shape TensorDesc::storageShape() const {
  const int64_t b = layoutBlock(layout);
  if (b == 0 || shape.size() != 4) return shape;
  return {shape[0], (shape[1] + b - 1) / b, shape[2], shape[3], b};
}

int64_t TensorDesc::storageNumel() const {
  const int64_t b = layoutBlock(layout);
  if (b == 0 || shape.size() != 4) return numel();
  // storageShape()'s product, without building it (asked for every tensor of every plan).
  return shape[0] * ((shape[1] + b - 1) / b) * shape[2] * shape[3] * b;
}

std::string TensorDesc::toString() const {
  std::string s = std::string(dtypeName(dtype)) + shapeToString(shape);
  if (layout != Layout::Plain) s += "@" + std::string(layoutName(layout));
  return s;
}

} // namespace tessel
