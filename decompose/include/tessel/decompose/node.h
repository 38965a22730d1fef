// Node: one high-level operator (ONNX semantics) with concrete input descriptions, the input to
// the decomposition rules. MLIR-free: built by the ONNX importer, the decompose pass and tests.
#pragma once

#include "tessel/core/tensor_desc.h"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tessel::decompose {

using AttrValue =
    std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;

// A node's attributes: a map shared between copies until one of them changes it. Plans made at
// run time copy every node of the graph per new input shape; sharing keeps that a pointer copy.
class Attrs {
public:
  using Map = std::map<std::string, AttrValue, std::less<>>; // found by string_view: no copies
  using const_iterator = Map::const_iterator;

  Attrs() = default;
  Attrs(Map map) : map_(std::make_shared<Map>(std::move(map))) {}
  Attrs(std::initializer_list<Map::value_type> values) : Attrs(Map(values)) {}

  const_iterator begin() const { return map().begin(); }
  const_iterator end() const { return map().end(); }
  const_iterator find(std::string_view key) const { return map().find(key); }
  size_t count(std::string_view key) const { return map().count(key); }
  size_t size() const { return map().size(); }
  bool empty() const { return map().empty(); }
  // Writing gives this node its own map first.
  AttrValue& operator[](const std::string& key) { return mutableMap()[key]; }
  size_t erase(const std::string& key) { return mutableMap().erase(key); }
  bool operator==(const Attrs& o) const { return map() == o.map(); }

private:
  const Map& map() const {
    static const Map kEmpty;
    return map_ ? *map_ : kEmpty;
  }
  Map& mutableMap() {
    if (!map_)
      map_ = std::make_shared<Map>();
    else if (map_.use_count() > 1)
      map_ = std::make_shared<Map>(*map_);
    return *map_;
  }
  std::shared_ptr<Map> map_;
};

struct NodeInput {
  bool present = false; // ONNX optional inputs may be absent
  TensorDesc desc;
  const void* constant = nullptr; // dense bytes of desc when the value is known at convert time
};

struct Node {
  std::string opType;
  std::string name;
  int opset = 13;
  Attrs attrs;
  std::vector<NodeInput> inputs;
  int numOutputs = 1;
  // Inputs whose values a rule asked for (constInts, constFloats) without getting them: a caller
  // that can supply them (a graph input's value at run time) lowers again with them.
  mutable std::vector<size_t> missingValues;

  // Attribute accessors: the default when absent, an error when present with another type.
  Result<int64_t> intAttr(std::string_view key, int64_t dflt) const;
  Result<double> floatAttr(std::string_view key, double dflt) const;
  Result<std::string> stringAttr(std::string_view key, const std::string& dflt) const;
  Result<std::vector<int64_t>> intsAttr(std::string_view key,
                                        const std::vector<int64_t>& dflt) const;
  Result<std::vector<double>> floatsAttr(std::string_view key) const;
  // A list of ints as a Shape (dims, strides, pads: kept inline, no allocation per read).
  Result<Shape> dimsAttr(std::string_view key, const Shape& dflt) const;
  bool hasAttr(std::string_view key) const { return attrs.count(key) != 0; }

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
