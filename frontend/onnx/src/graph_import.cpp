#include "tessel/frontend/graph.h"

#include <algorithm>
#include <cstring>

namespace tessel::frontend {
namespace {

using Bytes = std::shared_ptr<const std::vector<uint8_t>>;

// The value of a Constant node, from whichever of its attributes is set.
Result<GraphValue> constantNodeValue(const OnnxNode& n) {
  GraphValue v;
  v.name = n.outputs.empty() ? n.name : n.outputs[0];
  auto t = n.tensorAttrs.find("value");
  if (t != n.tensorAttrs.end()) {
    v.desc = t->second.desc;
    v.constant = t->second.bytes;
    return v;
  }
  auto bytesOf = [](const void* p, size_t size) {
    const auto* b = static_cast<const uint8_t*>(p);
    return std::make_shared<const std::vector<uint8_t>>(b, b + size);
  };
  // The typed accessors turn an attribute of the wrong type into an error naming the node.
  decompose::Node attrs;
  attrs.opType = n.opType;
  attrs.name = n.name;
  attrs.attrs = n.attrs;
  if (attrs.hasAttr("value_float")) {
    TESSEL_ASSIGN_OR_RETURN(double d, attrs.floatAttr("value_float", 0));
    const float f = static_cast<float>(d);
    v.desc = {DType::F32, {}};
    v.constant = bytesOf(&f, sizeof f);
    return v;
  }
  if (attrs.hasAttr("value_int")) {
    TESSEL_ASSIGN_OR_RETURN(int64_t i, attrs.intAttr("value_int", 0));
    v.desc = {DType::I64, {}};
    v.constant = bytesOf(&i, sizeof i);
    return v;
  }
  if (attrs.hasAttr("value_ints")) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> ints, attrs.intsAttr("value_ints", {}));
    v.desc = {DType::I64, {static_cast<int64_t>(ints.size())}};
    v.constant = bytesOf(ints.data(), ints.size() * sizeof(int64_t));
    return v;
  }
  if (attrs.hasAttr("value_floats")) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<double> d, attrs.floatsAttr("value_floats"));
    std::vector<float> f(d.begin(), d.end());
    v.desc = {DType::F32, {static_cast<int64_t>(f.size())}};
    v.constant = bytesOf(f.data(), f.size() * sizeof(float));
    return v;
  }
  return unsupported("Constant '" + n.name + "': no supported value attribute");
}

// Tensor attributes of other operators (ConstantOfShape's value) become a scalar attribute plus
// "<name>.dtype" with the ONNX element type.
Status scalarTensorAttrs(const OnnxNode& n, decompose::Node* node) {
  for (const auto& [key, t] : n.tensorAttrs) {
    if (t.desc.numel() != 1)
      return unsupported(n.opType + " '" + n.name + "': tensor attribute '" + key + "' with " +
                         std::to_string(t.desc.numel()) + " elements");
    decompose::NodeInput in{true, t.desc, t.bytes->data()};
    decompose::Node probe;
    probe.inputs = {in};
    auto v = probe.constFloats(0, key.c_str());
    if (!v.isOk()) return v.status();
    node->attrs[key] = (*v)[0];
    node->attrs[key + ".dtype"] = static_cast<int64_t>(dtypeToOnnx(t.desc.dtype));
  }
  return Status::ok();
}

} // namespace

