// Node: one high-level operator (ONNX semantics) with concrete input descriptions, the input to
// the decomposition rules. MLIR-free: built by the ONNX importer, the decompose pass and tests.
#pragma once

#include "tessel/core/tensor_desc.h"

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace tessel::decompose {

using AttrValue =
    std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;

struct NodeInput {
  bool present = false; // ONNX optional inputs may be absent
  TensorDesc desc;
  const void* constant = nullptr; // dense bytes of desc when the value is known at convert time
};

struct Node {
  std::string opType;
  std::string name;
  int opset = 13;
  std::map<std::string, AttrValue> attrs;
  std::vector<NodeInput> inputs;
  int numOutputs = 1;
  // Inputs whose values a rule asked for (constInts, constFloats) without getting them: a caller
  // that can supply them (a graph input's value at run time) lowers again with them.
  mutable std::vector<size_t> missingValues;

  // Attribute accessors: the default when absent, an error when present with another type.
  Result<int64_t> intAttr(const std::string& key, int64_t dflt) const;
  Result<double> floatAttr(const std::string& key, double dflt) const;
  Result<std::string> stringAttr(const std::string& key, const std::string& dflt) const;
  Result<std::vector<int64_t>> intsAttr(const std::string& key,
                                        const std::vector<int64_t>& dflt) const;
  Result<std::vector<double>> floatsAttr(const std::string& key) const;
  bool hasAttr(const std::string& key) const { return attrs.count(key) != 0; }

  bool hasInput(size_t i) const { return i < inputs.size() && inputs[i].present; }
  // The integer values of a constant input (i32 or i64), or an error naming it.
  Result<std::vector<int64_t>> constInts(size_t i, const char* what) const;
  Result<std::vector<double>> constFloats(size_t i, const char* what) const;
  // The bytes of input i (desc.byteSize() of them) when its value is known: rules whose outputs
  // the values decide (NonZero, Unique, NonMaxSuppression) read them once a plan has them.
  Result<const void*> constData(size_t i, const char* what) const;

  // "op 'name'" prefix for error messages.
  std::string label() const;
  Status error(const std::string& why) const;
};

} // namespace tessel::decompose
