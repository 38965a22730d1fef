#include "tessel/core/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace tessel {

size_t dtypeSize(DType t) {
  switch (t) {
#define X(name, ctype, str, onnx)                                                                  \
  case DType::name: return sizeof(ctype);
    TESSEL_DTYPES(X)
#undef X
  case DType::Undefined: break;
  }
  return 0;
}

std::string_view dtypeName(DType t) {
  switch (t) {
#define X(name, ctype, str, onnx)                                                                  \
  case DType::name: return str;
    TESSEL_DTYPES(X)
#undef X
  case DType::Undefined: break;
  }
  return "undefined";
}

std::optional<DType> dtypeFromOnnx(int onnxCode) {
#define X(name, ctype, str, onnx)                                                                  \
  if (onnxCode == (onnx)) return DType::name;
  TESSEL_DTYPES(X)
#undef X
  return std::nullopt;
}

int dtypeToOnnx(DType t) {
  switch (t) {
#define X(name, ctype, str, onnx)                                                                  \
  case DType::name: return onnx;
    TESSEL_DTYPES(X)
#undef X
  case DType::Undefined: break;
  }
  return 0;
}

} // namespace tessel

namespace tessel {

bool dtypeIsFloat(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16;
}

bool dtypeIsUnsigned(DType t) {
  return t == DType::U8 || t == DType::U16 || t == DType::U32 || t == DType::U64;
}

bool dtypeIsInteger(DType t) {
  return dtypeIsUnsigned(t) || t == DType::I8 || t == DType::I16 || t == DType::I32 ||
         t == DType::I64;
}

bool dtypeIsHalf(DType t) {
  return t == DType::F16 || t == DType::BF16;
}

namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

} // namespace

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return floatOf(sign | 0x7f800000u | (mantissa << 13)); // inf, NaN
  if (exponent != 0) return floatOf(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // zero or subnormal: mantissa * 2^-24, exact in f32
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}

uint16_t floatToHalf(float f) {
  const uint32_t u = bitsOf(f);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t magnitude = u & 0x7fffffffu;
  if (magnitude > 0x7f800000u) // NaN: quiet, keeping the top of the payload
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u); // rounds past 65504
  if (magnitude < 0x38800000u) {
    // below the smallest normal half (2^-14): a subnormal, units of 2^-24, rounded to even
    const float scaled = floatOf(magnitude) * 16777216.f; // exact: a power of two
    const auto units = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | units);
  }
  // normal: drop 13 mantissa bits rounding to nearest even (a carry may raise the exponent)
  const uint32_t rebiased = magnitude - (112u << 23);
  const uint32_t rounded = rebiased + 0xfffu + ((rebiased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

float bfloat16ToFloat(uint16_t h) {
  return floatOf(static_cast<uint32_t>(h) << 16);
}

uint16_t floatToBfloat16(float f) {
  const uint32_t u = bitsOf(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u); // NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

namespace {

template <typename T> T loadAs(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T> void storeAs(T v, void* p) {
  std::memcpy(p, &v, sizeof v);
}

// v as f32 rounded to odd (truncated, its last bit set when inexact): a second rounding to a
// narrower format (f16, bf16) is then the correctly rounded one, no double rounding.
float roundToOddFloat(double v) {
  float f = static_cast<float>(v);
  if (std::isnan(v) || std::isinf(f) || static_cast<double>(f) == v) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(v)) f = std::nextafter(f, 0.f);
  return floatOf(bitsOf(f) | 1u);
}

} // namespace

double loadAsDouble(DType t, const void* p) {
  switch (t) {
  case DType::F32: return loadAs<float>(p);
  case DType::F64: return loadAs<double>(p);
  case DType::F16: return halfToFloat(loadAs<uint16_t>(p));
  case DType::BF16: return bfloat16ToFloat(loadAs<uint16_t>(p));
  case DType::Bool: return loadAs<uint8_t>(p) != 0;
  case DType::U64: return static_cast<double>(loadAs<uint64_t>(p));
  default: return static_cast<double>(static_cast<int64_t>(loadAsBits(t, p)));
  }
}

uint64_t loadAsBits(DType t, const void* p) {
  switch (t) {
  case DType::U8: return loadAs<uint8_t>(p);
  case DType::I8: return static_cast<uint64_t>(int64_t{loadAs<int8_t>(p)});
  case DType::U16: return loadAs<uint16_t>(p);
  case DType::I16: return static_cast<uint64_t>(int64_t{loadAs<int16_t>(p)});
  case DType::U32: return loadAs<uint32_t>(p);
  case DType::I32: return static_cast<uint64_t>(int64_t{loadAs<int32_t>(p)});
  case DType::U64:
  case DType::I64: return loadAs<uint64_t>(p);
  case DType::Bool: return loadAs<uint8_t>(p) != 0;
  default: return static_cast<uint64_t>(saturateFromDouble<int64_t>(loadAsDouble(t, p)));
  }
}

void storeDouble(DType t, double v, void* p) {
  switch (t) {
  case DType::F32: return storeAs(static_cast<float>(v), p);
  case DType::F64: return storeAs(v, p);
  case DType::F16: return storeAs(floatToHalf(roundToOddFloat(v)), p);
  case DType::BF16: return storeAs(floatToBfloat16(roundToOddFloat(v)), p);
  case DType::Bool: return storeAs(static_cast<uint8_t>(v != 0.0), p);
  case DType::U8: return storeAs(saturateFromDouble<uint8_t>(v), p);
  case DType::I8: return storeAs(saturateFromDouble<int8_t>(v), p);
  case DType::U16: return storeAs(saturateFromDouble<uint16_t>(v), p);
  case DType::I16: return storeAs(saturateFromDouble<int16_t>(v), p);
  case DType::U32: return storeAs(saturateFromDouble<uint32_t>(v), p);
  case DType::I32: return storeAs(saturateFromDouble<int32_t>(v), p);
  case DType::U64: return storeAs(saturateFromDouble<uint64_t>(v), p);
  case DType::I64: return storeAs(saturateFromDouble<int64_t>(v), p);
  case DType::Undefined: return;
  }
}

void storeBits(DType t, uint64_t v, bool isSigned, void* p) {
  if (dtypeIsFloat(t))
    return storeDouble(
        t, isSigned ? static_cast<double>(static_cast<int64_t>(v)) : static_cast<double>(v), p);
  if (t == DType::Bool) return storeAs(static_cast<uint8_t>(v != 0), p);
  std::memcpy(p, &v, dtypeSize(t)); // the low bytes (little-endian)
}

void castElement(DType from, const void* src, DType to, void* dst) {
  if (dtypeIsFloat(from))
    storeDouble(to, loadAsDouble(from, src), dst);
  else
    storeBits(to, loadAsBits(from, src), !dtypeIsUnsigned(from), dst);
}

} // namespace tessel
