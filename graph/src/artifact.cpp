#include "tessel/graph/artifact.h"

#include "artifact_generated.h"
#include "tessel/runtime/artifact.h"

#include <cstring>

namespace tessel::graph {
namespace {

namespace fb = tessel::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// The graph as the model's `graph` table (subgraphs nested in their nodes' attributes); every
// graph's constants go to the data section.
class GraphTable final : public ArtifactExtension {
public:
  explicit GraphTable(const Graph& g) : g_(g) {}

  void appendData(std::vector<uint8_t>* data) override { place(g_, data); }

  uint32_t build(FlatBufferBuilder& b) override { return table(b, g_).o; }

private:
  void place(const Graph& g, std::vector<uint8_t>* data) {
    std::vector<uint64_t>& offsets = offsets_[&g];
    offsets.assign(g.values.size(), 0);
    for (size_t i = 0; i < g.values.size(); ++i) {
      const Bytes& c = g.values[i].constant;
      if (!c) continue;
      data->resize((data->size() + 63) / 64 * 64);
      offsets[i] = data->size();
      data->insert(data->end(), c->begin(), c->end());
    }
    for (const Node& n : g.nodes)
      for (const auto& [key, sub] : n.subgraphs)
        place(*sub, data);
  }

  Offset<fb::Graph> table(FlatBufferBuilder& b, const Graph& g) {
    const std::vector<uint64_t>& offsets = offsets_[&g];
    std::vector<Offset<fb::GraphValue>> values;
    for (size_t i = 0; i < g.values.size(); ++i) {
      const Value& v = g.values[i];
      const std::vector<int64_t> shape = v.desc.shape.vec();
      values.push_back(fb::CreateGraphValueDirect(
          b, v.name.c_str(), static_cast<uint8_t>(v.desc.dtype), &shape, v.anyRank,
          v.constant != nullptr, offsets[i], v.constant ? v.constant->size() : 0,
          static_cast<uint8_t>(v.kind)));
    }
    std::vector<Offset<fb::GraphNode>> nodes;
    for (const Node& n : g.nodes) {
      std::vector<Offset<fb::GraphAttr>> attrs;
      for (const auto& [name, value] : n.node.attrs) {
        const auto kind = static_cast<fb::GraphAttrKind>(value.index());
        const auto* i = std::get_if<int64_t>(&value);
        const auto* f = std::get_if<double>(&value);
        const auto* s = std::get_if<std::string>(&value);
        const auto* ints = std::get_if<std::vector<int64_t>>(&value);
        const auto* floats = std::get_if<std::vector<double>>(&value);
        attrs.push_back(fb::CreateGraphAttrDirect(b, name.c_str(), kind, i ? *i : 0, f ? *f : 0,
                                                  s ? s->c_str() : nullptr, ints, floats));
      }
      for (const auto& [name, sub] : n.subgraphs) {
        const Offset<fb::Graph> sg = table(b, *sub);
        attrs.push_back(fb::CreateGraphAttrDirect(b, name.c_str(), fb::GraphAttrKind_Graph, 0, 0,
                                                  nullptr, nullptr, nullptr, sg));
      }
      nodes.push_back(fb::CreateGraphNodeDirect(b, n.node.opType.c_str(), n.node.name.c_str(),
                                                n.node.opset, &attrs, &n.inputs, &n.outputs,
                                                n.capturedInputs));
    }
    return fb::CreateGraphDirect(b, g.opset, &values, &nodes, &g.inputs, &g.outputs, &g.captured);
  }

