#include "tessel/graph/graph.h"

#include "program_builder.h"
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

namespace {
const uint8_t kEmpty = 0; // where an empty constant points
} // namespace

ProgramBuilder::ProgramBuilder(const Graph& g) : g_(&g) {
  tensorOf_.assign(g.values.size(), -1);
  written_.assign(g.values.size(), false);
  prog_->tensors.reserve(g.values.size() * 2); // values, then the lowerings' temporaries
  prog_->primitives.reserve(g.values.size());
}

int32_t ProgramBuilder::add(ProgramTensor t) {
  prog_->tensors.push_back(std::move(t));
  return static_cast<int32_t>(prog_->tensors.size() - 1);
}

// The program tensor of graph value v, made on first use. Its name is set by finish(): until
// then the graph's later nodes may still read the value.
int32_t ProgramBuilder::valueTensor(int32_t v) {
  if (static_cast<size_t>(v) >= tensorOf_.size()) {
    tensorOf_.resize(g_->values.size(), -1);
    written_.resize(g_->values.size(), false);
  }
  if (tensorOf_[v] >= 0) return tensorOf_[v];
  const Value& val = g_->values[v];
  ProgramTensor t{{}, val.desc, nullptr};
  if (val.constant) {
    keep_->push_back(val.constant);
    t.data = val.constant->empty() ? &kEmpty : val.constant->data();
  }
  return tensorOf_[v] = add(std::move(t));
}

void ProgramBuilder::addInputs() {
  for (int32_t v : g_->inputs)
    if (!g_->values[v].constant) prog_->inputs.push_back(valueTensor(v));
}

Status ProgramBuilder::addNode(decompose::Lowering& low, bool owned,
                               const std::vector<int32_t>& inputs,
                               const std::vector<int32_t>& outputs, const std::string& name) {
  ids_.assign(low.tensors.size(), -1);
  for (int i = 0; i < low.numInputs; ++i)
    if (inputs[i] >= 0) ids_[i] = valueTensor(inputs[i]);
  for (int i = 0; i < low.numOutputs; ++i) {
    ids_[low.numInputs + i] = valueTensor(outputs[i]);
    written_[outputs[i]] = true;
  }
  for (size_t id = low.numInputs + low.numOutputs; id < low.tensors.size(); ++id) {
    std::string tname; // "node/tK", built in one allocation
    tname.reserve(name.size() + 24);
    tname.append(name).append("/t").append(std::to_string(id));
    ProgramTensor t{std::move(tname), owned ? std::move(low.tensors[id]) : low.tensors[id],
                    nullptr};
    if (auto c = low.constants.find(static_cast<int32_t>(id)); c != low.constants.end()) {
      keep_->push_back(owned ? std::make_shared<const std::vector<uint8_t>>(std::move(c->second))
                             : std::make_shared<const std::vector<uint8_t>>(c->second));
      t.data = keep_->back()->empty() ? &kEmpty : keep_->back()->data();
    }
    ids_[id] = add(std::move(t));
  }
  for (Primitive& source : low.primitives) {
    Primitive p = owned ? std::move(source) : source;
    for (int32_t& id : p.inputs) {
      if (id < 0 || static_cast<size_t>(id) >= ids_.size() || ids_[id] < 0)
        return internalError(name + ": a primitive reads an absent input");
      id = ids_[id];
    }
    for (int32_t& id : p.outputs)
      id = ids_[id];
    prog_->primitives.push_back(std::move(p));
  }
  return Status::ok();
}

Result<std::shared_ptr<Program>> ProgramBuilder::finish(Graph& g, bool takeNames) {
  g_ = &g;
  // Outputs no primitive writes (constants, inputs passed through, a value listed twice) get a
  // copy of their own.
  std::vector<bool> listed(g.values.size(), false);
  for (int32_t v : g.outputs) {
    const int32_t src = valueTensor(v);
    if (written_[v] && !listed[v]) {
      prog_->outputs.push_back(src);
    } else {
      const TensorDesc d = prog_->tensors[src].desc;
      const int32_t copy = add({g.values[v].name, d, nullptr});
      RasterParams r;
      if (d.numel() > 0)
        r.regions.push_back(Region{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, d.numel()}});
      Primitive p;
      p.params = std::move(r);
      p.inputs = {src};
      p.outputs = {copy};
      p.origin = g.values[v].name;
      prog_->primitives.push_back(std::move(p));
      prog_->outputs.push_back(copy);
    }
    listed[v] = true;
  }
  for (size_t v = 0; v < tensorOf_.size(); ++v)
    if (tensorOf_[v] >= 0)
      prog_->tensors[tensorOf_[v]].name =
          takeNames ? std::move(g.values[v].name) : g.values[v].name;
  prog_->storage = keep_;
  fusePostOps(*prog_, keep_.get());
  TESSEL_RETURN_IF_ERROR(validateProgram(*prog_));
  return std::move(prog_);
}

Result<std::shared_ptr<Program>> lowerToProgram(Graph g) {
  ProgramBuilder builder(g);
  builder.addInputs();
  for (Node& n : g.nodes) {
    if (!n.lowering) return internalError(n.node.label() + ": not specialized");
    const bool owned = n.lowering.use_count() == 1; // this graph's alone: moved, not copied
    TESSEL_RETURN_IF_ERROR(builder.addNode(*n.lowering, owned, n.inputs, n.outputs, n.node.name));
  }
  return builder.finish(g, true);
}

} // namespace tessel::graph
