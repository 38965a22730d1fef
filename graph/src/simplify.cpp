// Source-graph rewrites that hold for every input shape (tessel/graph/simplify.h). They decide
// with the rules plan-time fusion uses (tessel/core/fusion_rules.h), so a graph fuses the same
// whether a rewrite happened here or in each plan.
#include "tessel/graph/simplify.h"

#include "tessel/core/fusion_rules.h"

#include <array>
#include <cmath>
#include <optional>
#include <set>
#include <span>

namespace tessel::graph {
namespace {

// The values of an f32 constant, empty for anything else.
std::span<const float> floatsOf(const Value& v) {
  if (!v.constant || v.desc.dtype != DType::F32) return {};
  Result<int64_t> n = elementCount(v.desc.shape);
  if (!n.isOk() || static_cast<int64_t>(v.constant->size()) != *n * 4) return {};
  return {reinterpret_cast<const float*>(v.constant->data()), static_cast<size_t>(*n)};
}

Bytes bytesOf(const std::vector<float>& f) {
  const auto* b = reinterpret_cast<const uint8_t*>(f.data());
  return std::make_shared<const std::vector<uint8_t>>(b, b + f.size() * sizeof(float));
}

std::optional<BinaryKind> affineKind(const std::string& op) {
  if (op == "Mul") return BinaryKind::Mul;
  if (op == "Add") return BinaryKind::Add;
  if (op == "Sub") return BinaryKind::Sub;
  if (op == "Div") return BinaryKind::Div;
  return std::nullopt;
}

class Simplifier {
public:
  explicit Simplifier(Graph& g) : g_(g) {
    readers_.assign(g.values.size(), 0);
    readerOf_.assign(g.values.size(), -1);
    producer_.assign(g.values.size(), -1);
    removed_.assign(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (int32_t v : g.nodes[i].inputs)
        if (v >= 0) {
          ++readers_[v];
          readerOf_[v] = static_cast<int32_t>(i);
        }
      for (int32_t v : g.nodes[i].outputs)
        if (v >= 0) producer_[v] = static_cast<int32_t>(i);
    }
    for (int32_t v : g.outputs)
      ++readers_[v]; // an output is read by the caller: no rewrite may remove it
    for (const Value& v : g.values)
      names_.insert(v.name);
  }

  size_t run() {
    size_t removed = 0;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i] && g_.nodes[i].node.opType == "Conv") removed += foldIntoConv(i);
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i]) removed += recognizeHardSwish(i);
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i] && g_.nodes[i].node.opType == "Conv") removed += foldIntoConvInput(i);
    if (removed) compact();
    return removed;
  }