  const Graph& g_;
  std::map<const Graph*, std::vector<uint64_t>> offsets_;
};

// The attribute kinds are decompose::AttrValue's alternatives, in order, then Graph.
static_assert(std::variant_size_v<decompose::AttrValue> == 5 &&
                  static_cast<int>(fb::GraphAttrKind_Graph) == 5 &&
                  static_cast<int>(fb::GraphAttrKind_MAX) == 5,
              "GraphAttrKind and decompose::AttrValue disagree");

bool aligned8(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 8 == 0;
}

Result<std::vector<int64_t>> longs(const flatbuffers::Vector<int64_t>* v, const std::string& what) {
  if (!v) return std::vector<int64_t>{};
  if (v->size() > 0 && !aligned8(v->data())) return corrupt(what + ": misaligned vector");
  return std::vector<int64_t>(v->begin(), v->end());
}

std::string str(const flatbuffers::String* s) {
  return s ? s->str() : std::string();
}

Result<decompose::AttrValue> readAttr(const fb::GraphAttr& a, const std::string& what) {
  switch (a.kind()) {
  case fb::GraphAttrKind_Int: return decompose::AttrValue(a.i());
  case fb::GraphAttrKind_Float: return decompose::AttrValue(a.f());
  case fb::GraphAttrKind_String: return decompose::AttrValue(str(a.s()));
  case fb::GraphAttrKind_Ints: {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> v, longs(a.ints(), what));
    return decompose::AttrValue(std::move(v));
  }
  case fb::GraphAttrKind_Floats: {
    if (a.floats() && a.floats()->size() > 0 && !aligned8(a.floats()->data()))
      return corrupt(what + ": misaligned vector");
    std::vector<double> v;
    if (a.floats()) v.assign(a.floats()->begin(), a.floats()->end());
    return decompose::AttrValue(std::move(v));
  }
  case fb::GraphAttrKind_Graph: break; // read by readGraph
  }
  return corrupt(what + " has unknown kind " + std::to_string(static_cast<int>(a.kind())));
}

// A graph table (depth 0) or a subgraph in a node's attribute (depth > 0: its inputs may be
// untyped, and it may read captured values of the enclosing graph), read untrusted.
Result<std::shared_ptr<const Graph>> readGraph(const fb::Graph& table, const uint8_t* blob,
                                               uint64_t blobSize, int depth) {
  const fb::Graph* fg = &table;
  constexpr int kMaxDepth = 16;
  if (depth > kMaxDepth) return corrupt("graph: subgraphs nested more than 16 deep");
  const bool subgraph = depth > 0;
  auto g = std::make_shared<Graph>();
  g->opset = fg->opset();
  const auto count = [](const auto* v) { return v ? static_cast<size_t>(v->size()) : size_t{0}; };
  const size_t nValues = count(fg->values());
  // Where each value comes from: 0 undefined yet, 1 constant, 2 input, 3 a node's output,
  // 4 the enclosing graph.
  std::vector<uint8_t> source(nValues, 0);
  for (size_t i = 0; i < nValues; ++i) {
    const fb::GraphValue* fv = fg->values()->Get(static_cast<flatbuffers::uoffset_t>(i));
    Value v;
    v.name = str(fv->name());
    const std::string what = "graph value '" + v.name + "'";
    TESSEL_ASSIGN_OR_RETURN(v.desc.shape, longs(fv->shape(), what));
    v.anyRank = fv->any_rank();
    if (fv->kind() > static_cast<uint8_t>(ValueKind::OptionalSequence))
      return corrupt(what + " has unknown kind " + std::to_string(fv->kind()));
    v.kind = static_cast<ValueKind>(fv->kind());
    if (fv->dtype() != 0) {
      if (dtypeSize(static_cast<DType>(fv->dtype())) == 0)
        return corrupt(what + " has unknown dtype " + std::to_string(fv->dtype()));
      v.desc.dtype = static_cast<DType>(fv->dtype());
    }
    for (int64_t d : v.desc.shape)
      if (d < -1) return corrupt(what + " has dim " + std::to_string(d));
    if (fv->constant()) {
      if (v.desc.dtype == DType::Undefined) return corrupt(what + " is a constant without a dtype");
      auto n = elementCount(v.desc.shape);
      if (!n.isOk()) return corrupt(what + ": " + n.status().message());
      const uint64_t want = static_cast<uint64_t>(v.desc.byteSize());
      if (fv->data_size() != want || fv->data_offset() > blobSize ||
          blobSize - fv->data_offset() < want)
        return corrupt(what + ": its constant lies outside the data section");
      const uint8_t* p = blob + fv->data_offset();
      if (v.desc.dtype == DType::Bool)
        for (uint64_t k = 0; k < want; ++k)
          if (p[k] > 1)
            return corrupt(what + ": a bool constant holds the byte " + std::to_string(p[k]));
      v.constant = std::make_shared<const std::vector<uint8_t>>(p, p + want);
      source[i] = 1;
    }
    g->values.push_back(std::move(v));
  }
  const auto valueId = [&](int32_t id, const std::string& what) -> Status {
    if (id < 0 || static_cast<size_t>(id) >= nValues)
      return corrupt(what + " names value " + std::to_string(id) + " of " +
                     std::to_string(nValues));
    return Status::ok();
  };
  if (fg->inputs())
    for (int32_t id : *fg->inputs()) {
      TESSEL_RETURN_IF_ERROR(valueId(id, "a graph input"));
      Value& v = g->values[id];
      if (source[id] != 0 || (v.desc.dtype == DType::Undefined && !subgraph))
        return corrupt("graph input '" + v.name + "' is a constant, listed twice or untyped");
      source[id] = 2;
      g->inputs.push_back(id);
    }
  if (fg->captured() && fg->captured()->size() > 0) {
    if (!subgraph) return corrupt("the model's graph lists captured values");
    for (int32_t id : *fg->captured()) {
      TESSEL_RETURN_IF_ERROR(valueId(id, "a captured value"));
      Value& v = g->values[id];
      if (source[id] != 0 || v.desc.dtype != DType::Undefined)
        return corrupt("captured value '" + v.name + "' is defined here or listed twice");
      source[id] = 4;
      g->captured.push_back(id);
    }
  }
  if (fg->nodes())
    for (const fb::GraphNode* fn : *fg->nodes()) {
      Node n;
      n.node.opType = str(fn->op_type());
      n.node.name = str(fn->name());
      n.node.opset = fn->opset();
      const std::string what = "graph node '" + n.node.name + "'";
      if (n.node.opType.empty()) return corrupt(what + " has no operator");
      if (fn->attrs())
        for (const fb::GraphAttr* a : *fn->attrs()) {
          const std::string name = str(a->name());
          const std::string attr = what + " attribute '" + name + "'";
          if (a->kind() == fb::GraphAttrKind_Graph) {
            if (!a->g()) return corrupt(attr + " holds no graph");
            auto sub = readGraph(*a->g(), blob, blobSize, depth + 1);
            if (!sub.isOk()) return sub.status().withContext(attr);
            n.subgraphs[name] = std::move(*sub);
            continue;
          }
          TESSEL_ASSIGN_OR_RETURN(n.node.attrs[name], readAttr(*a, attr));
        }
      if (fn->inputs())
        for (int32_t id : *fn->inputs()) {
          if (id != -1) {
            TESSEL_RETURN_IF_ERROR(valueId(id, what + "'s input"));
            if (source[id] == 0)
              return corrupt(what + " reads '" + g->values[id].name + "' before it is defined");
          }
          n.inputs.push_back(id);
        }
      if (fn->outputs())
        for (int32_t id : *fn->outputs()) {
          TESSEL_RETURN_IF_ERROR(valueId(id, what + "'s output"));
          if (source[id] != 0 || g->values[id].desc.dtype != DType::Undefined)
            return corrupt(what + " writes '" + g->values[id].name +
                           "', which is defined elsewhere or already described");
          source[id] = 3;
          n.outputs.push_back(id);
        }
      if (n.outputs.empty()) return corrupt(what + " has no outputs");
      n.capturedInputs = fn->captured_inputs();
      if (n.capturedInputs < 0 || static_cast<size_t>(n.capturedInputs) > n.inputs.size())
        return corrupt(what + " has " + std::to_string(n.capturedInputs) + " captured inputs of " +
                       std::to_string(n.inputs.size()));
      for (const auto& [key, sub] : n.subgraphs)
        if (sub->captured.size() != static_cast<size_t>(n.capturedInputs))
          return corrupt(what + "'s subgraph '" + key + "' reads " +
                         std::to_string(sub->captured.size()) +
                         " enclosing values, the node lists " + std::to_string(n.capturedInputs));
      n.node.numOutputs = static_cast<int>(n.outputs.size());
      g->nodes.push_back(std::move(n));
    }
  if (fg->outputs())
    for (int32_t id : *fg->outputs()) {
      TESSEL_RETURN_IF_ERROR(valueId(id, "a graph output"));
      if (source[id] == 0)
        return corrupt("graph output '" + g->values[id].name + "' is never defined");
      g->outputs.push_back(id);
    }
  return std::shared_ptr<const Graph>(std::move(g));
}

} // namespace

std::vector<uint8_t> writeGraphArtifact(const Graph& source, const std::string& producer) {
  GraphTable table(source);
  return writeArtifact(Program{}, producer, &table);
}

Result<std::shared_ptr<const Graph>> artifactGraph(const Program& loaded) {
  if (!loaded.artifact) return std::shared_ptr<const Graph>();
  const fb::Model* m = fb::GetSizePrefixedModel(loaded.artifact); // verified by the loader
  const fb::Graph* fg = m->graph();
  if (!fg) return std::shared_ptr<const Graph>();
  const auto* data = m->data();
  return readGraph(*fg, data ? data->data() : nullptr, data ? data->size() : 0, 0);
}

} // namespace tessel::graph
