// Post-op fusion over a Program: what the compiler's tessel-fuse-elementwise pass does over MLIR,
// for plans made at run time (the same rules: tessel/core/fusion_rules.h). Hardswish spelled
// out becomes one unary; then a unary, or a binary whose other operand is a scalar, one value
// per channel or a tensor of the result's shape, that alone reads a conv2d's or matmul's result
// becomes the last of its post-ops, repeatedly.
#include "tessel/graph/fuse.h"

#include "tessel/core/fusion_rules.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <tuple>

namespace tessel::graph {
namespace {

class Fusion {
public:
  explicit Fusion(Program& prog) : prog_(prog) {
    const size_t n = prog.tensors.size();
    producer_.assign(n, -1);
    readers_.assign(n, 0);
    onlyReader_.assign(n, -1);
    output_.assign(n, false);
    dead_.assign(prog.primitives.size(), false);
    for (size_t i = 0; i < prog.primitives.size(); ++i) {
      const Primitive& p = prog.primitives[i];
      for (int32_t t : p.outputs)
        producer_[t] = static_cast<int32_t>(i);
      for (int32_t t : p.inputs) {
        ++readers_[t];
        onlyReader_[t] = static_cast<int32_t>(i);
      }
    }
    for (int32_t t : prog.outputs)
      output_[t] = true;
    markEarlyWork();
  }

  void recognizeHardswish() {
    for (size_t i = 0; i < prog_.primitives.size(); ++i) {
      if (dead_[i] || prog_.primitives[i].kind() != PrimitiveKind::Binary) continue;
      const int32_t x = hardswishInput(static_cast<int32_t>(i));
      if (x < 0) continue;
      Primitive& root = prog_.primitives[i];
      const std::vector<int32_t> old = root.inputs;
      root.params = UnaryParams{UnaryKind::HardSwish};
      root.inputs = {x};
      ++readers_[x];
      for (int32_t t : old)
        dropReader(t);
      onlyReader_[x] = static_cast<int32_t>(i); // the chain's other readers of x died
    }
  }

  void fuseIntoProducers() {
    for (size_t i = 0; i < prog_.primitives.size(); ++i) {
      const PrimitiveKind k = prog_.primitives[i].kind();
      if (dead_[i] || (k != PrimitiveKind::Conv2d && k != PrimitiveKind::MatMul)) continue;
      while (fuseUser(static_cast<int32_t>(i))) {
      }
    }
  }

  // Drops the dead primitives (and their plan entries); the early work first.
  void compact() {
    const bool planned = prog_.backends.size() == prog_.primitives.size();
    const bool chosen = prog_.kernels.size() == prog_.primitives.size();
    std::vector<Primitive> primitives;
    std::vector<std::string> backends;
    std::vector<KernelChoice> kernels;
    primitives.reserve(prog_.primitives.size());
    for (int pass = anyEarly_ ? 0 : 1; pass < 2; ++pass)
      for (size_t i = 0; i < prog_.primitives.size(); ++i) {
        if (dead_[i] || early_[i] != (pass == 0)) continue;
        primitives.push_back(std::move(prog_.primitives[i]));
        if (planned) backends.push_back(std::move(prog_.backends[i]));
        if (chosen) kernels.push_back(std::move(prog_.kernels[i]));
      }
    prog_.primitives = std::move(primitives);
    if (planned) prog_.backends = std::move(backends);
    if (chosen) prog_.kernels = std::move(kernels);
  }

private:
  // Small work on constants alone (a batch norm's scale and shift from its statistics) moves to
  // the front when compacted, so its results count as ready before any producer they ride on.
  void markEarlyWork() {
    constexpr int64_t kMaxEarlyBytes = 64 * 1024;
    early_.assign(prog_.primitives.size(), false);
    fromConstants_.assign(prog_.tensors.size(), false);
    for (size_t t = 0; t < prog_.tensors.size(); ++t)
      fromConstants_[t] = prog_.tensors[t].data != nullptr;
    for (size_t i = 0; i < prog_.primitives.size(); ++i) {
      const Primitive& p = prog_.primitives[i];
      bool onConstants = !p.inputs.empty();
      for (int32_t t : p.inputs)
        onConstants = onConstants && fromConstants_[t];
      for (int32_t t : p.outputs)
        onConstants = onConstants && prog_.tensors[t].desc.byteSize() <= kMaxEarlyBytes;
      if (!onConstants) continue;
      early_[i] = anyEarly_ = true;
      for (int32_t t : p.outputs)
        fromConstants_[t] = true;
    }
  }

