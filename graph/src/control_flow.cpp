// Control flow laid out when the plan is made: an If becomes the nodes of the branch its
// condition picks, a Loop its iterations one at a time (each needs the previous one's condition),
// a Scan its steps. Sequences are lists of tensor values while the plan is made: their operators
// keep the lists, and become Splits, Concats and Identities where tensors come in or out. What
// they read that is not known yet stops specialize() like any rule's missing value, so the plan
// is keyed on it or made in stages there.
#include "control_flow.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace tessel::graph {
namespace {

Bytes bytesOf(const void* p, size_t size) {
  const auto* b = static_cast<const uint8_t*>(p);
  return std::make_shared<const std::vector<uint8_t>>(b, b + size);
}

class Layout {
public:
  Layout(const Node& owner, Graph* g, Graph* expanded, Sequences* sequences, bool hide,
         std::vector<Node>* out)
      : owner_(owner), g_(*g), expanded_(*expanded), seq_(*sequences), hide_(hide), out_(*out) {}

  const std::string& name() const { return owner_.node.name; }
  Status error(const std::string& why) const {
    return invalidArgument(owner_.node.opType + " '" + name() + "': " + why);
  }
  size_t explicitInputs() const {
    return owner_.inputs.size() - static_cast<size_t>(owner_.capturedInputs) -
           static_cast<size_t>(owner_.scannedInputs);
  }
  int32_t input(size_t i) const { return i < explicitInputs() ? owner_.inputs[i] : -1; }

  int32_t addValue(Value v) {
    g_.values.push_back(v);
    expanded_.values.push_back(std::move(v));
    return static_cast<int32_t>(g_.values.size() - 1);
  }
  // A constant value of `desc` holding `bytes` (desc.byteSize() of them).
  int32_t constant(const TensorDesc& desc, const void* bytes) {
    return addValue({name() + "/k" + std::to_string(g_.values.size()), desc,
                     bytesOf(bytes, static_cast<size_t>(desc.byteSize()))});
  }
  int32_t constantI64(int64_t v, const Shape& shape = {}) {
    return constant({DType::I64, shape}, &v);
  }
  int32_t constantI64List(const std::vector<int64_t>& v) {
    return constant({DType::I64, {static_cast<int64_t>(v.size())}}, v.data());
  }
  int32_t constantBool(bool v) {
    const uint8_t b = v ? 1 : 0;
    return constant({DType::Bool, {}}, &b);
  }
  int32_t temp(const std::string& tag) {
    return addValue({name() + "/" + tag + std::to_string(g_.values.size()), {}, nullptr});
  }
  void node(const std::string& op, std::vector<int32_t> inputs, std::vector<int32_t> outputs,
            decompose::Attrs::Map attrs = {}) {
    Node n;
    n.node.opType = op;
    n.node.name = name() + "/" + op + std::to_string(out_.size());
    n.node.opset = 13;
    n.node.attrs = std::move(attrs);
    n.node.numOutputs = static_cast<int>(outputs.size());
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    n.hidden = hide_;
    out_.push_back(std::move(n));
  }
  // Sequences.
  bool isSequence(int32_t v) const { return v >= 0 && seq_.count(v); }
  Result<std::vector<int32_t>> elements(size_t i) const {
    const int32_t v = input(i);
    if (!isSequence(v)) return error("input " + std::to_string(i) + " is not a sequence");
    return seq_.at(v).items;
  }
  bool isOptional(int32_t v) const { return isSequence(v) && seq_.at(v).optional; }
  void setSequence(int32_t v, std::vector<int32_t> elements, bool optional = false) {
    seq_[v] = List{std::move(elements), optional};
  }
  // Output v as a constant known now.
  void defineConstant(int32_t v, const TensorDesc& desc, Bytes bytes) {
    g_.values[v].desc = desc;
    g_.values[v].constant = std::move(bytes);
  }
  // A position input (optional, `dflt` when absent) in [-n, n + past): normalized, or an error.
  Result<int64_t> position(size_t i, int64_t n, int64_t dflt, int64_t past) const {
    if (input(i) < 0) return dflt < 0 ? dflt + n : dflt;
    const std::optional<int64_t> p = known(input(i));
    if (!p) return missing(i, "its position");
    if (*p < -n || *p >= n + past)
      return error("position " + std::to_string(*p) + " outside a sequence of " +
                   std::to_string(n));
    return *p < 0 ? *p + n : *p;
  }
  const TensorDesc& desc(int32_t v) const { return g_.values[v].desc; }
  void identity(int32_t from, int32_t to) { node("Identity", {from}, {to}); }
  const Graph& graph() const { return g_; }
  void queue(Node n) { out_.push_back(std::move(n)); }
  // The integer values of value v when known now (the types and conversions of the rules'
  // constInts: i64, i32, i8, u8, bool), else none.
  std::optional<std::vector<int64_t>> knownInts(int32_t v) const {
    const Value& val = g_.values[v];
    if (!val.constant) return std::nullopt;
    decompose::Node probe;
    probe.inputs = {{true, val.desc, val.constant->data()}};
    auto ints = probe.constInts(0, val.name.c_str());
    if (!ints.isOk()) return std::nullopt;
    return std::move(*ints);
  }
  // The one integer value v holds, when known now.
  std::optional<int64_t> known(int32_t v) const {
    auto ints = knownInts(v);
    if (!ints || ints->size() != 1) return std::nullopt;
    return (*ints)[0];
  }
  // Asks for explicit input i's value the way rules do (missingValues), with an error to return.
  Status missing(size_t i, const std::string& what) const {
    owner_.node.missingValues.push_back(i);
    return unsupported(owner_.node.opType + " '" + name() + "': " + what +
                       " must be known when the plan is made");
  }

