#include "builder.h"

#include <set>
#include <string_view>
#include <unordered_map>

namespace tessel::decompose {
namespace {

using RuleFn = Status (*)(LoweringBuilder&);

// Looked up for every node of every plan a session makes: a hash table, not a chain of string
// comparisons down the operator list.
RuleFn findRule(const std::string& opType) {
  static const std::unordered_map<std::string_view, RuleFn> rules = {
#define TESSEL_ONNX_OP(op, rule, summary) {#op, &rule},
#include "tessel/decompose/onnx_ops.def"
#undef TESSEL_ONNX_OP
  };
  auto it = rules.find(opType);
  return it == rules.end() ? nullptr : it->second;
}

} // namespace

bool isSupportedOp(const std::string& opType) {
  return findRule(opType) != nullptr;
}

const std::vector<OpSummary>& supportedOps() {
  static const std::vector<OpSummary> ops = {
#define TESSEL_ONNX_OP(op, rule, summary) {#op, summary},
#include "tessel/decompose/onnx_ops.def"
#undef TESSEL_ONNX_OP
  };
  return ops;
}

Result<Lowering> lower(const Node& node) {
  RuleFn rule = findRule(node.opType);
  if (!rule)
    return unsupported("operator '" + node.opType + "' (node '" + node.name + "', opset " +
                       std::to_string(node.opset) + ") is not supported");
  if (node.numOutputs < 1) return node.error("has no outputs");
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const NodeInput& in = node.inputs[i];
    if (!in.present) continue;
    auto count = elementCount(in.desc.shape);
    if (!count.isOk())
      return count.status().withContext(node.label() + " input " + std::to_string(i));
  }
  LoweringBuilder b(node);
  if (Status s = rule(b); !s.isOk()) // named by its node once
    return s.message().find(node.label()) == std::string::npos ? s.withContext(node.label()) : s;
  for (int i = 0; i < node.numOutputs; ++i) {
    auto count = elementCount(b.desc(b.output(i)).shape);
    if (!count.isOk()) return count.status().withContext(node.label() + " output");
  }
  return b.finish();
}

} // namespace tessel::decompose
