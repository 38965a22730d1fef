#include "control_flow.h"
#include "program_builder.h"
#include "tessel/graph/graph.h"

#include <algorithm>
#include <deque>
#include <iterator>

namespace tessel::graph {
namespace {

// Non-null for every constant, empty ones included (null marks "not known before the run").
const void* constantPointer(const Value& v) {
  static const uint8_t kEmpty = 0;
  if (!v.constant) return nullptr;
  return v.constant->empty() ? &kEmpty : v.constant->data();
}

// True when no primitive of the lowering reads a non-constant node input: the outputs are then
// known now (all-constant inputs, or Shape, which only reads its input's shape).
bool readsOnlyConstants(const decompose::Lowering& low, const decompose::Node& node) {
  if (low.primitives.empty()) return false;
  for (const Primitive& p : low.primitives)
    for (int32_t id : p.inputs)
      if (id < low.numInputs && !node.inputs[id].constant) return false;
  // Folding materialises the outputs now; ones larger than what they are computed from (a
  // ConstantOfShape of gigabytes) stay operations and cost memory only when run.
  int64_t elements = 0, inElements = 0;
  for (int i = 0; i < low.numOutputs; ++i)
    elements += low.tensors[static_cast<size_t>(low.numInputs + i)].numel();
  for (int i = 0; i < low.numInputs; ++i)
    if (node.inputs[i].constant) inElements += node.inputs[i].desc.numel();
  return worthFolding(elements, inElements);
}

// The shape input `in` runs with: the given one where there is one (checked against the declared
// dims), the declared one otherwise (which must then be fully known).
Result<Shape> inputShape(const Value& in, const Specialization& spec) {
  const Shape& declared = in.desc.shape;
  auto it = spec.shapes.find(in.name);
  if (it != spec.shapes.end()) {
    if (!in.anyRank && it->second.size() != declared.size())
      return invalidArgument("--shape " + in.name + ": rank " + std::to_string(it->second.size()) +
                             " differs from the model's " + std::to_string(declared.size()));
    for (size_t i = 0; i < it->second.size(); ++i) {
      if (it->second[i] < 0)
        return invalidArgument("--shape " + in.name + " " + shapeToString(it->second) +
                               ": dims cannot be negative");
      if (!in.anyRank && declared[i] >= 0 && declared[i] != it->second[i])
        return invalidArgument("--shape " + in.name + " " + shapeToString(it->second) +
                               " contradicts the model's fixed dim " + std::to_string(i));
    }
    return it->second;
  }
  for (int64_t d : declared)
    if (d < 0)
      return invalidArgument("input '" + in.name + "' has a symbolic dim; pass --shape " + in.name +
                             "=DIMS");
  return declared;
}

// Graph inputs up to this size whose values a rule needs, directly or through the nodes between,
// are worth keying plans on (a shape, axes, a size); past it, or when the value is computed from
// no input (a generator too large to fold), the graph is planned in stages at the needed value.
constexpr int64_t kValueInputBytes = 4096;

// Fills *wanted for node n, which asked for values it did not get (n.node.missingValues): the
// first such value, as the graph input it is or the small inputs it is computed from, else as a
// value to plan in stages at.
void findWanted(const Graph& g, const Graph& expanded, const Node& n,
                const std::vector<bool>& isInput, const std::vector<int32_t>& producer,
                Wanted* wanted) {
  std::vector<int32_t> computed; // needed values computed from the run's data
  for (size_t i : n.node.missingValues) {
    if (i >= n.inputs.size() || n.inputs[i] < 0 || g.values[n.inputs[i]].constant) continue;
    const int32_t needed = n.inputs[i];
    std::vector<int32_t> stack{needed}, inputs;
    std::vector<bool> seen(g.values.size(), false);
    bool large = false;
    while (!stack.empty()) {
      const int32_t v = stack.back();
      stack.pop_back();
      if (v < 0 || seen[v] || g.values[v].constant) continue;
      seen[v] = true;
      if (isInput[v]) {
        inputs.push_back(v);
        large = large || g.values[v].desc.byteSize() > kValueInputBytes;
      } else if (producer[v] >= 0) {
        for (int32_t in : expanded.nodes[producer[v]].inputs)
          stack.push_back(in);
      }
    }
    if (isInput[needed] || (!inputs.empty() && !large)) {
      wanted->input = g.values[isInput[needed] ? needed : inputs.front()].name;
      return;
    }
    if (producer[needed] >= 0 &&
        std::find(computed.begin(), computed.end(), needed) == computed.end())
      computed.push_back(needed);
  }
  if (computed.empty()) return;
  wanted->values = std::move(computed);
  for (const Value& v : g.values)
    wanted->described.push_back(v.desc);
}

// specialize(), and with a sink, specializeToProgram(): each node's lowering goes to the sink as
// it is made, and the graph returned keeps its values but no nodes.
Result<Graph> specializeInto(const Graph& source, const Specialization& spec, Wanted* wanted,
                             std::unique_ptr<ProgramBuilder>* builder) {
  Graph g;
  if (!builder) g.nodes.reserve(source.nodes.size()); // with a sink no node is kept
  g.opset = source.opset;
  g.values = source.values;
  g.inputs = source.inputs;
  g.outputs = source.outputs;
  for (const auto& [name, dims] : spec.shapes) {
    bool known = false;
    for (int32_t v : source.inputs)
      known = known || source.values[v].name == name;
    if (!known) return invalidArgument("--shape names '" + name + "', which is not a model input");
  }
  std::vector<bool> isInput(g.values.size(), false);
  // List inputs (sequences, optionals): their elements become the inputs, in their place.
  Sequences sequences; // sequence values, as lists of tensor values
  std::vector<int32_t> flatInputs;
  for (int32_t v : source.inputs) {
    const Value in = g.values[v];
    if (in.kind == ValueKind::Tensor) {
      flatInputs.push_back(v);
      continue;
    }
    const bool optional = in.kind == ValueKind::Optional || in.kind == ValueKind::OptionalSequence;
    auto it = spec.items.find(in.name);
    if (it == spec.items.end() && !optional)
      return invalidArgument("input '" + in.name + "' is a sequence: its elements must be given");
    List list;
    list.optional = in.kind == ValueKind::Optional || it == spec.items.end();
    if (it != spec.items.end()) {
      if (in.kind == ValueKind::Optional && it->second.size() > 1)
        return invalidArgument("input '" + in.name + "' is an optional: one tensor at most");
      constexpr size_t kMaxItems = size_t{1} << 16;
      if (it->second.size() > kMaxItems)
        return invalidArgument("input '" + in.name + "' holds more than 2^16 tensors");
      for (size_t k = 0; k < it->second.size(); ++k) {
        Value item{
            in.name + "[" + std::to_string(k) + "]", {in.desc.dtype, it->second[k]}, nullptr};
        for (int64_t d : item.desc.shape)
          if (d < 0) return invalidArgument("input '" + item.name + "': dims cannot be negative");
        TESSEL_RETURN_IF_ERROR(
            elementCount(item.desc.shape).status().withContext("input '" + item.name + "'"));
        g.values.push_back(item);
        const auto id = static_cast<int32_t>(g.values.size() - 1);
        list.items.push_back(id);
        flatInputs.push_back(id);
      }
    }
    sequences[v] = std::move(list);
  }
  g.inputs = flatInputs;
  isInput.resize(g.values.size(), false);
  decompose::Node scratch; // with a sink: the node being lowered (its input list reused)
  for (int32_t v : g.inputs) {
    Value& in = g.values[v];
    isInput[v] = true;
    TESSEL_ASSIGN_OR_RETURN(in.desc.shape, inputShape(in, spec));
    TESSEL_RETURN_IF_ERROR(
        elementCount(in.desc.shape).status().withContext("input '" + in.name + "'"));
    if (auto it = spec.values.find(in.name); it != spec.values.end()) {
      if (!it->second || static_cast<int64_t>(it->second->size()) != in.desc.byteSize())
        return invalidArgument("input '" + in.name + "': its value holds " +
                               std::to_string(it->second ? it->second->size() : 0) +
                               " bytes, its shape " + in.desc.toString() + " needs " +
                               std::to_string(in.desc.byteSize()));
      in.constant = it->second;
    }
  }
  ProgramBuilder* sink = nullptr;
  if (builder) {
    *builder = std::make_unique<ProgramBuilder>(g);
    sink = builder->get();
    sink->addInputs();
  }
  // The source as laid out so far: control-flow nodes replaced by what they laid out (an If's
  // branch, a Loop's iterations), values added at the ids g gets them. Nodes are taken from the
  // front of `work`, then from the source; what a control-flow node lays out goes to the front
  // of `work`. Until the first control-flow node (or a stop) needs it, `expanded` is the source
  // nodes taken so far and is not built: most graphs have no control flow.
  const auto listValuesEnd = static_cast<int64_t>(g.values.size());
  Graph expanded;
  bool expandedBuilt = false;
  size_t nextSource = 0; // source nodes taken
  std::deque<Node> work;
  std::vector<int32_t> producer(g.values.size(), -1); // the expanded node writing each value
  auto addExpanded = [&](const Node& n) {
    expanded.nodes.push_back(n);
    for (int32_t v : n.outputs)
      if (v >= 0 && static_cast<size_t>(v) < producer.size())
        producer[v] = static_cast<int32_t>(expanded.nodes.size() - 1);
  };
  auto buildExpanded = [&] {
    if (expandedBuilt) return;
    expandedBuilt = true;
    expanded.opset = source.opset;
    expanded.values = source.values; // then list inputs' elements, at the ids g gives them
    expanded.values.insert(expanded.values.end(),
                           g.values.begin() + static_cast<int64_t>(source.values.size()),
                           g.values.begin() + listValuesEnd);
    expanded.inputs = source.inputs;
    expanded.outputs = source.outputs;
    producer.resize(g.values.size(), -1);
    for (size_t k = 0; k < nextSource; ++k)
      if (!source.nodes[k].hidden) addExpanded(source.nodes[k]);
  };
  // On a stop: what is wanted, with the expanded source (the rest of the nodes appended).
  auto stop = [&](const Node& n, Status why) -> Status {
    if (!wanted) return why;
    buildExpanded();
    isInput.resize(g.values.size(), false);
    producer.resize(g.values.size(), -1);
    findWanted(g, expanded, n, isInput, producer, wanted);
    if (!wanted->values.empty()) {
      auto full = std::make_shared<Graph>(expanded);
      full->nodes.insert(full->nodes.end(), work.begin(), work.end());
      full->nodes.insert(full->nodes.end(), source.nodes.begin() + static_cast<int64_t>(nextSource),
                         source.nodes.end());
      wanted->expanded = std::move(full);
    }
    return why;
  };
  // Control flow lays out at most this many nodes more than the source has (a hostile loop count
  // is refused in about a second, not planned for minutes).
  const size_t maxNodes = source.nodes.size() + spec.maxLaidOutNodes;
  while (!work.empty() || nextSource < source.nodes.size()) {
    const size_t laid = (expandedBuilt ? expanded.nodes.size() : nextSource) + work.size();
    if (laid + (source.nodes.size() - nextSource) > maxNodes)
      return invalidArgument("control flow lays out more than " +
                             std::to_string(spec.maxLaidOutNodes) + " nodes");
    // A node from `work` is taken out of it; the source's are read in place and copied once,
    // into g, when they lower to primitives.
    Node taken;
    const Node* next = &taken;
    if (!work.empty()) {
      taken = std::move(work.front());
      work.pop_front();
    } else {
      next = &source.nodes[nextSource++];
    }
    const Node& src = *next;
    producer.resize(g.values.size(), -1);
    if (expandedBuilt && !src.hidden) addExpanded(src);
    const bool readsSequence =
        !sequences.empty() && std::any_of(src.inputs.begin(), src.inputs.end(),
                                          [&](int32_t v) { return v >= 0 && sequences.count(v); });
    if (src.node.opType == "Identity" && readsSequence && src.outputs.size() == 1) {
      sequences[src.outputs[0]] = sequences[src.inputs[0]]; // a sequence passed on
      continue;
    }
    if (laidOut(src.node.opType)) {
      // (A Loop's scan outputs so far, its last inputs, were described as they were laid out.)
      const size_t checked = src.inputs.size() - static_cast<size_t>(src.scannedInputs);
      for (size_t k = 0; k < checked; ++k)
        if (const int32_t v = src.inputs[k];
            v >= 0 && !sequences.count(v) && g.values[v].desc.dtype == DType::Undefined)
          return internalError(src.node.label() + " reads '" + g.values[src.inputs[k]].name +
                               "' before it is described");
      src.node.missingValues.clear();
      buildExpanded();
      std::vector<Node> laidOutNodes;
      const Status st = layOutControlFlow(src, &g, &expanded, &sequences, &laidOutNodes);
      if (!st.isOk()) return stop(src, st);
      if (replacedByLayout(src.node.opType)) {
        expanded.nodes.pop_back();
        for (int32_t v : src.outputs)
          if (v >= 0) producer[v] = -1;
      }
      work.insert(work.begin(), std::make_move_iterator(laidOutNodes.begin()),
                  std::make_move_iterator(laidOutNodes.end()));
      continue;
    }
    if (readsSequence)
      return unsupported(src.node.label() + " reads a sequence (only the sequence operators, "
                                            "Identity, If and Loop take sequences)");
    // The node as lowered: its copy kept in g, or (with a sink) the scratch node.
    Node* kept = nullptr;
    decompose::Node* dn = &scratch;
    if (!sink) {
      kept = next == &taken ? &g.nodes.emplace_back(std::move(taken)) : &g.nodes.emplace_back(src);
      dn = &kept->node;
    } else {
      scratch.opType = src.node.opType;
      scratch.name = src.node.name;
      scratch.opset = src.node.opset;
      scratch.attrs = src.node.attrs;
      scratch.numOutputs = src.node.numOutputs;
    }
    const Node& n = kept ? *kept : src;
    dn->inputs.clear();
    dn->inputs.reserve(n.inputs.size());
    dn->missingValues.clear();
    for (int32_t v : n.inputs) {
      if (v < 0) {
        dn->inputs.push_back({});
        continue;
      }
      const Value& val = g.values[v];
      if (val.desc.dtype == DType::Undefined)
        return internalError(dn->label() + " reads '" + val.name + "' before it is described");
      dn->inputs.push_back({true, val.desc, constantPointer(val)});
    }
    const auto dropKept = [&] {
      if (kept) g.nodes.pop_back();
    };
    auto lowered = decompose::lower(*dn);
    if (!lowered.isOk()) {
      Node failed = kept ? std::move(*kept) : src;
      if (!kept) failed.node = *dn;
      dropKept();
      return stop(failed, lowered.status());
    }
    if (static_cast<size_t>(lowered->numOutputs) != n.outputs.size())
      return internalError(dn->label() + ": output count differs from its lowering");
    // Output i's description, as the lowering gives it.
    const auto outDesc = [&](size_t i) -> const TensorDesc& {
      return lowered->tensors[static_cast<size_t>(lowered->numInputs) + i];
    };
    if (readsOnlyConstants(*lowered, *dn)) {
      // A view of a constant (Identity, Reshape, Squeeze, ...) is that constant's bytes.
      const decompose::Lowering& low = *lowered;
      if (low.primitives.size() == 1 && low.primitives[0].kind() == PrimitiveKind::View &&
          low.numOutputs == 1 && low.primitives[0].outputs[0] == low.numInputs &&
          low.primitives[0].inputs[0] < low.numInputs) {
        const int32_t from = n.inputs[static_cast<size_t>(low.primitives[0].inputs[0])];
        const int32_t out = n.outputs[0];
        g.values[out] = {g.values[out].name, outDesc(0), g.values[from].constant};
        dropKept();
        continue;
      }
      std::vector<const void*> data;
      for (const auto& in : dn->inputs)
        data.push_back(in.constant);
      auto values = evaluateLowering(*lowered, data);
      if (!values.isOk()) return values.status().withContext(dn->label());
      const std::vector<int32_t> outs = n.outputs; // n may be the kept node, dropped next
      dropKept();
      for (size_t i = 0; i < outs.size(); ++i)
        g.values[outs[i]] = {g.values[outs[i]].name, outDesc(i), (*values)[i]};
      continue;
    }
    for (size_t i = 0; i < n.outputs.size(); ++i)
      g.values[n.outputs[i]].desc = outDesc(i);
    if (sink) {
      TESSEL_RETURN_IF_ERROR(sink->addNode(*lowered, true, n.inputs, n.outputs, dn->name));
      continue;
    }
    kept->lowering = std::make_shared<decompose::Lowering>(std::move(*lowered));
  }
  // List outputs: their elements in their place.
  std::vector<int32_t> flatOutputs;
  for (int32_t v : source.outputs) {
    const bool declaredList = source.values[v].kind != ValueKind::Tensor;
    auto it = sequences.find(v);
    if (it == sequences.end()) {
      flatOutputs.push_back(v);
      g.outputItems.push_back(declaredList ? 1 : -1);
      continue;
    }
    if (!declaredList)
      return invalidArgument("graph output '" + g.values[v].name +
                             "' is declared a tensor but computes a sequence or an optional");
    flatOutputs.insert(flatOutputs.end(), it->second.items.begin(), it->second.items.end());
    g.outputItems.push_back(static_cast<int32_t>(it->second.items.size()));
  }
  g.outputs = flatOutputs;
  for (int32_t v : g.outputs)
    if (g.values[v].desc.dtype == DType::Undefined)
      return corrupt("graph output '" + g.values[v].name + "' is never defined");
  return g;
}

} // namespace

Result<Graph> specialize(const Graph& source, const Specialization& spec, Wanted* wanted) {
  return specializeInto(source, spec, wanted, nullptr);
}

Result<std::shared_ptr<Program>> specializeToProgram(const Graph& source,
                                                     const Specialization& spec, Wanted* wanted,
                                                     Graph* specialized) {
  std::unique_ptr<ProgramBuilder> builder;
  TESSEL_ASSIGN_OR_RETURN(*specialized, specializeInto(source, spec, wanted, &builder));
  return builder->finish(*specialized, true);
}

} // namespace tessel::graph