  // The nodes of `sub` with its inputs bound to `formals`, its captured values to the owner's
  // captured inputs; its outputs' new ids in *outs. Names gain "<owner>/<tag>/".
  Status clone(const Graph& sub, const std::vector<int32_t>& formals, const std::string& tag,
               std::vector<int32_t>* outs) {
    if (formals.size() != sub.inputs.size())
      return error("its subgraph takes " + std::to_string(sub.inputs.size()) + " inputs, " +
                   std::to_string(formals.size()) + " given");
    if (sub.captured.size() != static_cast<size_t>(owner_.capturedInputs))
      return error("its subgraph reads " + std::to_string(sub.captured.size()) +
                   " outer values, the node lists " + std::to_string(owner_.capturedInputs));
    std::vector<int32_t> map(sub.values.size(), -1);
    for (size_t i = 0; i < formals.size(); ++i)
      map[sub.inputs[i]] = formals[i];
    for (size_t j = 0; j < sub.captured.size(); ++j)
      map[sub.captured[j]] = owner_.inputs[explicitInputs() + j];
    const std::string prefix = name() + "/" + tag + "/";
    auto id = [&](int32_t v) {
      if (v < 0) return v;
      if (map[v] < 0) {
        Value copy = sub.values[v];
        copy.name = prefix + copy.name;
        if (!copy.constant) copy.desc = {};
        map[v] = addValue(std::move(copy));
      }
      return map[v];
    };
    for (const Node& n : sub.nodes) {
      Node c = n;
      c.node.name = prefix + n.node.name;
      for (int32_t& v : c.inputs)
        v = id(v);
      for (int32_t& v : c.outputs)
        v = id(v);
      out_.push_back(std::move(c));
    }
    outs->clear();
    for (int32_t v : sub.outputs)
      outs->push_back(id(v));
    return Status::ok();
  }

  const Graph* subgraph(const std::string& key) const {
    auto it = owner_.subgraphs.find(key);
    return it == owner_.subgraphs.end() || !it->second ? nullptr : it->second.get();
  }