namespace {

// Names visible from enclosing graphs, innermost first (null at the model's graph).
struct Scope {
  const std::map<std::string, int32_t>* names;
  const Scope* outer;
  bool sees(const std::string& name) const {
    return names->count(name) || (outer && outer->sees(name));
  }
};

// A graph (the model's when outer is null) as a graph::Graph; a subgraph's reads of enclosing
// values become its `captured` values.
Result<graph::Graph> buildGraph(const OnnxGraph& model, int opset, const Scope* outer) {
  graph::Graph g;
  g.opset = opset;
  std::map<std::string, int32_t> byName;
  auto define = [&](GraphValue v) -> int32_t {
    g.values.push_back(std::move(v));
    const int32_t id = static_cast<int32_t>(g.values.size() - 1);
    byName[g.values.back().name] = id;
    return id;
  };
  // A name this graph reads: its own value, or (in a subgraph) one of an enclosing graph's.
  auto lookup = [&](const std::string& name) -> int32_t {
    auto it = byName.find(name);
    if (it != byName.end()) return it->second;
    if (!outer || !outer->sees(name)) return -1;
    const int32_t id = define({name, {}, nullptr});
    g.captured.push_back(id);
    return id;
  };
  for (const auto& t : model.initializers)
    define({t.name, t.desc, t.bytes});
  for (const auto& in : model.inputs) {
    GraphValue v{in.name, {in.dtype, in.dims}, nullptr};
    v.anyRank = !in.hasShape;
    v.kind = static_cast<graph::ValueKind>(in.kind);
    g.inputs.push_back(define(std::move(v)));
  }
  for (const OnnxNode& n : model.nodes) {
    if (n.opType == "Constant") {
      TESSEL_ASSIGN_OR_RETURN(GraphValue v, constantNodeValue(n));
      define(std::move(v));
      continue;
    }
    GraphNode gn;
    gn.node.opType = n.opType;
    gn.node.name = n.name;
    gn.node.opset = opset;
    gn.node.attrs = n.attrs;
    gn.node.numOutputs = static_cast<int>(n.outputs.size());
    TESSEL_RETURN_IF_ERROR(scalarTensorAttrs(n, &gn.node));
    for (const std::string& in : n.inputs) {
      if (in.empty()) {
        gn.inputs.push_back(-1);
        continue;
      }
      const int32_t id = lookup(in);
      if (id < 0)
        return corrupt(n.opType + " '" + n.name + "' reads '" + in +
                       "', which no earlier node defines");
      gn.inputs.push_back(id);
    }
    // Subgraphs: each reads the enclosing values all of them read, in one order, so the node
    // lists them once after its own inputs.
    const Scope scope{&byName, outer};
    std::vector<std::string> captured;
    std::map<std::string, graph::Graph> subs;
    for (const auto& [key, sub] : n.graphs) {
      TESSEL_ASSIGN_OR_RETURN(graph::Graph built, buildGraph(*sub, opset, &scope));
      for (int32_t c : built.captured)
        if (std::find(captured.begin(), captured.end(), built.values[c].name) == captured.end())
          captured.push_back(built.values[c].name);
      subs[key] = std::move(built);
    }
    for (auto& [key, sub] : subs) {
      std::vector<int32_t> ordered;
      for (const std::string& name : captured) {
        int32_t found = -1;
        for (int32_t c : sub.captured)
          if (sub.values[c].name == name) found = c;
        if (found < 0) { // read by a sibling only
          sub.values.push_back({name, {}, nullptr});
          found = static_cast<int32_t>(sub.values.size() - 1);
        }
        ordered.push_back(found);
      }
      sub.captured = std::move(ordered);
      gn.subgraphs[key] = std::make_shared<const graph::Graph>(std::move(sub));
    }
    for (const std::string& name : captured) {
      const int32_t id = lookup(name);
      if (id < 0) return corrupt(n.opType + " '" + n.name + "' reads unknown '" + name + "'");
      gn.inputs.push_back(id);
    }
    gn.capturedInputs = static_cast<int32_t>(captured.size());
    for (const std::string& out : n.outputs)
      gn.outputs.push_back(define({out, {}, nullptr}));
    g.nodes.push_back(std::move(gn));
  }
  for (size_t i = 0; i < model.outputs.size(); ++i) {
    const int32_t id = lookup(model.outputs[i]);
    if (id < 0) return corrupt("graph output '" + model.outputs[i] + "' is never defined");
    if (!outer && i < model.outputInfo.size())
      g.values[id].kind = static_cast<graph::ValueKind>(model.outputInfo[i].kind);
    g.outputs.push_back(id);
  }
  return g;
}

} // namespace

Result<graph::Graph> sourceGraph(const OnnxModel& model) {
  return buildGraph(model, model.opset, nullptr);
}

Result<ImportedGraph> importGraph(const OnnxModel& model, const ShapeOverrides& shapes,
                                  graph::Wanted* wanted) {
  TESSEL_ASSIGN_OR_RETURN(graph::Graph source, sourceGraph(model));
  graph::Specialization spec;
  spec.shapes = shapes;
  TESSEL_ASSIGN_OR_RETURN(ImportedGraph g, graph::specialize(source, spec, wanted));
  for (size_t i = 0; i < g.outputs.size() && i < model.outputInfo.size(); ++i) {
    // What the model declares must be what it computes (symbolic dims match any size).
    const OnnxValueInfo& declared = model.outputInfo[i];
    if (declared.kind != 0) continue; // a list: its elements are checked when they run
    const TensorDesc& got = g.values[g.outputs[i]].desc;
    bool same = declared.dtype == got.dtype;
    if (declared.hasShape) {
      same = same && declared.dims.size() == got.shape.size();
      for (size_t d = 0; same && d < declared.dims.size(); ++d)
        same = declared.dims[d] < 0 || declared.dims[d] == got.shape[d];
    }
    if (!same) {
      std::string dims;
      for (int64_t d : declared.dims)
        dims += (dims.empty() ? "" : ",") + (d < 0 ? std::string("?") : std::to_string(d));
      return corrupt("graph output '" + g.values[g.outputs[i]].name + "' is declared " +
                     std::string(dtypeName(declared.dtype)) + "[" + dims + "] but computes " +
                     got.toString());
    }
  }
  return g;
}

} // namespace tessel::frontend