  const TensorDesc& desc(int32_t t) const { return prog_.tensors[t].desc; }
  bool f32(int32_t t) const { return desc(t).dtype == DType::F32; }
  // The one primitive reading t, when nothing else (another primitive, the program's outputs)
  // does. onlyReader_ names the last reader seen; once readers died (a recognized hardswish's
  // pieces) the one left is looked up.
  int32_t soleReader(int32_t t) const {
    if (readers_[t] != 1 || output_[t]) return -1;
    const auto reads = [&](int32_t i) {
      const std::vector<int32_t>& in = prog_.primitives[i].inputs;
      return !dead_[i] && std::find(in.begin(), in.end(), t) != in.end();
    };
    if (onlyReader_[t] >= 0 && reads(onlyReader_[t])) return onlyReader_[t];
    for (size_t i = 0; i < prog_.primitives.size(); ++i)
      if (reads(static_cast<int32_t>(i))) return onlyReader_[t] = static_cast<int32_t>(i);
    return -1;
  }
  const Primitive* producerOf(int32_t t, PrimitiveKind kind) const {
    const int32_t i = producer_[t];
    if (i < 0 || dead_[i] || prog_.primitives[i].kind() != kind) return nullptr;
    return &prog_.primitives[i];
  }

  // One reader of t fewer; a primitive left with no reader of anything it writes dies, and so
  // on up the chain (the pieces of a recognized hardswish).
  void dropReader(int32_t t) {
    if (--readers_[t] > 0 || output_[t]) return;
    const int32_t i = producer_[t];
    if (i < 0 || dead_[i]) return;
    for (int32_t out : prog_.primitives[i].outputs)
      if (readers_[out] > 0 || output_[out]) return;
    dead_[i] = true;
    for (int32_t in : prog_.primitives[i].inputs)
      dropReader(in);
  }

  // The value of a scalar f32 constant read with all-zero strides.
  std::optional<float> scalarConstant(int32_t t, const I64List& strides) const {
    const ProgramTensor& c = prog_.tensors[t];
    if (!c.data || !f32(t) || !allZeroStrides(strides) || c.desc.numel() <= 0) return std::nullopt;
    return *static_cast<const float*>(c.data);
  }

  // x when v = x / 6 (or x * (1/6)) with x read densely; -1 otherwise.
  int32_t sixthOf(int32_t v, const Shape& out) const {
    const Primitive* d = producerOf(v, PrimitiveKind::Binary);
    if (!d) return -1;
    const auto& b = d->as<BinaryParams>();
    auto k = scalarConstant(d->inputs[1], b.rhsStrides);
    return k && dividesBySix(b.kind, *k) && stridesAreDense(b.lhsStrides, out) ? d->inputs[0] : -1;
  }

  // Whether v = clip(x + 3, 0, 6) with single-use links.
  bool isShiftedClip(int32_t v, int32_t x, const Shape& out) const {
    const Primitive* c = producerOf(v, PrimitiveKind::Unary);
    if (!c || soleReader(v) < 0 || !clipsZeroToSix(c->as<UnaryParams>())) return false;
    const int32_t shifted = c->inputs[0];
    const Primitive* a = producerOf(shifted, PrimitiveKind::Binary);
    if (!a || soleReader(shifted) < 0) return false;
    const auto& b = a->as<BinaryParams>();
    auto three = scalarConstant(a->inputs[1], b.rhsStrides);
    return three && addsThree(b.kind, *three) && a->inputs[0] == x &&
           stridesAreDense(b.lhsStrides, out);
  }

  // The operands of a dense multiply of two values of its result's shape.
  std::optional<std::pair<int32_t, int32_t>> denseProduct(const Primitive& p) const {
    if (p.kind() != PrimitiveKind::Binary || !f32(p.outputs[0])) return std::nullopt;
    const auto& b = p.as<BinaryParams>();
    const Shape& out = desc(p.outputs[0]).shape;
    if (b.kind != BinaryKind::Mul || !stridesAreDense(b.lhsStrides, out) ||
        !stridesAreDense(b.rhsStrides, out))
      return std::nullopt;
    return std::make_pair(p.inputs[0], p.inputs[1]);
  }