  // Output `out` as the values stacked along `axis` (each given a dim of 1 there), in order.
  void stack(const std::vector<int32_t>& values, int64_t axis, int32_t out) {
    std::vector<int32_t> parts;
    for (int32_t v : values) {
      const int32_t u = temp("unsqueezed");
      node("Unsqueeze", {v, constantI64(axis, {1})}, {u});
      parts.push_back(u);
    }
    node("Concat", parts, {out}, {{"axis", axis}});
  }

private:
  const Node& owner_;
  Graph& g_;
  Graph& expanded_;
  Sequences& seq_;
  bool hide_;
  std::vector<Node>& out_;
};

Status layOutIf(Layout& l, const Node& n, const Graph&) {
  const int32_t cond = l.input(0);
  if (cond < 0) return l.error("expects a condition");
  const std::optional<int64_t> c = l.known(cond);
  if (!c) return l.missing(0, "its condition");
  const Graph* branch = l.subgraph(*c ? "then_branch" : "else_branch");
  if (!branch) return l.error("has no " + std::string(*c ? "then_branch" : "else_branch"));
  std::vector<int32_t> outs;
  TESSEL_RETURN_IF_ERROR(l.clone(*branch, {}, *c ? "then" : "else", &outs));
  if (outs.size() != n.outputs.size())
    return l.error("its branch has " + std::to_string(outs.size()) + " outputs, the node " +
                   std::to_string(n.outputs.size()));
  for (size_t i = 0; i < outs.size(); ++i)
    l.identity(outs[i], n.outputs[i]);
  return Status::ok();
}

// One iteration at a time: the body for iteration i, then the Loop again for the rest (its
// condition the body's), which the next pass lays out once that condition is known.
Status layOutLoop(Layout& l, const Node& n, const Graph&) {
  const Graph* body = l.subgraph("body");
  if (!body) return l.error("has no body");
  const size_t carried = l.explicitInputs() < 2 ? 0 : l.explicitInputs() - 2;
  if (body->outputs.size() < 1 + carried || n.outputs.size() < carried)
    return l.error("its body's outputs do not match its carried values");
  const size_t scans = body->outputs.size() - 1 - carried;
  if (n.outputs.size() != carried + scans)
    return l.error("has " + std::to_string(n.outputs.size()) + " outputs, its body " +
                   std::to_string(carried + scans));
  int64_t trips = INT64_MAX;
  if (l.input(0) >= 0) {
    const std::optional<int64_t> m = l.known(l.input(0));
    if (!m) return l.missing(0, "its trip count");
    trips = *m;
  }
  bool go = true;
  if (l.input(1) >= 0) {
    const std::optional<int64_t> c = l.known(l.input(1));
    if (!c) return l.missing(1, "its condition");
    go = *c != 0;
  }
  const size_t scannedStart = n.inputs.size() - static_cast<size_t>(n.scannedInputs);
  const int64_t done = n.iterationsDone;
  // Each iteration carries the scan outputs so far: laying out n of them is O(n^2) in those.
  constexpr int64_t kMaxIterations = int64_t{1} << 14;
  if (go && done < trips && done >= kMaxIterations)
    return l.error("runs more than 2^14 iterations");
  if (!go || done >= trips) { // finished: the carried values, and the scans stacked
    for (size_t i = 0; i < carried; ++i)
      l.identity(n.inputs[2 + i], n.outputs[i]);
    if (scans > 0 && done == 0)
      return unsupported(n.node.opType + " '" + l.name() +
                         "': a loop that runs no iteration has scan outputs of unknown shape");
    for (size_t k = 0; k < scans; ++k) {
      std::vector<int32_t> values;
      for (int64_t it = 0; it < done; ++it)
        values.push_back(n.inputs[scannedStart + static_cast<size_t>(it) * scans + k]);
      l.stack(values, 0, n.outputs[carried + k]);
    }
    return Status::ok();
  }
  std::vector<int32_t> formals{l.constantI64(done),
                               l.input(1) >= 0 ? l.input(1) : l.constantBool(true)};
  for (size_t i = 0; i < carried; ++i)
    formals.push_back(n.inputs[2 + i]);
  std::vector<int32_t> outs;
  TESSEL_RETURN_IF_ERROR(l.clone(*body, formals, "i" + std::to_string(done), &outs));
  // The rest of the loop: without a condition input the body's condition is ignored (ONNX).
  Node rest = n;
  if (l.input(1) >= 0) rest.inputs[1] = outs[0];
  for (size_t i = 0; i < carried; ++i)
    rest.inputs[2 + i] = outs[1 + i];
  for (size_t k = 0; k < scans; ++k)
    rest.inputs.push_back(outs[1 + carried + k]);
  rest.scannedInputs += static_cast<int32_t>(scans);
  rest.iterationsDone = done + 1;
  l.queue(std::move(rest));
  return Status::ok();
}

// Scan's steps over `length` positions of the scan inputs (each read along its axis, from the
// end where its direction is 1): the final states in *states, each step's scan outputs in
// (*scanned)[k].
Status scanSteps(Layout& l, const Graph& body, std::vector<int32_t>* states,
                 const std::vector<int32_t>& inputs, const std::vector<int64_t>& axes,
                 const std::vector<int64_t>& directions, int64_t length, const std::string& tag,
                 std::vector<std::vector<int32_t>>* scanned) {
  const size_t count = states->size();
  if (body.outputs.size() < count) return l.error("its body has fewer outputs than states");
  scanned->assign(body.outputs.size() - count, {});
  for (int64_t t = 0; t < length; ++t) {
    std::vector<int32_t> formals = *states;
    for (size_t j = 0; j < inputs.size(); ++j) {
      const int32_t element = l.temp("element");
      l.node("Gather", {inputs[j], l.constantI64(directions[j] ? length - 1 - t : t)}, {element},
             {{"axis", axes[j]}});
      formals.push_back(element);
    }
    std::vector<int32_t> outs;
    TESSEL_RETURN_IF_ERROR(l.clone(body, formals, tag + "t" + std::to_string(t), &outs));
    states->assign(outs.begin(), outs.begin() + static_cast<int64_t>(count));
    for (size_t k = 0; k < scanned->size(); ++k)
      (*scanned)[k].push_back(outs[count + k]);
  }
  return Status::ok();
}

Result<std::vector<int64_t>> perInput(const Node& n, const char* key, size_t count) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> v,
                          n.node.intsAttr(key, std::vector<int64_t>(count, 0)));
  if (v.size() != count)
    return n.node.error(std::string("'") + key + "' must have " + std::to_string(count) +
                        " values");
  return v;
}

