#include "tessel/backends/reference.h"
#include "tessel/decompose/lowering.h"
#include "tessel/frontend/graph.h"
#include "tessel/runtime/session.h"

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

// Non-null for every constant, empty ones included (null marks "not known at convert time").
const void* constantPointer(const GraphValue& v) {
  static const uint8_t kEmpty = 0;
  if (!v.constant) return nullptr;
  return v.constant->empty() ? &kEmpty : v.constant->data();
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

// True when no primitive of the lowering reads a non-constant node input: the outputs are then
// known at convert time (all-constant inputs, or Shape, which only reads its input's shape).
bool readsOnlyConstants(const decompose::Lowering& low, const decompose::Node& node) {
  if (low.primitives.empty()) return false;
  // Folding materialises the outputs now; ones larger than what they are computed from (a
  // ConstantOfShape of gigabytes) stay operations and cost memory only when run.
  int64_t elements = 0, inElements = 0;
  for (const TensorDesc& d : low.outputDescs())
    elements += d.numel();
  for (int i = 0; i < low.numInputs; ++i)
    if (node.inputs[i].constant) inElements += node.inputs[i].desc.numel();
  if (!worthFolding(elements, inElements)) return false;
  for (const Primitive& p : low.primitives)
    for (int32_t id : p.inputs)
      if (id < low.numInputs && !node.inputs[id].constant) return false;
  return true;
}

Result<Shape> inputShape(const OnnxValueInfo& in, const ShapeOverrides& shapes) {
  auto it = shapes.find(in.name);
  if (it != shapes.end()) {
    if (!in.dims.empty() && it->second.size() != in.dims.size())
      return invalidArgument("--shape " + in.name + ": rank " + std::to_string(it->second.size()) +
                             " differs from the model's " + std::to_string(in.dims.size()));
    for (size_t i = 0; i < in.dims.size(); ++i)
      if (in.dims[i] >= 0 && in.dims[i] != it->second[i])
        return invalidArgument("--shape " + in.name + " " + shapeToString(it->second) +
                               " contradicts the model's fixed dim " + std::to_string(i));
    return it->second;
  }
  for (int64_t d : in.dims)
    if (d < 0)
      return invalidArgument("input '" + in.name + "' has a symbolic dim; pass --shape " + in.name +
                             "=DIMS");
  return in.dims;
}

} // namespace

Result<std::vector<Bytes>> evaluateLowering(const decompose::Lowering& low,
                                            const std::vector<const void*>& inputs) {
  static const uint8_t kAbsent = 0;
  auto prog = std::make_shared<Program>();
  auto keep = std::make_shared<std::vector<Bytes>>();
  for (size_t id = 0; id < low.tensors.size(); ++id) {
    ProgramTensor t{"t" + std::to_string(id), low.tensors[id], nullptr};
    if (id < static_cast<size_t>(low.numInputs)) {
      t.data = inputs[id] ? inputs[id] : &kAbsent;
      if (!inputs[id]) t.desc = {DType::U8, {1}}; // absent: a placeholder no rule reads
    } else if (auto c = low.constants.find(static_cast<int32_t>(id)); c != low.constants.end()) {
      keep->push_back(std::make_shared<const std::vector<uint8_t>>(c->second));
      t.data = keep->back()->data();
    }
    prog->tensors.push_back(std::move(t));
  }
  prog->primitives = low.primitives;
  for (int i = 0; i < low.numOutputs; ++i)
    prog->outputs.push_back(low.numInputs + i);
  prog->storage = keep;
  TESSEL_RETURN_IF_ERROR(validateProgram(*prog));
  BackendRegistry registry;
  registerReferenceBackend(registry);
  SessionOptions one;
  one.threads = 1; // constant folding: small, and no worker threads in the converter
  TESSEL_ASSIGN_OR_RETURN(auto session, Session::create(prog, registry, one));
  TESSEL_RETURN_IF_ERROR(session->run());
  std::vector<Bytes> outs;
  for (int i = 0; i < low.numOutputs; ++i) {
    const auto* p = static_cast<const uint8_t*>(session->outputData(i));
    outs.push_back(std::make_shared<const std::vector<uint8_t>>(
        p, p + prog->tensors[prog->outputs[i]].desc.byteSize()));
  }
  return outs;
}

