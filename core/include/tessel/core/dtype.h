// Element types. The list is one X-macro so names, sizes and ONNX codes never drift apart.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace tessel {

// X(enum name, storage C type, printable name, ONNX TensorProto.DataType code). New types go at
// the end: the enum's values are stored in artifacts and are the C API's tessel_dtype. f16 and
// bf16 are storage types (IEEE half, and the upper half of an f32): arithmetic on them runs in
// f32 (docs/design-notes.md), so their C type is only their 16 bits.
#define TESSEL_DTYPES(X)                                                                           \
  X(F32, float, "f32", 1)                                                                          \
  X(U8, uint8_t, "u8", 2)                                                                          \
  X(I8, int8_t, "i8", 3)                                                                           \
  X(I32, int32_t, "i32", 6)                                                                        \
  X(I64, int64_t, "i64", 7)                                                                        \
  X(Bool, bool, "bool", 9)                                                                         \
  X(F64, double, "f64", 11)                                                                        \
  X(F16, uint16_t, "f16", 10)                                                                      \
  X(BF16, uint16_t, "bf16", 16)                                                                    \
  X(I16, int16_t, "i16", 5)                                                                        \
  X(U16, uint16_t, "u16", 4)                                                                       \
  X(U32, uint32_t, "u32", 12)                                                                      \
  X(U64, uint64_t, "u64", 13)

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

// Kinds of element types, for rules and kernels that accept a family.
bool dtypeIsFloat(DType t);    // f32, f64, f16, bf16
bool dtypeIsInteger(DType t);  // signed and unsigned, not bool
bool dtypeIsUnsigned(DType t); // u8, u16, u32, u64
// The f16 and bf16 storage types, computed in f32.
bool dtypeIsHalf(DType t);

// IEEE binary16 and bfloat16 from and to f32, rounding to nearest even (NaN stays NaN,
// overflow becomes infinity): what numpy and onnxruntime do.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bfloat16ToFloat(uint16_t h);
uint16_t floatToBfloat16(float f);

// v in integer type T's range, NaN as 0 (out-of-range conversion is undefined in C++).
template <typename T> T saturateFromDouble(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
    return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

// One element of any type, read and written through the widest form of its family: the one
// conversion used by casts, fills, constants and the CLI's comparisons.
// The element at p as a double (integers past 2^53 round; bool is 0 or 1).
double loadAsDouble(DType t, const void* p);
// An integer or bool element at p as its 64 two's-complement bits, sign- or zero-extended.
uint64_t loadAsBits(DType t, const void* p);
// Stores v as type t: floats round to nearest, integers saturate (NaN gives 0), bool is v != 0.
void storeDouble(DType t, double v, void* p);
// Stores integer bits as type t: integers keep the low bits (wrap), floats take the value (signed
// or not as the source was), bool is v != 0.
void storeBits(DType t, uint64_t v, bool isSigned, void* p);
// An element of type `from` at src as type `to` at dst: ONNX Cast of one element.
void castElement(DType from, const void* src, DType to, void* dst);

} // namespace tessel