// Scan laid out step by step; before opset 9 over each batch entry (axis 0) in turn, time on axis
// 1, sequence lengths all equal to the time extent.
Status layOutScan(Layout& l, const Node& n, const Graph& values) {
  const Graph* body = l.subgraph("body");
  if (!body) return l.error("has no body");
  TESSEL_ASSIGN_OR_RETURN(int64_t numScan, n.node.intAttr("num_scan_inputs", 0));
  const bool batched = n.node.opset < 9;
  const size_t first = batched ? 1 : 0; // sequence_lens comes first before opset 9
  const size_t explicitCount = l.explicitInputs();
  if (numScan < 1 || static_cast<size_t>(numScan) + first > explicitCount)
    return l.error("num_scan_inputs " + std::to_string(numScan) + " does not fit its " +
                   std::to_string(explicitCount) + " inputs");
  const size_t scans = static_cast<size_t>(numScan);
  const size_t stateCount = explicitCount - first - scans;
  std::vector<int32_t> states(n.inputs.begin() + static_cast<int64_t>(first),
                              n.inputs.begin() + static_cast<int64_t>(first + stateCount));
  std::vector<int32_t> inputs(n.inputs.begin() + static_cast<int64_t>(first + stateCount),
                              n.inputs.begin() + static_cast<int64_t>(explicitCount));
  for (int32_t v : states)
    if (v < 0) return l.error("a state input is absent");
  for (int32_t v : inputs)
    if (v < 0) return l.error("a scan input is absent");
  const size_t outScans = body->outputs.size() - std::min(body->outputs.size(), stateCount);
  if (n.outputs.size() != stateCount + outScans)
    return l.error("has " + std::to_string(n.outputs.size()) + " outputs, its body " +
                   std::to_string(body->outputs.size()));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> inAxes,
                          perInput(n, "scan_input_axes", batched ? 0 : scans));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> directions,
                          perInput(n, batched ? "directions" : "scan_input_directions", scans));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> outAxes,
                          perInput(n, "scan_output_axes", batched ? 0 : outScans));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> outDirections,
                          perInput(n, "scan_output_directions", batched ? 0 : outScans));
  if (batched) {
    inAxes.assign(scans, 0); // time is axis 0 once a batch entry is taken
    outAxes.assign(outScans, 0);
    outDirections.assign(outScans, 0);
  }
  // The sequence length: every scan input's extent along its axis.
  int64_t length = -1, batch = 1;
  for (size_t j = 0; j < scans; ++j) {
    const TensorDesc& d = values.values[inputs[j]].desc;
    int64_t axis = batched ? 1 : inAxes[j];
    if (axis < 0) axis += d.rank();
    if (axis < 0 || axis >= d.rank() || (batched && d.rank() < 2))
      return l.error("scan input " + std::to_string(j) + " " + d.toString() + " has no axis " +
                     std::to_string(batched ? 1 : inAxes[j]));
    if (length >= 0 && d.shape[axis] != length)
      return l.error("scan inputs differ in length along their axes");
    length = d.shape[axis];
    if (batched) batch = d.shape[0];
    if (!batched) inAxes[j] = axis;
  }
  if (length == 0 && outScans > 0)
    return unsupported(n.node.opType + " '" + l.name() +
                       "': a scan over no step has scan outputs of unknown shape");
  constexpr int64_t kMaxSteps = int64_t{1} << 16;
  if (length * batch > kMaxSteps) return l.error("runs more than 2^16 steps");
  if (batched && n.inputs[0] >= 0) { // sequence_lens: every entry the full length
    if (!values.values[n.inputs[0]].constant) return l.missing(0, "its sequence_lens");
    const std::optional<std::vector<int64_t>> lens = l.knownInts(n.inputs[0]);
    if (!lens || std::any_of(lens->begin(), lens->end(), [&](int64_t v) { return v != length; }))
      return unsupported(n.node.opType + " '" + l.name() +
                         "': sequence_lens shorter than the time axis");
  }
  std::vector<std::vector<int32_t>> finals(stateCount), outs(outScans);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<int32_t> s = states, in = inputs;
    if (batched) // this batch entry of every state and scan input
      for (std::vector<int32_t>* list : {&s, &in})
        for (int32_t& v : *list) {
          const int32_t entry = l.temp("entry");
          l.node("Gather", {v, l.constantI64(b)}, {entry}, {{"axis", int64_t{0}}});
          v = entry;
        }
    std::vector<std::vector<int32_t>> scanned;
    TESSEL_RETURN_IF_ERROR(scanSteps(l, *body, &s, in, inAxes, directions, length,
                                     batched ? "b" + std::to_string(b) : std::string(), &scanned));
    for (size_t i = 0; i < stateCount; ++i)
      finals[i].push_back(s[i]);
    for (size_t k = 0; k < outScans; ++k) {
      std::vector<int32_t> steps = scanned[k];
      if (outDirections[k]) std::reverse(steps.begin(), steps.end());
      if (!batched) {
        l.stack(steps, outAxes[k], n.outputs[stateCount + k]);
        continue;
      }
      const int32_t stacked = l.temp("steps");
      l.stack(steps, 0, stacked);
      outs[k].push_back(stacked);
    }
  }
  for (size_t i = 0; i < stateCount; ++i) {
    if (batched)
      l.stack(finals[i], 0, n.outputs[i]);
    else
      l.identity(finals[i][0], n.outputs[i]);
  }
  if (batched)
    for (size_t k = 0; k < outScans; ++k)
      l.stack(outs[k], 0, n.outputs[stateCount + k]);
  return Status::ok();
}

