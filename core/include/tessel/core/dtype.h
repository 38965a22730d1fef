// Element types. The list is one X-macro so names, sizes and ONNX codes never drift apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tessel {

// X(enum name, C type, printable name, ONNX TensorProto.DataType code)
#define TESSEL_DTYPES(X)                                                                           \
  X(F32, float, "f32", 1)                                                                          \
  X(U8, uint8_t, "u8", 2)                                                                          \
  X(I8, int8_t, "i8", 3)                                                                           \
  X(I32, int32_t, "i32", 6)                                                                        \
  X(I64, int64_t, "i64", 7)                                                                        \
  X(Bool, bool, "bool", 9)                                                                         \
  X(F64, double, "f64", 11)

enum class DType : uint8_t {
  Undefined = 0,
#define X(name, ctype, str, onnx) name,
  TESSEL_DTYPES(X)
#undef X
};

size_t dtypeSize(DType t);
std::string_view dtypeName(DType t);
std::optional<DType> dtypeFromOnnx(int onnxCode);
int dtypeToOnnx(DType t);

} // namespace tessel
