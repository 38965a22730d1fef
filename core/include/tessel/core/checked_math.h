// Overflow-checked integer arithmetic for validating untrusted sizes, offsets and strides.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>

namespace tessel {

// The product of `values` in *out; false when it overflows int64.
inline bool checkedProduct(std::initializer_list<int64_t> values, int64_t* out) {
  int64_t p = 1;
  for (int64_t v : values)
    if (__builtin_mul_overflow(p, v, &p)) return false;
  *out = p;
  return true;
}

// *acc += a * b; false on overflow.
inline bool checkedMulAdd(int64_t a, int64_t b, int64_t* acc) {
  int64_t p = 0;
  return !__builtin_mul_overflow(a, b, &p) && !__builtin_add_overflow(*acc, p, acc);
}

// a + b, or INT64_MAX where that overflows (sizes from untrusted files: a budget then refuses
// them).
inline int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

} // namespace tessel