// Sequence operators: the lists kept, tensors in and out through plain nodes.
Status layOutSequenceEmpty(Layout& l, const Node& n, const Graph&) {
  l.setSequence(n.outputs[0], {});
  return Status::ok();
}

Status layOutSequenceConstruct(Layout& l, const Node& n, const Graph&) {
  std::vector<int32_t> items;
  for (size_t i = 0; i < l.explicitInputs(); ++i) {
    if (l.input(i) < 0 || l.isSequence(l.input(i)))
      return l.error("input " + std::to_string(i) + " is not a tensor");
    items.push_back(l.input(i));
  }
  l.setSequence(n.outputs[0], std::move(items));
  return Status::ok();
}

Status layOutSequenceInsert(Layout& l, const Node& n, const Graph&) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<int32_t> items, l.elements(0));
  const int32_t t = l.input(1);
  if (t < 0 || l.isSequence(t)) return l.error("expects a tensor to insert");
  const auto size = static_cast<int64_t>(items.size());
  TESSEL_ASSIGN_OR_RETURN(int64_t at, l.position(2, size, size, 1));
  items.insert(items.begin() + at, t);
  l.setSequence(n.outputs[0], std::move(items));
  return Status::ok();
}

Status layOutSequenceErase(Layout& l, const Node& n, const Graph&) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<int32_t> items, l.elements(0));
  const auto size = static_cast<int64_t>(items.size());
  if (size == 0) return l.error("erases from an empty sequence");
  TESSEL_ASSIGN_OR_RETURN(int64_t at, l.position(1, size, -1, 0));
  items.erase(items.begin() + at);
  l.setSequence(n.outputs[0], std::move(items));
  return Status::ok();
}

