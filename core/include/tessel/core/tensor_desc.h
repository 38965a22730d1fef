// Shape and TensorDesc: static descriptions of tensors, shared by compiler and runtime.
#pragma once

#include "tessel/core/dtype.h"
#include "tessel/core/shape.h"
#include "tessel/core/status.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessel {

// Number of elements, or an error when a dim is negative or the product of the non-zero dims
// passes 2^48 (so an empty tensor cannot carry dims whose strides overflow).
Result<int64_t> elementCount(const Shape& shape);
// Row-major strides (in elements) of a dense tensor of this shape.
Shape denseStrides(const Shape& shape);
// Whether `strides` (in elements, one per dim of `shape`) are denseStrides(shape) but for dims
// of one element, whose stride never matters.
bool stridesAreDense(std::span<const int64_t> strides, const Shape& shape);
std::string shapeToString(const Shape& shape);

// How a tensor's logical dims lie in memory. plain: row-major over the shape. nchwc8/nchwc16: a
// 4-D [N, C, H, W] tensor stored as 5-D [N, ceil(C/B), H, W, B], B = 8 or 16; the channels past
// C in the last block are zero.
enum class Layout : uint8_t { Plain = 0, NCHWc8 = 1, NCHWc16 = 2 };
inline constexpr int kLayoutCount = 3;
// The channel block B of a blocked layout, 0 for plain.
int64_t layoutBlock(Layout layout);
std::string_view layoutName(Layout layout);

struct TensorDesc {
  DType dtype = DType::Undefined;
  Shape shape; // logical dims
  Layout layout = Layout::Plain;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  // Logical element count; assumes a validated shape (elementCount() checks).
  int64_t numel() const;
  // Elements in memory: numel(), or with a blocked layout the padded channels too.
  int64_t storageNumel() const;
  // The dims as stored: the shape, or [N, ceil(C/B), H, W, B].
  Shape storageShape() const;
  int64_t byteSize() const { return storageNumel() * static_cast<int64_t>(dtypeSize(dtype)); }
  bool operator==(const TensorDesc&) const = default;
  std::string toString() const;
};

} // namespace tessel
