#include "tessel/core/dtype.h"

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