Status layOutSequenceAt(Layout& l, const Node& n, const Graph&) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<int32_t> items, l.elements(0));
  const auto size = static_cast<int64_t>(items.size());
  if (l.input(1) < 0) return l.error("expects a position");
  TESSEL_ASSIGN_OR_RETURN(int64_t at, l.position(1, size, 0, 0));
  l.identity(items[static_cast<size_t>(at)], n.outputs[0]);
  return Status::ok();
}

Status layOutSequenceLength(Layout& l, const Node& n, const Graph&) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<int32_t> items, l.elements(0));
  const auto size = static_cast<int64_t>(items.size());
  l.defineConstant(n.outputs[0], {DType::I64, {}}, bytesOf(&size, sizeof size));
  return Status::ok();
}

// SplitToSequence: a Split along the axis (into pieces of 1 without `split`, their axis dropped
// unless keepdims; into pieces of a scalar `split`'s size, the last shorter; or `split`'s sizes).
Status layOutSplitToSequence(Layout& l, const Node& n, const Graph&) {
  const int32_t x = l.input(0);
  if (x < 0 || l.isSequence(x)) return l.error("expects a tensor to split");
  const TensorDesc d = l.desc(x);
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, n.node.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t keepdims, n.node.intAttr("keepdims", 1));
  if (axis < -d.rank() || axis >= d.rank())
    return l.error("axis " + std::to_string(axis) + " outside rank " + std::to_string(d.rank()));
  if (axis < 0) axis += d.rank();
  const int64_t dim = d.shape[static_cast<size_t>(axis)];
  std::vector<int64_t> sizes;
  bool squeeze = false;
  if (l.input(1) < 0) {
    sizes.assign(static_cast<size_t>(dim), 1);
    squeeze = keepdims == 0;
  } else {
    const Value& split = l.graph().values[l.input(1)];
    if (!split.constant) return l.missing(1, "its split");
    if (split.desc.dtype != DType::I32 && split.desc.dtype != DType::I64)
      return l.error("split must be i32 or i64");
    const std::vector<int64_t> given = *l.knownInts(l.input(1));
    if (split.desc.rank() == 0) {
      if (given[0] < 1) return l.error("split size " + std::to_string(given[0]));
      for (int64_t at = 0; at < dim; at += given[0])
        sizes.push_back(std::min(given[0], dim - at));
    } else {
      int64_t total = 0;
      for (int64_t s : given) {
        if (s < 0) return l.error("negative split size");
        if (s > dim - total) // (checked before adding: hostile sizes cannot overflow the sum)
          return l.error("split sizes add up to more than the axis, " + std::to_string(dim));
        total += s;
      }
      if (total != dim)
        return l.error("split sizes add up to " + std::to_string(total) + ", the axis is " +
                       std::to_string(dim));
      sizes = given;
    }
  }
  constexpr size_t kMaxElements = size_t{1} << 16;
  if (sizes.size() > kMaxElements) return l.error("splits into more than 2^16 tensors");
  std::vector<int32_t> pieces;
  if (!sizes.empty()) {
    for (size_t i = 0; i < sizes.size(); ++i)
      pieces.push_back(l.temp("piece"));
    l.node("Split", {x, l.constantI64List(sizes)}, pieces, {{"axis", axis}});
    if (squeeze)
      for (int32_t& piece : pieces) {
        const int32_t squeezed = l.temp("squeezed");
        l.node("Squeeze", {piece, l.constantI64(axis, {1})}, {squeezed});
        piece = squeezed;
      }
  }
  l.setSequence(n.outputs[0], std::move(pieces));
  return Status::ok();
}