  // x when primitive `root` closes a hardswish: x * (clip(x + 3, 0, 6) / 6),
  // (x * clip(x + 3, 0, 6)) / 6, or x * hardsigmoid(x); -1 otherwise.
  int32_t hardswishInput(int32_t root) const {
    const Primitive& r = prog_.primitives[root];
    if (!f32(r.outputs[0])) return -1;
    const Shape& out = desc(r.outputs[0]).shape;
    if (const int32_t m = sixthOf(r.outputs[0], out); m >= 0 && soleReader(m) >= 0)
      if (const Primitive* mp = producerOf(m, PrimitiveKind::Binary))
        if (auto xy = denseProduct(*mp))
          for (auto [x, c] : {*xy, std::make_pair(xy->second, xy->first)})
            if (isShiftedClip(c, x, out)) return x;
    auto xy = denseProduct(r);
    if (!xy) return -1;
    for (auto [x, other] : {*xy, std::make_pair(xy->second, xy->first)}) {
      if (soleReader(other) < 0) continue;
      if (const int32_t c = sixthOf(other, out); c >= 0 && isShiftedClip(c, x, out)) return x;
      if (const Primitive* h = producerOf(other, PrimitiveKind::Unary))
        if (h->inputs[0] == x && isHardSigmoidSixth(h->as<UnaryParams>())) return x;
    }
    return -1;
  }

  // Whether tensor t is ready before primitive i runs: a constant, a program input, written by
  // an earlier primitive, or by early work.
  bool readyBefore(int32_t t, int32_t i) const { return producer_[t] < i || fromConstants_[t]; }

  // Fuses the sole reader of producer i's result into it; whether it did.
  bool fuseUser(int32_t i) {
    Primitive& p = prog_.primitives[i];
    const int32_t y = p.outputs[0];
    const int32_t u = soleReader(y);
    if (u < 0 || u <= i || dead_[u] || !f32(y)) return false;
    const Primitive& user = prog_.primitives[u];
    const int32_t z = user.outputs[0];
    if (desc(z).dtype != DType::F32 || desc(z).shape != desc(y).shape) return false;
    PostOps* ops = postOpsOf(p);
    if (!ops) return false;
    int32_t operand = -1;
    if (user.kind() == PrimitiveKind::Unary) {
      const auto& un = user.as<UnaryParams>();
      if (!unaryInPostOps(un.kind)) return false;
      ops->push_back(PostOp::makeUnary(un.kind, un.alpha, un.beta));
    } else if (user.kind() == PrimitiveKind::Binary) {
      if (user.inputs[0] == user.inputs[1]) return false; // y op y
      const bool producerIsLhs = user.inputs[0] == y;
      operand = user.inputs[producerIsLhs ? 1 : 0];
      auto op = binaryPostOp(p, user.as<BinaryParams>(), producerIsLhs, desc(y).shape,
                             static_cast<int32_t>(p.inputs.size()));
      if (!op || !f32(operand) || !readyBefore(operand, i)) return false;
      ops->push_back(*op);
      p.inputs.push_back(operand);
      if (onlyReader_[operand] == u) onlyReader_[operand] = i;
    } else {
      return false;
    }
    // The producer now writes the user's result; the result in between is gone.
    p.outputs[0] = z;
    producer_[z] = i;
    producer_[y] = -1;
    readers_[y] = 0;
    dead_[u] = true;
    return true;
  }

