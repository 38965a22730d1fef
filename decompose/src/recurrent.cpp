// Recurrent cells (RNN, GRU, LSTM) unrolled over the sequence, whose length is known when the
// plan is made: the input projections of every step as one matmul per direction, then per step
// the recurrent matmul, gate slices, activations and elementwise updates.
#include "builder.h"
#include "tessel/decompose/strided_copy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>

namespace tessel::decompose {
namespace {

// An activation function of the recurrent operators, by its ONNX name.
struct Activation {
  std::string name;
  float alpha = 0, beta = 0;
};

// How many of alpha and beta an activation takes, and their defaults.
struct ActivationInfo {
  const char* name;
  int params;
  float alpha, beta;
};
const ActivationInfo kActivations[] = {
    {"relu", 0, 0, 0},
    {"tanh", 0, 0, 0},
    {"sigmoid", 0, 0, 0},
    {"softsign", 0, 0, 0},
    {"softplus", 0, 0, 0},
    {"leakyrelu", 1, 0.01f, 0},
    {"elu", 1, 1.f, 0},
    {"thresholdedrelu", 1, 1.f, 0},
    {"hardsigmoid", 2, 0.2f, 0.5f},
    {"affine", 2, 1.f, 0},
    {"scaledtanh", 2, 1.f, 1.f},
};

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The node's activations for `directions` directions of `perDirection` functions each, their
// alpha and beta consumed in order.
Result<std::vector<Activation>> activationsOf(const Node& n, size_t perDirection, size_t directions,
                                              const std::vector<std::string>& defaults) {
  // A list of strings is no attribute type of the graph (nor of its artifact table) yet: only
  // the default activations (the ONNX importer refuses the attribute by name before this).
  if (n.hasAttr("activations")) return unsupported(n.label() + ": the activations attribute");
  std::vector<std::string> names;
  for (size_t d = 0; d < directions; ++d)
    names.insert(names.end(), defaults.begin(), defaults.end());
  if (names.size() != perDirection * directions)
    return n.error("needs " + std::to_string(perDirection * directions) + " activations, got " +
                   std::to_string(names.size()));
  TESSEL_ASSIGN_OR_RETURN(std::vector<double> alphas, n.floatsAttr("activation_alpha"));
  TESSEL_ASSIGN_OR_RETURN(std::vector<double> betas, n.floatsAttr("activation_beta"));
  size_t ai = 0, bi = 0;
  std::vector<Activation> out;
  for (const std::string& raw : names) {
    const std::string name = lower(raw);
    const ActivationInfo* info = nullptr;
    for (const ActivationInfo& a : kActivations)
      if (name == a.name) info = &a;
    if (!info) return unsupported(n.label() + ": activation '" + raw + "'");
    Activation a{name, info->alpha, info->beta};
    if (info->params >= 1 && ai < alphas.size()) a.alpha = static_cast<float>(alphas[ai++]);
    if (info->params >= 2 && bi < betas.size()) a.beta = static_cast<float>(betas[bi++]);
    out.push_back(a);
  }
  return out;
}

class Unroller {
public:
  explicit Unroller(LoweringBuilder& b) : b_(b) {}

  int32_t temp(const Shape& s) { return b_.temp({DType::F32, s}); }
  int32_t op(BinaryKind k, int32_t x, int32_t y) { return b_.binaryTemp(k, x, y); }
  int32_t k(double v) { return b_.scalar(DType::F32, v); }
  int32_t unary(UnaryKind kind, int32_t x, float alpha = 0, float beta = 0) {
    return b_.unaryTemp(kind, x, alpha, beta);
  }
  int32_t activate(const Activation& a, int32_t x) {
    if (a.name == "affine")
      return op(BinaryKind::Add, op(BinaryKind::Mul, x, k(a.alpha)), k(a.beta));
    if (a.name == "scaledtanh")
      return op(BinaryKind::Mul, unary(UnaryKind::Tanh, op(BinaryKind::Mul, x, k(a.beta))),
                k(a.alpha));
    const std::optional<UnaryKind> kind = unaryFromName(a.name);
    return unary(*kind, x, a.alpha, a.beta); // every other name is a unary kind
  }
  // Rows [row0, row0 + rows) x columns [col0, col0 + cols) of a 2-D tensor, as a temp.
  Result<int32_t> block(int32_t x, int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
    const Shape s = b_.shape(x);
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, {row0 * s[1] + col0, {s[1], 1}},
                                             {0, {cols, 1}}, {rows, cols}));
    const int32_t out = temp({rows, cols});
    b_.emit(r, {x}, out);
    return out;
  }
  // x [m, k] times y^T (y [n, k]): [m, n].
  Result<int32_t> timesTransposed(int32_t x, int32_t y) {
    const Shape s = b_.shape(y);
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&r.regions, 0, {0, {1, s[1]}}, {0, {s[0], 1}}, {s[1], s[0]}));
    const int32_t t = temp({s[1], s[0]});
    b_.emit(r, {y}, t);
    return numpyMatMul(b_, x, t, false);
  }