Status layOutConcatFromSequence(Layout& l, const Node& n, const Graph&) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<int32_t> items, l.elements(0));
  if (items.empty()) return l.error("concatenates an empty sequence");
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, n.node.intAttr("axis", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t newAxis, n.node.intAttr("new_axis", 0));
  if (newAxis)
    l.stack(items, axis, n.outputs[0]);
  else
    l.node("Concat", items, {n.outputs[0]}, {{"axis", axis}});
  return Status::ok();
}

// SequenceMap: the body once per position of the sequence inputs (all one length), tensor inputs
// passed to every iteration; each body output a sequence.
Status layOutSequenceMap(Layout& l, const Node& n, const Graph&) {
  const Graph* body = l.subgraph("body");
  if (!body) return l.error("has no body");
  int64_t length = -1;
  for (size_t i = 0; i < l.explicitInputs(); ++i)
    if (l.isSequence(l.input(i))) {
      const auto size = static_cast<int64_t>(l.elements(i)->size());
      if (length >= 0 && size != length) return l.error("its sequences differ in length");
      length = size;
    }
  if (length < 0) return l.error("its first input is not a sequence");
  std::vector<std::vector<int32_t>> outs(n.outputs.size());
  for (int64_t t = 0; t < length; ++t) {
    std::vector<int32_t> formals;
    for (size_t i = 0; i < l.explicitInputs(); ++i)
      formals.push_back(l.isSequence(l.input(i)) ? (*l.elements(i))[static_cast<size_t>(t)]
                                                 : l.input(i));
    std::vector<int32_t> got;
    TESSEL_RETURN_IF_ERROR(l.clone(*body, formals, "m" + std::to_string(t), &got));
    if (got.size() != n.outputs.size())
      return l.error("its body has " + std::to_string(got.size()) + " outputs, the node " +
                     std::to_string(n.outputs.size()));
    for (size_t k = 0; k < got.size(); ++k)
      outs[k].push_back(got[k]);
  }
  for (size_t k = 0; k < outs.size(); ++k)
    l.setSequence(n.outputs[k], std::move(outs[k]));
  return Status::ok();
}

// Optionals while a plan is made: an optional tensor is a list of no tensor or one; an optional
// holding a sequence is the sequence itself.
Status layOutOptional(Layout& l, const Node& n, const Graph&) {
  const int32_t x = l.input(0);
  if (l.isOptional(x)) return l.error("optionals of optionals are not supported");
  if (l.isSequence(x))
    l.setSequence(n.outputs[0], *l.elements(0));
  else
    l.setSequence(n.outputs[0], x < 0 ? std::vector<int32_t>{} : std::vector<int32_t>{x}, true);
  return Status::ok();
}

Status layOutOptionalHasElement(Layout& l, const Node& n, const Graph&) {
  const int32_t o = l.input(0);
  const uint8_t has = o >= 0 && (!l.isOptional(o) || !l.elements(0)->empty());
  l.defineConstant(n.outputs[0], {DType::Bool, {}}, bytesOf(&has, 1));
  return Status::ok();
}