  Program& prog_;
  std::vector<int32_t> producer_, readers_;
  mutable std::vector<int32_t> onlyReader_;
  std::vector<bool> output_, dead_, early_, fromConstants_;
  bool anyEarly_ = false;
};

// Folded weights and biases by what they were folded from (the addresses of the source's
// weights and bias, shared by every plan of a model; each folded post-op's kind and values,
// whose constants a plan's lowering may make anew), kept while a plan holds them: a new shape's
// plan gets the same bytes, at the same address, so the kernels' packed weights are shared
// too, and no plan folds them again. A plan holding a result holds its weights and bias too (a
// program keeps every constant it reads), so their addresses in a live entry cannot be reused;
// an entry no plan holds is ignored.
struct FoldKey {
  const void* weights;
  const void* bias;
  std::vector<float> steps; // per folded post-op: kind, broadcast, values
  bool operator<(const FoldKey& o) const {
    return std::tie(weights, bias, steps) < std::tie(o.weights, o.bias, o.steps);
  }
};

std::pair<Bytes, Bytes> foldedConstants(const FoldKey& key,
                                        const std::function<std::pair<Bytes, Bytes>()>& fold) {
  static std::mutex mutex;
  static std::map<FoldKey, std::pair<std::weak_ptr<const std::vector<uint8_t>>,
                                     std::weak_ptr<const std::vector<uint8_t>>>>
      cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) {
    Bytes w = it->second.first.lock(), b = it->second.second.lock();
    if (w && b) return {w, b};
  }
  for (auto it = cache.begin(); it != cache.end();) // forget what no plan holds
    it = it->second.first.expired() ? cache.erase(it) : std::next(it);
  std::pair<Bytes, Bytes> made = fold();
  cache[key] = {made.first, made.second};
  return made;
}

std::span<const float> floatsOf(const ProgramTensor& t) {
  if (!t.data || t.desc.dtype != DType::F32) return {};
  return {static_cast<const float*>(t.data), static_cast<size_t>(t.desc.numel())};
}

// The compiler's tessel-fold-affine: a conv2d's leading post-ops that scale or shift by
// constants fold into its constant weights and bias (foldLeadingAffine).
void foldAffine(Program& prog, std::vector<Bytes>* keep) {
  for (Primitive& p : prog.primitives) {
    if (p.kind() != PrimitiveKind::Conv2d) continue;
    auto& c = std::get<Conv2dParams>(p.params);
    if (c.postOps.empty() || !c.postOps.front().isBinary) continue;
    const ProgramTensor& w = prog.tensors[p.inputs[1]];
    const std::span<const float> weights = floatsOf(w);
    if (weights.empty() || w.desc.shape.empty()) continue;
    const int64_t o = w.desc.shape[0];
    std::span<const float> bias;
    if (c.hasBias) {
      bias = floatsOf(prog.tensors[p.inputs[2]]);
      if (static_cast<int64_t>(bias.size()) != o) continue;
    }
    const auto constant = [&](int32_t k) { return floatsOf(prog.tensors[p.inputs[k]]); };
    // What would fold, on the per-channel scale and shift alone (no copy of the weights yet).
    std::vector<float> unitWeights(static_cast<size_t>(o), 1.f), shift(static_cast<size_t>(o), 0.f);
    const size_t folded = foldLeadingAffine(c.postOps, o, unitWeights, shift, constant);
    if (folded == 0) continue;
    FoldKey key{w.data, c.hasBias ? prog.tensors[p.inputs[2]].data : nullptr, {}};
    for (size_t k = 0; k < folded; ++k) {
      const PostOp& step = c.postOps[k];
      key.steps.push_back(static_cast<float>(step.binary));
      key.steps.push_back(static_cast<float>(step.broadcast));
      const std::span<const float> v = constant(step.operand);
      key.steps.insert(key.steps.end(), v.begin(), v.end());
    }
    auto [newWeights, newBias] = foldedConstants(key, [&] {
      std::vector<float> wf(weights.begin(), weights.end());
      std::vector<float> bf = bias.empty() ? std::vector<float>(static_cast<size_t>(o), 0.f)
                                           : std::vector<float>(bias.begin(), bias.end());
      foldLeadingAffine(c.postOps, o, wf, bf, constant); // stops where the trial stopped
      const auto bytes = [](const std::vector<float>& f) {
        const auto* b = reinterpret_cast<const uint8_t*>(f.data());
        return std::make_shared<const std::vector<uint8_t>>(b, b + f.size() * sizeof(float));
      };
      return std::make_pair(bytes(wf), bytes(bf));
    });
    keep->push_back(newWeights);
    keep->push_back(newBias);
    const auto addConstant = [&](const char* suffix, TensorDesc d, const Bytes& b) {
      std::string name = prog.tensors[p.inputs[1]].name; // appended: GCC 12 warns on a + b
      name.append(suffix);
      prog.tensors.push_back({std::move(name), std::move(d), b->data()});
      return static_cast<int32_t>(prog.tensors.size() - 1);
    };
    const TensorDesc weightDesc = w.desc; // w moves as tensors grow
    std::vector<int32_t> inputs{p.inputs[0]};
    inputs.push_back(addConstant("/folded", weightDesc, newWeights));
    inputs.push_back(addConstant("/folded_bias", {DType::F32, {o}}, newBias));
    // The remaining post-ops keep their operands, renumbered after the new bias.
    PostOps rest(c.postOps.begin() + static_cast<std::ptrdiff_t>(folded), c.postOps.end());
    for (PostOp& step : rest) {
      if (!step.isBinary) continue;
      inputs.push_back(p.inputs[step.operand]);
      step.operand = static_cast<int32_t>(inputs.size() - 1);
    }
    p.inputs = std::move(inputs);
    c.hasBias = true;
    c.postOps = std::move(rest);
  }
}

} // namespace

void fusePostOps(Program& prog, std::vector<Bytes>* keep) {
  Fusion f(prog);
  f.recognizeHardswish();
  f.fuseIntoProducers();
  f.compact();
  foldAffine(prog, keep);
}

} // namespace tessel::graph