private:
  LoweringBuilder& b_;
};

} // namespace

// RNN, GRU and LSTM (ONNX's gate orders: GRU z r h, LSTM i o f c), forward, reverse or
// bidirectional, optional biases, initial states, peepholes, clip, sequence lengths (a batch
// past its length keeps its state and outputs zeros), batch-major layout.
Status lowerRecurrent(LoweringBuilder& b) {
  const Node& n = b.node();
  const bool lstm = n.opType == "LSTM", gru = n.opType == "GRU";
  const int64_t gates = lstm ? 4 : gru ? 3 : 1;
  for (size_t i = 0; i < 3; ++i)
    if (!n.hasInput(i)) return n.error("expects X, W and R");
  TESSEL_ASSIGN_OR_RETURN(std::string direction, n.stringAttr("direction", "forward"));
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    return n.error("direction '" + direction + "'");
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  TESSEL_ASSIGN_OR_RETURN(int64_t layout, n.intAttr("layout", 0));
  TESSEL_ASSIGN_OR_RETURN(double clip, n.floatAttr("clip", 0.0));
  TESSEL_ASSIGN_OR_RETURN(int64_t inputForget, n.intAttr("input_forget", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t linearBeforeReset, n.intAttr("linear_before_reset", 0));
  if (inputForget != 0) return unsupported(n.label() + ": input_forget");
  const TensorDesc x = b.desc(b.input(0)), w = b.desc(b.input(1)), r = b.desc(b.input(2));
  for (const TensorDesc* t : {&x, &w, &r})
    if (t->dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  if (x.rank() != 3 || w.rank() != 3 || r.rank() != 3) return n.error("X, W and R must be 3-D");
  const int64_t seq = x.shape[layout ? 1 : 0], batch = x.shape[layout ? 0 : 1], in = x.shape[2];
  const int64_t hidden = r.shape[2];
  TESSEL_ASSIGN_OR_RETURN(int64_t hiddenAttr, n.intAttr("hidden_size", hidden));
  if (hiddenAttr != hidden || w.shape != Shape{dirs, gates * hidden, in} ||
      r.shape != Shape{dirs, gates * hidden, hidden})
    return n.error("W " + shapeToString(w.shape) + " and R " + shapeToString(r.shape) +
                   " do not fit " + std::to_string(dirs) + " direction(s), hidden size " +
                   std::to_string(hiddenAttr) + " and input size " + std::to_string(in));
  if (seq > 4096) return unsupported(n.label() + ": more than 4096 steps (unrolled)");
  const auto optionalShaped = [&](size_t i, const Shape& want, const char* what) -> Status {
    if (!n.hasInput(i)) return Status::ok();
    const TensorDesc d = b.desc(b.input(i));
    if (d.shape != want || d.dtype != DType::F32)
      return n.error(std::string(what) + " must be f32" + shapeToString(want) + ", got " +
                     d.toString());
    return Status::ok();
  };
  TESSEL_RETURN_IF_ERROR(optionalShaped(3, {dirs, 2 * gates * hidden}, "B"));
  const Shape stateShape = layout ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden};
  TESSEL_RETURN_IF_ERROR(optionalShaped(5, stateShape, "initial_h"));
  if (lstm) {
    TESSEL_RETURN_IF_ERROR(optionalShaped(6, stateShape, "initial_c"));
    TESSEL_RETURN_IF_ERROR(optionalShaped(7, {dirs, 3 * hidden}, "P"));
  }
  if (n.hasInput(4)) {
    const TensorDesc l = b.desc(b.input(4));
    if ((l.dtype != DType::I32 && l.dtype != DType::I64) || l.shape != Shape{batch})
      return n.error("sequence_lens must be i32 [" + std::to_string(batch) + "]");
  }
  const std::vector<std::string> defaults =
      lstm  ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
      : gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
            : std::vector<std::string>{"Tanh"};
  TESSEL_ASSIGN_OR_RETURN(std::vector<Activation> acts,
                          activationsOf(n, defaults.size(), static_cast<size_t>(dirs), defaults));
  Unroller u(b);
  const int64_t gh = gates * hidden;
  // X as [seq * batch, in], time-major.
  int32_t x2 = u.temp({seq * batch, in});
  if (layout) {
    RasterParams t;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&t.regions, 0, {0, {in, seq * in, 1}},
                                             {0, {batch * in, in, 1}}, {seq, batch, in}));
    b.emit(t, {b.input(0)}, x2);
  } else {
    b.view(b.input(0), x2);
  }
  // A step's mask (batch inside its length) when sequence_lens is given: [batch, 1].
  int32_t lens = -1;
  if (n.hasInput(4)) {
    lens = b.temp({DType::I64, {batch, 1}});
    b.view(b.castTemp(b.input(4), DType::I64), lens);
  }
  const auto maskAt = [&](int64_t t) {
    const int32_t m = b.temp({DType::Bool, {batch, 1}});
    b.binary(BinaryKind::Greater, lens, b.scalar(DType::I64, double(t)), m);
    return m;
  };
  // Per direction and step the hidden state written to Y; the last state per direction.
  std::vector<std::vector<int32_t>> ys(static_cast<size_t>(dirs));
  std::vector<int32_t> lastH, lastC;
  const auto stateOf = [&](size_t input, int64_t d) -> Result<int32_t> {
    if (!n.hasInput(input)) return int32_t{-1};
    const int32_t full = u.temp({dirs * batch, hidden});
    if (layout) { // [batch, dirs, hidden] -> [dirs, batch, hidden]
      RasterParams t;
      TESSEL_RETURN_IF_ERROR(appendStridedCopy(&t.regions, 0, {0, {hidden, dirs * hidden, 1}},
                                               {0, {batch * hidden, hidden, 1}},
                                               {dirs, batch, hidden}));
      b.emit(t, {b.input(input)}, full);
    } else {
      b.view(b.input(input), full);
    }
    return u.block(full, d * batch, batch, 0, hidden);
  };
  for (int64_t d = 0; d < dirs; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const Activation* act = &acts[static_cast<size_t>(d) * defaults.size()];
    int32_t w2 = u.temp({dirs * gh, in}), r2 = u.temp({dirs * gh, hidden});
    b.view(b.input(1), w2);
    b.view(b.input(2), r2);
    TESSEL_ASSIGN_OR_RETURN(int32_t wd, u.block(w2, d * gh, gh, 0, in));
    TESSEL_ASSIGN_OR_RETURN(int32_t rd, u.block(r2, d * gh, gh, 0, hidden));
    // Every step's input projection, [seq * batch, gates * hidden], plus the biases (GRU's
    // recurrent bias of h stays apart: with linear_before_reset it lies inside the reset).
    TESSEL_ASSIGN_OR_RETURN(int32_t xw, u.timesTransposed(x2, wd));
    int32_t recurrentH = -1; // GRU's Rbh, [1, hidden]
    if (n.hasInput(3)) {
      int32_t b2 = u.temp({dirs, 2 * gh});
      b.view(b.input(3), b2);
      TESSEL_ASSIGN_OR_RETURN(int32_t wb, u.block(b2, d, 1, 0, gh));
      TESSEL_ASSIGN_OR_RETURN(int32_t rb, u.block(b2, d, 1, gh, gh));
      int32_t bias = u.op(BinaryKind::Add, wb, rb);
      if (gru) {
        TESSEL_ASSIGN_OR_RETURN(recurrentH, u.block(b2, d, 1, gh + 2 * hidden, hidden));
        TESSEL_ASSIGN_OR_RETURN(int32_t zr, u.block(bias, 0, 1, 0, 2 * hidden));
        TESSEL_ASSIGN_OR_RETURN(int32_t wbh, u.block(wb, 0, 1, 2 * hidden, hidden));
        bias = u.temp({1, gh});
        RasterParams joined;
        TESSEL_RETURN_IF_ERROR(
            appendStridedCopy(&joined.regions, 0, {0, {1}}, {0, {1}}, {2 * hidden}));
        TESSEL_RETURN_IF_ERROR(
            appendStridedCopy(&joined.regions, 1, {0, {1}}, {2 * hidden, {1}}, {hidden}));
        b.emit(joined, {zr, wbh}, bias);
      }
      xw = u.op(BinaryKind::Add, xw, bias);
    }
    std::array<int32_t, 3> peep{-1, -1, -1}; // LSTM's i, o, f
    if (lstm && n.hasInput(7)) {
      const int32_t p2 = u.temp({dirs, 3 * hidden});
      b.view(b.input(7), p2);
      for (int64_t g = 0; g < 3; ++g) {
        TESSEL_ASSIGN_OR_RETURN(peep[static_cast<size_t>(g)],
                                u.block(p2, d, 1, g * hidden, hidden));
      }
    }
    TESSEL_ASSIGN_OR_RETURN(int32_t h, stateOf(5, d));
    int32_t c = -1;
    if (lstm) {
      TESSEL_ASSIGN_OR_RETURN(c, stateOf(6, d));
    }
    const auto zeros = [&]() {
      RasterParams z;
      z.fill = 0.0;
      const int32_t out = u.temp({batch, hidden});
      b.emit(z, {b.input(0)}, out);
      return out;
    };
    if (h < 0) h = zeros();
    if (lstm && c < 0) c = zeros();
    const auto clipped = [&](int32_t v) {
      return clip > 0
                 ? u.unary(UnaryKind::Clip, v, static_cast<float>(-clip), static_cast<float>(clip))
                 : v;
    };
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t t = reverse ? seq - 1 - s : s;
      TESSEL_ASSIGN_OR_RETURN(int32_t xt, u.block(xw, t * batch, batch, 0, gh));
      TESSEL_ASSIGN_OR_RETURN(int32_t hr, u.timesTransposed(h, rd));
      const auto gate = [&](int32_t from, int64_t g) {
        return u.block(from, 0, batch, g * hidden, hidden);
      };
      int32_t newH = -1, newC = -1;
      if (lstm) {
        const int32_t sum = u.op(BinaryKind::Add, xt, hr);
        TESSEL_ASSIGN_OR_RETURN(int32_t gi, gate(sum, 0));
        TESSEL_ASSIGN_OR_RETURN(int32_t go, gate(sum, 1));
        TESSEL_ASSIGN_OR_RETURN(int32_t gf, gate(sum, 2));
        TESSEL_ASSIGN_OR_RETURN(int32_t gc, gate(sum, 3));
        if (peep[0] >= 0) gi = u.op(BinaryKind::Add, gi, u.op(BinaryKind::Mul, c, peep[0]));
        if (peep[2] >= 0) gf = u.op(BinaryKind::Add, gf, u.op(BinaryKind::Mul, c, peep[2]));
        const int32_t i = u.activate(act[0], clipped(gi));
        const int32_t f = u.activate(act[0], clipped(gf));
        const int32_t cand = u.activate(act[1], clipped(gc));
        newC = u.op(BinaryKind::Add, u.op(BinaryKind::Mul, f, c), u.op(BinaryKind::Mul, i, cand));
        if (peep[1] >= 0) go = u.op(BinaryKind::Add, go, u.op(BinaryKind::Mul, newC, peep[1]));
        const int32_t o = u.activate(act[0], clipped(go));
        newH = u.op(BinaryKind::Mul, o, u.activate(act[2], newC));
      } else if (gru) {
        TESSEL_ASSIGN_OR_RETURN(int32_t xz, gate(xt, 0));
        TESSEL_ASSIGN_OR_RETURN(int32_t xr, gate(xt, 1));
        TESSEL_ASSIGN_OR_RETURN(int32_t xh, gate(xt, 2));
        TESSEL_ASSIGN_OR_RETURN(int32_t hz, gate(hr, 0));
        TESSEL_ASSIGN_OR_RETURN(int32_t hrr, gate(hr, 1));
        const int32_t z = u.activate(act[0], clipped(u.op(BinaryKind::Add, xz, hz)));
        const int32_t rg = u.activate(act[0], clipped(u.op(BinaryKind::Add, xr, hrr)));
        int32_t recurrent;
        if (linearBeforeReset) {
          TESSEL_ASSIGN_OR_RETURN(int32_t hh, gate(hr, 2));
          if (recurrentH >= 0) hh = u.op(BinaryKind::Add, hh, recurrentH);
          recurrent = u.op(BinaryKind::Mul, rg, hh);
        } else {
          TESSEL_ASSIGN_OR_RETURN(int32_t rh, u.block(rd, 2 * hidden, hidden, 0, hidden));
          TESSEL_ASSIGN_OR_RETURN(recurrent, u.timesTransposed(u.op(BinaryKind::Mul, rg, h), rh));
          if (recurrentH >= 0) recurrent = u.op(BinaryKind::Add, recurrent, recurrentH);
        }
        const int32_t cand = u.activate(act[1], clipped(u.op(BinaryKind::Add, xh, recurrent)));
        // (1 - z) * cand + z * h = cand + z * (h - cand)
        newH =
            u.op(BinaryKind::Add, cand, u.op(BinaryKind::Mul, z, u.op(BinaryKind::Sub, h, cand)));
      } else {
        newH = u.activate(act[0], clipped(u.op(BinaryKind::Add, xt, hr)));
      }
      int32_t out = newH;
      if (lens >= 0) { // past its length a batch keeps its state and outputs zeros
        const int32_t m = maskAt(t);
        const int32_t kept = u.temp({batch, hidden});
        b.select(m, newH, h, kept);
        out = u.temp({batch, hidden});
        b.select(m, newH, u.k(0), out);
        newH = kept;
        if (lstm) {
          const int32_t keptC = u.temp({batch, hidden});
          b.select(m, newC, c, keptC);
          newC = keptC;
        }
      }
      ys[static_cast<size_t>(d)].push_back(out); // in step order: t = reverse ? seq-1-s : s
      h = newH;
      c = newC;
    }
    lastH.push_back(h);
    lastC.push_back(c);
  }
  // Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]), Y_h and Y_c [dirs,
  // batch, hidden] (layout 1: [batch, dirs, hidden]): rasters over the states.
  const auto emitStates = [&](size_t output, const std::vector<int32_t>& states, const Shape& shape,
                              const std::function<int64_t(size_t)>& offset,
                              const Shape& rowStrides) -> Status {
    RasterParams cat;
    for (size_t i = 0; i < states.size(); ++i)
      TESSEL_RETURN_IF_ERROR(appendStridedCopy(&cat.regions, static_cast<int32_t>(i),
                                               {0, {hidden, 1}}, {offset(i), rowStrides},
                                               {batch, hidden}));
    b.emit(cat, states, b.setOutput(output, {DType::F32, shape}));
    return Status::ok();
  };
  {
    std::vector<int32_t> all;
    std::vector<int64_t> slot; // (t, d) of each state
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t s = 0; s < seq; ++s) {
        all.push_back(ys[static_cast<size_t>(d)][static_cast<size_t>(s)]);
        const bool reverse = direction == "reverse" || d == 1;
        slot.push_back((reverse ? seq - 1 - s : s) * dirs + d);
      }
    const Shape shape = layout ? Shape{batch, seq, dirs, hidden} : Shape{seq, dirs, batch, hidden};
    const Shape rows = layout ? Shape{seq * dirs * hidden, 1} : Shape{hidden, 1};
    TESSEL_RETURN_IF_ERROR(emitStates(
        0, all, shape,
        [&](size_t i) { return layout ? slot[i] * hidden : slot[i] * batch * hidden; }, rows));
  }
  const Shape finalShape = layout ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden};
  const Shape finalRows = layout ? Shape{dirs * hidden, 1} : Shape{hidden, 1};
  const auto finalOffset = [&](size_t d) {
    return layout ? static_cast<int64_t>(d) * hidden : static_cast<int64_t>(d) * batch * hidden;
  };
  if (n.numOutputs >= 2)
    TESSEL_RETURN_IF_ERROR(emitStates(1, lastH, finalShape, finalOffset, finalRows));
  if (lstm && n.numOutputs >= 3)
    TESSEL_RETURN_IF_ERROR(emitStates(2, lastC, finalShape, finalOffset, finalRows));
  return Status::ok();
}

} // namespace tessel::decompose
