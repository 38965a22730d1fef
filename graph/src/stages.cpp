// splitAt: a source graph cut where a rule needs a value computed from the run's data.
#include "tessel/graph/graph.h"

#include <algorithm>

namespace tessel::graph {

Result<Stages> splitAt(const Graph& source, const std::vector<int32_t>& values,
                       const std::vector<TensorDesc>& described) {
  const size_t count = source.values.size();
  if (values.empty() || described.size() != count)
    return internalError("splitAt: no values, or descriptions that do not fit the graph");
  std::vector<int32_t> producer(count, -1);
  for (size_t i = 0; i < source.nodes.size(); ++i)
    for (int32_t v : source.nodes[i].outputs)
      if (v >= 0 && static_cast<size_t>(v) < count) producer[v] = static_cast<int32_t>(i);
  for (int32_t value : values)
    if (value < 0 || static_cast<size_t>(value) >= count || producer[value] < 0)
      return internalError("splitAt: value " + std::to_string(value) +
                           " is not computed by a node");

  // The prefix: every node the values depend on.
  std::vector<bool> inPrefix(source.nodes.size(), false);
  std::vector<int32_t> stack = values;
  while (!stack.empty()) {
    const int32_t v = stack.back();
    stack.pop_back();
    if (v < 0 || producer[v] < 0 || inPrefix[producer[v]]) continue;
    inPrefix[producer[v]] = true;
    for (int32_t in : source.nodes[producer[v]].inputs)
      stack.push_back(in);
  }

  Stages s;
  s.prefix.opset = s.suffix.opset = source.opset;
  s.prefix.values = s.suffix.values = source.values;
  std::vector<bool> readByPrefix(count, false), readBySuffix(count, false);
  for (size_t i = 0; i < source.nodes.size(); ++i) {
    const Node& n = source.nodes[i];
    (inPrefix[i] ? s.prefix : s.suffix).nodes.push_back(n);
    for (int32_t v : n.inputs)
      if (v >= 0) (inPrefix[i] ? readByPrefix : readBySuffix)[v] = true;
  }
  for (int32_t v : source.outputs)
    readBySuffix[v] = true;

  // Prefix inputs: the source inputs its nodes read. Its outputs: the values, then every other
  // value it computes that the suffix reads.
  for (size_t i = 0; i < source.inputs.size(); ++i)
    if (readByPrefix[source.inputs[i]]) {
      s.prefix.inputs.push_back(source.inputs[i]);
      s.prefixFrom.push_back(static_cast<int>(i));
    }
  s.prefix.outputs = values;
  for (size_t v = 0; v < count; ++v) {
    const int32_t id = static_cast<int32_t>(v);
    if (std::find(values.begin(), values.end(), id) == values.end() && producer[v] >= 0 &&
        inPrefix[producer[v]] && readBySuffix[v])
      s.prefix.outputs.push_back(id);
  }

  // Suffix inputs: the source inputs it reads (or passes through), then the prefix's outputs.
  for (size_t i = 0; i < source.inputs.size(); ++i)
    if (readBySuffix[source.inputs[i]]) {
      s.suffix.inputs.push_back(source.inputs[i]);
      s.suffixFrom.push_back(static_cast<int>(i));
    }
  for (size_t k = 0; k < s.prefix.outputs.size(); ++k) {
    const int32_t v = s.prefix.outputs[k];
    const TensorDesc& d = described[v];
    if (d.dtype == DType::Undefined)
      return internalError("splitAt: '" + source.values[v].name + "' is not described");
    Value& in = s.suffix.values[v];
    in.desc = {d.dtype, Shape(d.shape.size(), -1)};
    in.constant = nullptr;
    s.suffix.inputs.push_back(v);
    s.suffixFrom.push_back(-1 - static_cast<int>(k));
  }
  s.suffix.outputs = source.outputs;
  return s;
}

} // namespace tessel::graph