private:
  // A node with no subgraphs, one output and `inputs` inputs; a binary also without attributes
  // (before opset 7 they broadcast by attribute).
  static bool plain(const Node& n, size_t inputs) {
    return n.subgraphs.empty() && n.outputs.size() == 1 && n.inputs.size() == inputs;
  }
  static bool plainBinary(const Node& n) { return plain(n, 2) && n.node.attrs.empty(); }

  // The node that alone reads value v, or -1.
  int32_t soleReader(int32_t v) const { return v >= 0 && readers_[v] == 1 ? readerOf_[v] : -1; }
  const Node* producedBy(int32_t v, const char* op) const {
    if (v < 0 || producer_[v] < 0 || removed_[producer_[v]]) return nullptr;
    const Node& n = g_.nodes[producer_[v]];
    return n.node.opType == op ? &n : nullptr;
  }

  // How an f32 constant broadcasts over a convolution's output [N, O, spatial...] of rank
  // `rank`: one value (Scalar) or one per channel (Channel); none when it varies elsewhere or
  // would raise the output's rank.
  std::optional<Broadcast> channelSpread(const Value& c, size_t rank, int64_t o) const {
    const std::span<const float> values = floatsOf(c);
    const Shape& s = c.desc.shape;
    if (values.empty() || s.size() > rank) return std::nullopt;
    for (size_t j = 0; j < s.size(); ++j) {
      const size_t axis = rank - s.size() + j;
      if (s[j] != 1 && (axis != 1 || s[j] != o)) return std::nullopt;
    }
    return values.size() == 1 ? Broadcast::Scalar : Broadcast::Channel;
  }

  int32_t addConstant(const std::string& base, TensorDesc desc, Bytes bytes) {
    std::string name = base;
    for (int k = 1; names_.count(name); ++k)
      name = base + "_" + std::to_string(k);
    names_.insert(name);
    g_.values.push_back({name, std::move(desc), std::move(bytes)});
    readers_.push_back(1);
    readerOf_.push_back(-1);
    producer_.push_back(-1);
    return static_cast<int32_t>(g_.values.size() - 1);
  }

  // A Conv's constant f32 weights [O, C / group, K...] and bias (zeros when it has none).
  struct ConvWeights {
    std::span<const float> weights;
    std::vector<float> bias;
    size_t rank = 0;
    int64_t o = 0;
  };
  std::optional<ConvWeights> convWeights(const Node& conv) const {
    if (!conv.subgraphs.empty() || conv.outputs.size() != 1 || conv.inputs.size() < 2 ||
        conv.inputs.size() > 3 || conv.inputs[0] < 0 || conv.inputs[1] < 0)
      return std::nullopt;
    const Value& w = g_.values[conv.inputs[1]];
    ConvWeights cw;
    cw.weights = floatsOf(w);
    cw.rank = w.desc.shape.size();
    if (cw.weights.empty() || cw.rank < 3 || w.desc.shape[0] <= 0) return std::nullopt;
    cw.o = w.desc.shape[0];
    if (conv.inputs.size() == 3 && conv.inputs[2] >= 0) {
      const std::span<const float> bias = floatsOf(g_.values[conv.inputs[2]]);
      if (static_cast<int64_t>(bias.size()) != cw.o) return std::nullopt;
      cw.bias.assign(bias.begin(), bias.end());
    } else {
      cw.bias.assign(static_cast<size_t>(cw.o), 0.f);
    }
    return cw;
  }

  // Node i (a Conv) takes new weights and bias, as constants of their own.
  void replaceWeights(size_t i, const std::vector<float>& weights, const std::vector<float>& bias) {
    const TensorDesc weightDesc = g_.values[g_.nodes[i].inputs[1]].desc;
    const std::string weightName = g_.values[g_.nodes[i].inputs[1]].name;
    const int32_t wv = addConstant(weightName + "/folded", weightDesc, bytesOf(weights));
    const int32_t bv =
        addConstant(weightName + "/folded_bias", {DType::F32, {static_cast<int64_t>(bias.size())}},
                    bytesOf(bias));
    Node& c = g_.nodes[i];
    for (size_t k = 1; k < c.inputs.size(); ++k)
      --readers_[c.inputs[k]];
    c.inputs = {c.inputs[0], wv, bv};
  }

  // Folds the constant scales and shifts that alone read a Conv's result into its weights and
  // bias (foldLeadingAffine: the rule plan-time fusion folds them by).
  size_t foldIntoConv(size_t i) {
    const std::optional<ConvWeights> cw = convWeights(g_.nodes[i]);
    if (!cw) return 0;
    const Node& conv = g_.nodes[i];
    const size_t rank = cw->rank;
    const int64_t o = cw->o;
    // The chain of single readers, as the post-ops plan-time fusion would make of them.
    PostOps steps;
    std::vector<int32_t> chain, operands;
    for (int32_t y = conv.outputs[0];;) {
      const int32_t u = soleReader(y);
      if (u < 0 || removed_[u]) break;
      const Node& user = g_.nodes[u];
      const auto kind = affineKind(user.node.opType);
      if (!kind || !plainBinary(user)) break;
      const bool lhs = user.inputs[0] == y;
      const int32_t c = user.inputs[lhs ? 1 : 0];
      if (c < 0 || c == y) break;
      const auto spread = channelSpread(g_.values[c], rank, o);
      if (!spread) break;
      const bool commutative = *kind == BinaryKind::Add || *kind == BinaryKind::Mul;
      steps.push_back(PostOp::makeBinary(*kind, *spread, static_cast<int32_t>(operands.size()),
                                         !lhs && !commutative));
      operands.push_back(c);
      chain.push_back(u);
      y = user.outputs[0];
    }
    if (steps.empty()) return 0;
    std::vector<float> newWeights(cw->weights.begin(), cw->weights.end());
    std::vector<float> newBias = cw->bias;
    const size_t folded = foldLeadingAffine(
        steps, o, newWeights, newBias, [&](int32_t k) { return floatsOf(g_.values[operands[k]]); });
    if (folded == 0) return 0;
    replaceWeights(i, newWeights, newBias);
    for (size_t k = 0; k < folded; ++k) {
      removed_[chain[k]] = true;
      --readers_[operands[k]];
    }
    Node& c = g_.nodes[i];
    const int32_t out = g_.nodes[chain[folded - 1]].outputs[0];
    readers_[c.outputs[0]] = 0;
    c.outputs[0] = out;
    producer_[out] = static_cast<int32_t>(i);
    return folded;
  }

  // Whether a Conv reads any padding (explicit pads, or SAME auto-padding).
  static bool padsInput(const Node& conv) {
    auto autoPad = conv.node.stringAttr("auto_pad", "NOTSET");
    if (!autoPad.isOk() || (*autoPad != "NOTSET" && *autoPad != "VALID")) return true;
    auto pads = conv.node.intsAttr("pads", {});
    if (!pads.isOk()) return true;
    for (int64_t p : *pads)
      if (p != 0) return true;
    return false;
  }

  // Folds the constant scales and shifts that alone feed a Conv's input into its weights and
  // bias: conv(a x + b) = conv with weights W a (per input channel) plus sum(W b) per output.
  // A shift folds only where the conv pads nothing: its border would see b where the input
  // holds the padding's zeros (a scale keeps zeros zero, so it folds under any padding). Under
  // padding, a chain with a shift becomes one Add of b / a before the conv scaled by a.
  size_t foldIntoConvInput(size_t i) {
    const std::optional<ConvWeights> cw = convWeights(g_.nodes[i]);
    if (!cw) return 0;
    const Node& conv = g_.nodes[i];
    auto groupAttr = conv.node.intAttr("group", 1);
    if (!groupAttr.isOk() || *groupAttr < 1 || cw->o % *groupAttr != 0) return 0;
    const int64_t group = *groupAttr;
    const Shape& wshape = g_.values[conv.inputs[1]].desc.shape;
    const int64_t perGroup = wshape[1], cin = perGroup * group;
    const bool padded = padsInput(conv);
    // Walking back from the conv's input: input = scale * x + shift, per input channel.
    std::vector<double> scale(static_cast<size_t>(cin), 1.0), shift(static_cast<size_t>(cin), 0.0);
    std::vector<int32_t> chain, operands;
    int32_t x = conv.inputs[0];
    for (;;) {
      if (readers_[x] != 1 || producer_[x] < 0 || removed_[producer_[x]]) break;
      const Node& op = g_.nodes[producer_[x]];
      const auto kind = affineKind(op.node.opType);
      if (!kind || !plainBinary(op)) break;
      const bool lhs = op.inputs[1] >= 0 && g_.values[op.inputs[1]].constant;
      const int32_t c = op.inputs[lhs ? 1 : 0], in = op.inputs[lhs ? 0 : 1];
      if (in < 0 || c < 0 || g_.values[in].constant) break;
      if (!lhs && (*kind == BinaryKind::Sub || *kind == BinaryKind::Div)) break; // c - x, c / x
      if (!channelSpread(g_.values[c], cw->rank, cin)) break;
      const std::span<const float> v = floatsOf(g_.values[c]);
      std::vector<double> s2 = scale, t2 = shift;
      bool ok = true;
      for (int64_t ch = 0; ch < cin && ok; ++ch) {
        const double k = v[v.size() == 1 ? 0 : static_cast<size_t>(ch)];
        switch (*kind) {
        case BinaryKind::Mul: s2[ch] *= k; break;
        case BinaryKind::Div:
          ok = k != 0;
          s2[ch] /= k;
          break;
        case BinaryKind::Add: t2[ch] += s2[ch] * k; break;
        default: t2[ch] -= s2[ch] * k; break;
        }
        ok = ok && std::isfinite(s2[ch]) && std::isfinite(t2[ch]);
      }
      if (!ok) break;
      scale = std::move(s2);
      shift = std::move(t2);
      chain.push_back(producer_[x]);
      operands.push_back(c);
      x = in;
    }
    // Under padding a shift stays, as one Add of shift / scale before the scaled conv (the node
    // nearest the conv is kept for it): worth it when that leaves fewer nodes.
    bool shifted = false;
    for (double t : shift)
      shifted = shifted || t != 0;
    const bool keepShift = padded && shifted;
    if (keepShift) {
      for (double k : scale)
        if (k == 0) return 0;
      if (chain.size() < 2) return 0;
    }
    if (chain.empty()) return 0;
    // W[o][j][taps] reads input channel (o / (O / group)) * perGroup + j.
    std::vector<float> weights(cw->weights.begin(), cw->weights.end());
    std::vector<float> bias = cw->bias;
    const int64_t taps = static_cast<int64_t>(weights.size()) / (cw->o * perGroup);
    for (int64_t oc = 0; oc < cw->o; ++oc) {
      double extra = 0;
      for (int64_t j = 0; j < perGroup; ++j) {
        const int64_t ch = oc / (cw->o / group) * perGroup + j;
        float* w = weights.data() + (oc * perGroup + j) * taps;
        for (int64_t t = 0; t < taps; ++t) {
          if (!keepShift) extra += static_cast<double>(w[t]) * shift[ch];
          w[t] = static_cast<float>(w[t] * scale[ch]);
        }
      }
      bias[oc] = static_cast<float>(bias[oc] + extra);
    }
    replaceWeights(i, weights, bias);
    for (size_t k = 0; k < chain.size(); ++k) {
      removed_[chain[k]] = true;
      for (int32_t in : g_.nodes[chain[k]].inputs)
        --readers_[in];
    }
    if (!keepShift) {
      g_.nodes[i].inputs[0] = x;
      ++readers_[x];
      return chain.size();
    }
    std::vector<float> rest(static_cast<size_t>(cin));
    for (int64_t ch = 0; ch < cin; ++ch)
      rest[ch] = static_cast<float>(shift[ch] / scale[ch]);
    Shape restShape(cw->rank, 1);
    restShape[1] = cin;
    const int32_t tv = addConstant(g_.values[g_.nodes[i].inputs[1]].name + "/input_shift",
                                   {DType::F32, restShape}, bytesOf(rest));
    Node& add = g_.nodes[chain[0]];
    removed_[chain[0]] = false;
    decompose::Node plus;
    plus.opType = "Add";
    plus.name = add.node.name;
    plus.opset = add.node.opset;
    add.node = std::move(plus);
    add.inputs = {x, tv};
    ++readers_[x];
    return chain.size() - 1;
  }

  // A scalar (rank 0) f32 constant's value: it broadcasts without changing any rank.
  std::optional<float> scalar(int32_t v) const {
    if (v < 0) return std::nullopt;
    const std::span<const float> f = floatsOf(g_.values[v]);
    if (f.size() != 1 || !g_.values[v].desc.shape.empty()) return std::nullopt;
    return f[0];
  }

  // Whether v = x + 3 (a node that alone feeds its reader).
  bool addsThreeTo(int32_t v, int32_t x) const {
    const Node* a = producedBy(v, "Add");
    if (!a || !plainBinary(*a) || readers_[v] != 1) return false;
    for (int k = 0; k < 2; ++k)
      if (a->inputs[k] == x)
        if (auto three = scalar(a->inputs[1 - k]); three && addsThree(BinaryKind::Add, *three))
          return true;
    return false;
  }

  // Whether v = clip(x + 3, 0, 6) with single-use links.
  bool isShiftedClip(int32_t v, int32_t x) const {
    const Node* c = producedBy(v, "Clip");
    if (!c || readers_[v] != 1 || !c->subgraphs.empty() || c->outputs.size() != 1) return false;
    UnaryParams u{UnaryKind::Clip};
    if (c->node.opset < 11) {
      auto lo = c->node.floatAttr("min", -1), hi = c->node.floatAttr("max", -1);
      if (c->inputs.size() != 1 || !lo.isOk() || !hi.isOk()) return false;
      u.alpha = static_cast<float>(*lo);
      u.beta = static_cast<float>(*hi);
    } else {
      if (c->inputs.size() != 3) return false;
      const auto bound = [&](int32_t b) -> std::optional<float> {
        const std::span<const float> f = b >= 0 ? floatsOf(g_.values[b]) : std::span<const float>{};
        return f.size() == 1 ? std::optional<float>(f[0]) : std::nullopt;
      };
      auto lo = bound(c->inputs[1]), hi = bound(c->inputs[2]);
      if (!lo || !hi) return false;
      u.alpha = *lo;
      u.beta = *hi;
    }
    return clipsZeroToSix(u) && addsThreeTo(c->inputs[0], x);
  }

  // Whether v = m / 6 (or m * 1/6) for a value m, given back.
  std::optional<int32_t> sixthOf(int32_t v) const {
    const Node* d = producedBy(v, "Div");
    if (!d) d = producedBy(v, "Mul");
    if (!d || !plainBinary(*d)) return std::nullopt;
    const BinaryKind kind = d->node.opType == "Div" ? BinaryKind::Div : BinaryKind::Mul;
    auto k = scalar(d->inputs[1]);
    return k && dividesBySix(kind, *k) ? std::optional<int32_t>(d->inputs[0]) : std::nullopt;
  }

  // The operands of a Mul node as (x, other) both ways round.
  static std::array<std::pair<int32_t, int32_t>, 2> bothWays(const Node& m) {
    return {{{m.inputs[0], m.inputs[1]}, {m.inputs[1], m.inputs[0]}}};
  }

  // x when node i computes hardswish(x) spelled out, else -1: (x * clip(x + 3, 0, 6)) / 6,
  // x * (clip(x + 3, 0, 6) / 6) or x * hardsigmoid(x) with slope 1/6 and offset 1/2.
  int32_t hardswishInput(size_t i) const {
    const Node& r = g_.nodes[i];
    if (!plainBinary(r)) return -1;
    if (const auto m = sixthOf(r.outputs[0]); m && readers_[*m] == 1)
      if (const Node* mul = producedBy(*m, "Mul"); mul && plainBinary(*mul))
        for (auto [x, c] : bothWays(*mul))
          if (isShiftedClip(c, x)) return x;
    if (r.node.opType != "Mul") return -1;
    for (auto [x, other] : bothWays(r)) {
      if (readers_[other] != 1 || x == other) continue;
      if (const auto c = sixthOf(other); c && isShiftedClip(*c, x)) return x;
      if (const Node* h = producedBy(other, "HardSigmoid");
          h && plain(*h, 1) && h->inputs[0] == x) {
        auto alpha = h->node.floatAttr("alpha", 0.2), beta = h->node.floatAttr("beta", 0.5);
        if (alpha.isOk() && beta.isOk() &&
            isHardSigmoidSixth(
                {UnaryKind::HardSigmoid, static_cast<float>(*alpha), static_cast<float>(*beta)}))
          return x;
      }
    }
    return -1;
  }

  // Removes the nodes between x and root i's result (every one of them read only on the way).
  size_t dropSteps(int32_t v, int32_t x) {
    size_t n = 0;
    while (v >= 0 && v != x && producer_[v] >= 0 && !removed_[producer_[v]]) {
      const int32_t p = producer_[v];
      removed_[p] = true;
      ++n;
      int32_t next = -1;
      for (int32_t in : g_.nodes[p].inputs) {
        if (in < 0) continue;
        --readers_[in];
        if (in != x && !g_.values[in].constant) next = in;
      }
      // A multiply of x by the rest: follow the rest; a chain step: follow its operand.
      v = next;
    }
    return n;
  }

  size_t recognizeHardSwish(size_t i) {
    const Node& r = g_.nodes[i];
    if (r.node.opType != "Div" && r.node.opType != "Mul") return 0;
    const int32_t x = hardswishInput(i);
    if (x < 0) return 0;
    // Every node of the pattern before the root goes; the root becomes HardSwish(x).
    size_t removed = 0;
    for (int32_t in : r.inputs)
      if (in != x && !g_.values[in].constant) removed += dropSteps(in, x);
    Node& root = g_.nodes[i];
    for (int32_t in : root.inputs)
      --readers_[in];
    decompose::Node hs;
    hs.opType = "HardSwish";
    hs.name = root.node.name;
    hs.opset = root.node.opset;
    root.node = std::move(hs);
    root.inputs = {x};
    ++readers_[x];
    return removed;
  }

  // Drops removed nodes and the values nothing refers to any more; ids renumbered.
  void compact() {
    std::vector<Node> nodes;
    nodes.reserve(g_.nodes.size());
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i]) nodes.push_back(std::move(g_.nodes[i]));
    g_.nodes = std::move(nodes);
    std::vector<bool> used(g_.values.size(), false);
    const auto mark = [&](const std::vector<int32_t>& ids) {
      for (int32_t v : ids)
        if (v >= 0) used[v] = true;
    };
    for (const Node& n : g_.nodes) {
      mark(n.inputs);
      mark(n.outputs);
    }
    mark(g_.inputs);
    mark(g_.outputs);
    mark(g_.captured);
    std::vector<int32_t> id(g_.values.size(), -1);
    std::vector<Value> values;
    for (size_t v = 0; v < g_.values.size(); ++v)
      if (used[v]) {
        id[v] = static_cast<int32_t>(values.size());
        values.push_back(std::move(g_.values[v]));
      }
    g_.values = std::move(values);
    const auto renumber = [&](std::vector<int32_t>& ids) {
      for (int32_t& v : ids)
        if (v >= 0) v = id[v];
    };
    for (Node& n : g_.nodes) {
      renumber(n.inputs);
      renumber(n.outputs);
    }
    renumber(g_.inputs);
    renumber(g_.outputs);
    renumber(g_.captured);
  }

  Graph& g_;
  std::vector<int> readers_;
  std::vector<int32_t> readerOf_, producer_;
  std::vector<bool> removed_;
  std::set<std::string> names_;
};

} // namespace

size_t simplifyGraph(Graph& g) {
  return Simplifier(g).run();
}

} // namespace tessel::graph