bool worthFolding(int64_t outElements, int64_t inElements) {
  constexpr int64_t kMaxFoldElements = int64_t{1} << 24, kFoldFloor = int64_t{1} << 16;
  return outElements <= kMaxFoldElements && outElements <= std::max(inElements, kFoldFloor);
}

Result<ImportedGraph> importGraph(const OnnxModel& model, const ShapeOverrides& shapes) {
  ImportedGraph g;
  g.opset = model.opset;
  std::map<std::string, int32_t> byName;
  auto define = [&](GraphValue v) -> int32_t {
    g.values.push_back(std::move(v));
    const int32_t id = static_cast<int32_t>(g.values.size() - 1);
    byName[g.values.back().name] = id;
    return id;
  };
  for (const auto& t : model.initializers)
    define({t.name, t.desc, t.bytes});
  for (const auto& in : model.inputs) {
    TESSEL_ASSIGN_OR_RETURN(Shape s, inputShape(in, shapes));
    g.inputs.push_back(define({in.name, {in.dtype, s}, nullptr}));
  }
  for (const auto& [name, dims] : shapes) {
    bool known = false;
    for (const auto& in : model.inputs)
      known = known || in.name == name;
    if (!known) return invalidArgument("--shape names '" + name + "', which is not a model input");
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
    gn.node.opset = model.opset;
    gn.node.attrs = n.attrs;
    gn.node.numOutputs = static_cast<int>(n.outputs.size());
    TESSEL_RETURN_IF_ERROR(scalarTensorAttrs(n, &gn.node));
    for (const std::string& in : n.inputs) {
      if (in.empty()) {
        gn.inputs.push_back(-1);
        gn.node.inputs.push_back({});
        continue;
      }
      auto it = byName.find(in);
      if (it == byName.end())
        return corrupt(n.opType + " '" + n.name + "' reads '" + in +
                       "', which no earlier node defines");
      const GraphValue& v = g.values[it->second];
      gn.inputs.push_back(it->second);
      gn.node.inputs.push_back({true, v.desc, constantPointer(v)});
    }
    TESSEL_ASSIGN_OR_RETURN(decompose::Lowering low, decompose::lower(gn.node));
    const std::vector<TensorDesc> outs = low.outputDescs();
    if (readsOnlyConstants(low, gn.node)) {
      std::vector<const void*> data;
      for (const auto& in : gn.node.inputs)
        data.push_back(in.constant);
      auto values = evaluateLowering(low, data);
      if (!values.isOk()) return values.status().withContext(gn.node.label());
      for (size_t i = 0; i < outs.size(); ++i)
        define({n.outputs[i], outs[i], (*values)[i]});
      continue;
    }
    for (size_t i = 0; i < outs.size(); ++i)
      gn.outputs.push_back(define({n.outputs[i], outs[i], nullptr}));
    g.nodes.push_back(std::move(gn));
  }
  for (size_t i = 0; i < model.outputs.size(); ++i) {
    const std::string& out = model.outputs[i];
    auto it = byName.find(out);
    if (it == byName.end()) return corrupt("graph output '" + out + "' is never defined");
    // What the model declares must be what it computes (symbolic dims match any size).
    if (i < model.outputInfo.size()) {
      const OnnxValueInfo& declared = model.outputInfo[i];
      const TensorDesc& got = g.values[it->second].desc;
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
        return corrupt("graph output '" + out + "' is declared " +
                       std::string(dtypeName(declared.dtype)) + "[" + dims + "] but computes " +
                       got.toString());
      }
    }
    g.outputs.push_back(it->second);
  }
  return g;
}

} // namespace tessel::frontend