Status layOutOptionalGetElement(Layout& l, const Node& n, const Graph&) {
  const int32_t o = l.input(0);
  if (o < 0) return l.error("expects an input");
  if (!l.isSequence(o)) {
    l.identity(o, n.outputs[0]);
    return Status::ok();
  }
  TESSEL_ASSIGN_OR_RETURN(std::vector<int32_t> items, l.elements(0));
  if (!l.isOptional(o)) { // an optional sequence's sequence
    l.setSequence(n.outputs[0], std::move(items));
    return Status::ok();
  }
  if (items.size() != 1) return l.error("the optional holds no element");
  l.identity(items[0], n.outputs[0]);
  return Status::ok();
}

// The control-flow operators: the one list the dispatch below and controlFlowOps() read.
struct ControlFlowOp {
  const char* op;
  Status (*layOut)(Layout&, const Node&, const Graph&);
  bool replaced; // by what it lays out; else it stays, its laid-out nodes hidden (sequences)
  const char* summary;
};
constexpr ControlFlowOp kControlFlow[] = {
    {"If", layOutIf, true, "the branch its condition picks, inlined when the plan is made"},
    {"Loop", layOutLoop, true,
     "its iterations unrolled when the plan is made (a condition computed from data: a stage "
     "per iteration)"},
    {"Scan", layOutScan, true, "its steps unrolled over the scan inputs' length"},
    {"SequenceEmpty", layOutSequenceEmpty, false, "an empty list, kept while the plan is made"},
    {"SequenceConstruct", layOutSequenceConstruct, false, "a list of its input tensors"},
    {"SequenceInsert", layOutSequenceInsert, false,
     "the list with a tensor inserted (position known when the plan is made)"},
    {"SequenceErase", layOutSequenceErase, false, "the list without one position"},
    {"SequenceAt", layOutSequenceAt, false, "the tensor at a position, an identity"},
    {"SequenceLength", layOutSequenceLength, false, "the list's length, a constant"},
    {"SplitToSequence", layOutSplitToSequence, false,
     "a Split into pieces of one, of a size, or of given sizes"},
    {"ConcatFromSequence", layOutConcatFromSequence, false,
     "a Concat of the list (a stack along a new axis with new_axis)"},
    {"SequenceMap", layOutSequenceMap, false, "its body once per position, unrolled"},
    {"Optional", layOutOptional, false, "a list of no tensor or one, while the plan is made"},
    {"OptionalHasElement", layOutOptionalHasElement, false, "whether it holds one, a constant"},
    {"OptionalGetElement", layOutOptionalGetElement, false, "its tensor, an identity"},
};

// Asked for every node of every plan: a hash table, not string comparisons down the list.
const ControlFlowOp* findLaidOut(const std::string& op) {
  static const std::unordered_map<std::string_view, const ControlFlowOp*> byName = [] {
    std::unordered_map<std::string_view, const ControlFlowOp*> m;
    for (const ControlFlowOp& c : kControlFlow)
      m.emplace(c.op, &c);
    return m;
  }();
  auto it = byName.find(op);
  return it == byName.end() ? nullptr : it->second;
}

} // namespace

const std::vector<decompose::OpSummary>& controlFlowOps() {
  static const std::vector<decompose::OpSummary> ops = [] {
    std::vector<decompose::OpSummary> v;
    for (const ControlFlowOp& c : kControlFlow)
      v.push_back({c.op, c.summary});
    return v;
  }();
  return ops;
}

bool laidOut(const std::string& opType) {
  return findLaidOut(opType) != nullptr;
}

bool replacedByLayout(const std::string& opType) {
  const ControlFlowOp* c = findLaidOut(opType);
  return c && c->replaced;
}

Status layOutControlFlow(const Node& n, Graph* g, Graph* expanded, Sequences* sequences,
                         std::vector<Node>* out) {
  const ControlFlowOp* c = findLaidOut(n.node.opType);
  Layout l(n, g, expanded, sequences, c && !c->replaced, out);
  if (c) return c->layOut(l, n, *g);
  return unsupported("operator '" + n.node.opType + "' (node '" + n.node.name + "', opset " +
                     std::to_string(n.node.opset) + ") is not supported");
}

} // namespace tessel::graph
