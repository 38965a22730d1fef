#include "tessel/graph/graph.h"

#include "tessel/backends/reference.h"
#include "tessel/graph/fuse.h"
#include "tessel/runtime/session.h"

#include <algorithm>

namespace tessel::graph {

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
      t.data = keep->back()->empty() ? &kAbsent : keep->back()->data();
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

Result<std::shared_ptr<Program>> lowerToProgram(Graph g) {
  auto prog = std::make_shared<Program>();
  auto keep = std::make_shared<std::vector<Bytes>>();
  static const uint8_t kEmpty = 0;
  // Program tensor of each graph value that is used (-1 until then).
  std::vector<int32_t> tensorOf(g.values.size(), -1);
  prog->tensors.reserve(g.values.size() * 2); // values, then the lowerings' temporaries
  size_t primitives = 0;
  for (const Node& n : g.nodes)
    primitives += n.lowering ? n.lowering->primitives.size() : 0;
  prog->primitives.reserve(primitives + g.outputs.size());
  const auto add = [&](ProgramTensor t) {
    prog->tensors.push_back(std::move(t));
    return static_cast<int32_t>(prog->tensors.size() - 1);
  };
  const auto valueTensor = [&](int32_t v) {
    if (tensorOf[v] >= 0) return tensorOf[v];
    Value& val = g.values[v]; // g is this function's own: its name and description move
    ProgramTensor t{std::move(val.name), std::move(val.desc), nullptr};
    if (val.constant) {
      keep->push_back(val.constant);
      t.data = val.constant->empty() ? &kEmpty : val.constant->data();
    }
    return tensorOf[v] = add(std::move(t));
  };
  for (int32_t v : g.inputs)
    if (!g.values[v].constant) prog->inputs.push_back(valueTensor(v));
  std::vector<bool> written(g.values.size(), false);
  std::vector<int32_t> ids; // per node: lowering tensor -> program tensor
  for (Node& n : g.nodes) {
    if (!n.lowering) return internalError(n.node.label() + ": not specialized");
    decompose::Lowering& low = *n.lowering;
    const bool owned = n.lowering.use_count() == 1; // this graph's alone: moved, not copied
    ids.assign(low.tensors.size(), -1);
    for (int i = 0; i < low.numInputs; ++i)
      if (n.inputs[i] >= 0) ids[i] = valueTensor(n.inputs[i]);
    for (int i = 0; i < low.numOutputs; ++i) {
      ids[low.numInputs + i] = valueTensor(n.outputs[i]);
      written[n.outputs[i]] = true;
    }
    for (size_t id = low.numInputs + low.numOutputs; id < low.tensors.size(); ++id) {
      std::string name; // "node/tK", built in one allocation
      name.reserve(n.node.name.size() + 24);
      name.append(n.node.name).append("/t").append(std::to_string(id));
      ProgramTensor t{std::move(name), owned ? std::move(low.tensors[id]) : low.tensors[id],
                      nullptr};
      if (auto c = low.constants.find(static_cast<int32_t>(id)); c != low.constants.end()) {
        keep->push_back(owned ? std::make_shared<const std::vector<uint8_t>>(std::move(c->second))
                              : std::make_shared<const std::vector<uint8_t>>(c->second));
        t.data = keep->back()->empty() ? &kEmpty : keep->back()->data();
      }
      ids[id] = add(std::move(t));
    }
    for (Primitive& source : low.primitives) {
      Primitive p = owned ? std::move(source) : source;
      for (int32_t& id : p.inputs) {
        if (id < 0 || static_cast<size_t>(id) >= ids.size() || ids[id] < 0)
          return internalError(n.node.label() + ": a primitive reads an absent input");
        id = ids[id];
      }
      for (int32_t& id : p.outputs)
        id = ids[id];
      prog->primitives.push_back(std::move(p));
    }
  }
  // Outputs no primitive writes (constants, inputs passed through, a value listed twice) get a
  // copy of their own.
  std::vector<bool> listed(g.values.size(), false);
  for (int32_t v : g.outputs) {
    const int32_t src = valueTensor(v);
    if (written[v] && !listed[v]) {
      prog->outputs.push_back(src);
    } else {
      const TensorDesc d = prog->tensors[src].desc;
      const int32_t copy = add({prog->tensors[src].name, d, nullptr});
      RasterParams r;
      if (d.numel() > 0)
        r.regions.push_back(Region{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, d.numel()}});
      Primitive p;
      p.params = std::move(r);
      p.inputs = {src};
      p.outputs = {copy};
      p.origin = prog->tensors[src].name;
      prog->primitives.push_back(std::move(p));
      prog->outputs.push_back(copy);
    }
    listed[v] = true;
  }
  prog->storage = keep;
  fusePostOps(*prog, keep.get());
  TESSEL_RETURN_IF_ERROR(validateProgram(*prog));
  return prog;
}

} // namespace tessel::graph
