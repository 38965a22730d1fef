#include "tessel/decompose/node.h"

#include <cstring>

namespace tessel::decompose {
namespace {

template <typename T>
Result<T> typedAttr(const Node& n, std::string_view key, const T& dflt, const char* kind) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return dflt;
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  return n.error("attribute '" + std::string(key) + "' is not " + kind);
}

} // namespace

Result<int64_t> Node::intAttr(std::string_view key, int64_t dflt) const {
  return typedAttr<int64_t>(*this, key, dflt, "an int");
}

Result<double> Node::floatAttr(std::string_view key, double dflt) const {
  auto it = attrs.find(key);
  if (it != attrs.end())
    if (const int64_t* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  return typedAttr<double>(*this, key, dflt, "a float");
}

Result<std::string> Node::stringAttr(std::string_view key, const std::string& dflt) const {
  return typedAttr<std::string>(*this, key, dflt, "a string");
}

Result<std::vector<int64_t>> Node::intsAttr(std::string_view key,
                                            const std::vector<int64_t>& dflt) const {
  return typedAttr<std::vector<int64_t>>(*this, key, dflt, "a list of ints");
}

Result<Shape> Node::dimsAttr(std::string_view key, const Shape& dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return Shape(*v);
  return error("attribute '" + std::string(key) + "' is not a list of ints");
}

Result<std::vector<double>> Node::floatsAttr(std::string_view key) const {
  return typedAttr<std::vector<double>>(*this, key, {}, "a list of floats");
}

Result<std::vector<int64_t>> Node::constInts(size_t i, const char* what) const {
  if (!hasInput(i)) return error(std::string("input '") + what + "' is missing");
  const NodeInput& in = inputs[i];
  if (!in.constant) {
    missingValues.push_back(i);
    return unsupported(label() + ": input '" + what + "' must be a constant known at convert time");
  }
  const int64_t n = in.desc.numel();
  std::vector<int64_t> v(static_cast<size_t>(n));
  auto widen = [&](auto* typed) {
    for (int64_t k = 0; k < n; ++k)
      v[k] = static_cast<int64_t>(typed[k]);
  };
  switch (in.desc.dtype) {
  case DType::I64: widen(static_cast<const int64_t*>(in.constant)); break;
  case DType::I32: widen(static_cast<const int32_t*>(in.constant)); break;
  case DType::I8: widen(static_cast<const int8_t*>(in.constant)); break;
  case DType::U8: widen(static_cast<const uint8_t*>(in.constant)); break;
  case DType::Bool: widen(static_cast<const bool*>(in.constant)); break;
  default: return error(std::string("input '") + what + "' must have an integer type");
  }
  return v;
}

Result<std::vector<double>> Node::constFloats(size_t i, const char* what) const {
  if (!hasInput(i)) return error(std::string("input '") + what + "' is missing");
  const NodeInput& in = inputs[i];
  if (!in.constant) {
    missingValues.push_back(i);
    return unsupported(label() + ": input '" + what + "' must be a constant known at convert time");
  }
  const int64_t n = in.desc.numel();
  std::vector<double> v(static_cast<size_t>(n));
  if (in.desc.dtype == DType::F32) {
    const auto* p = static_cast<const float*>(in.constant);
    for (int64_t k = 0; k < n; ++k)
      v[k] = p[k];
  } else if (in.desc.dtype == DType::F64) {
    std::memcpy(v.data(), in.constant, n * sizeof(double));
  } else {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> ints, constInts(i, what));
    for (int64_t k = 0; k < n; ++k)
      v[k] = static_cast<double>(ints[k]);
  }
  return v;
}

Result<const void*> Node::constData(size_t i, const char* what) const {
  if (!hasInput(i)) return error(std::string("input '") + what + "' is missing");
  if (!inputs[i].constant) {
    missingValues.push_back(i);
    return unsupported(label() + ": input '" + what + "' must be a known value");
  }
  return inputs[i].constant;
}

std::string Node::label() const {
  return opType + " '" + name + "'";
}

Status Node::error(const std::string& why) const {
  return invalidArgument(label() + ": " + why);
}

} // namespace tessel::decompose
