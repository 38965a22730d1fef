#include "tessel/runtime/split_fused.h"

namespace tessel {
namespace {

// The result of a fused primitive viewed as [outer, channels, inner] (see PostOp).
std::array<int64_t, 2> channelsAndInner(const Primitive& p, const TensorDesc& out) {
  switch (p.kind()) {
  case PrimitiveKind::Conv2d: return {out.shape[1], out.shape[2] * out.shape[3]};
  case PrimitiveKind::MatMul: return {p.as<MatMulParams>().n, 1};
  case PrimitiveKind::Elementwise:
    return {p.as<ElementwiseParams>().channels, p.as<ElementwiseParams>().inner};
  default: return {1, 1};
  }
}

PrimitiveParams withoutPostOps(const Primitive& p) {
  PrimitiveParams params = p.params;
  std::visit(
      [](auto& v) {
        if constexpr (requires { v.postOps; }) v.postOps.clear();
      },
      params);
  return params;
}

I64List operandStrides(Broadcast how) {
  switch (how) {
  case Broadcast::Scalar: return {0, 0, 0};
  case Broadcast::Channel: return {0, 1, 0};
  case Broadcast::Full: break;
  }
  return {}; // filled by the caller: dense over [outer, channels, inner]
}

struct Splitter {
  Program& out;
  int32_t addTensor(const TensorDesc& desc, const std::string& name) {
    out.tensors.push_back({name, desc, nullptr});
    return static_cast<int32_t>(out.tensors.size() - 1);
  }
  void emit(PrimitiveParams params, std::vector<int32_t> in, int32_t result,
            const std::string& origin, const std::string& backend) {
    out.primitives.push_back({std::move(params), std::move(in), {result}, origin});
    out.backends.push_back(backend);
    out.kernels.emplace_back();
    out.fused.push_back(0);
  }
};

} // namespace

std::shared_ptr<Program> splitPostOps(const Program& program, const std::vector<bool>& split) {
  auto result = std::make_shared<Program>(program);
  Program& out = *result;
  out.primitives.clear();
  out.backends.clear();
  out.kernels.clear();
  out.fused.clear(); // a split primitive leaves its chain: the pieces run on their own
  Splitter s{out};
  for (size_t i = 0; i < program.primitives.size(); ++i) {
    const Primitive& p = program.primitives[i];
    const std::string backend = program.backends.empty() ? std::string() : program.backends[i];
    const PostOps* ops = postOpsOf(p);
    const bool plainResult = program.tensors[p.outputs[0]].desc.layout == Layout::Plain;
    if (i >= split.size() || !split[i] || !ops || ops->empty() || !plainResult) {
      s.emit(p.params, p.inputs, p.outputs[0], p.origin, backend);
      out.kernels.back() = program.kernels.empty() ? KernelChoice{} : program.kernels[i];
      out.fused.back() = i < program.fused.size() ? program.fused[i] : 0;
      continue;
    }
    if (!out.fused.empty()) out.fused.back() = 0;
    const TensorDesc& y = program.tensors[p.outputs[0]].desc;
    const auto [channels, inner] = channelsAndInner(p, y);
    const int64_t outer = channels * inner != 0 ? y.numel() / (channels * inner) : 0;
    const TensorDesc flat{y.dtype, {outer, channels, inner}};
    const std::string base = program.tensors[p.outputs[0]].name;
    std::vector<int32_t> baseInputs(p.inputs.begin(), p.inputs.begin() + baseInputCount(p));
    const int32_t plain = s.addTensor(y, base + ".plain");
    s.emit(withoutPostOps(p), baseInputs, plain, p.origin, backend);
    int32_t current = s.addTensor(flat, base + ".post0");
    s.emit(ViewParams{}, {plain}, current, p.origin, "");
    for (size_t k = 0; k < ops->size(); ++k) {
      const PostOp& op = (*ops)[k];
      const int32_t next = s.addTensor(flat, base + ".post" + std::to_string(k + 1));
      if (!op.isBinary) {
        s.emit(UnaryParams{op.unary, op.alpha, op.beta}, {current}, next, p.origin, "");
      } else {
        const int32_t x = p.inputs[op.operand];
        I64List dense = denseStrides(flat.shape);
        I64List xs = operandStrides(op.broadcast);
        if (xs.empty()) xs = dense;
        BinaryParams b{op.binary, dense, xs};
        std::vector<int32_t> in{current, x};
        if (op.operandFirst) {
          std::swap(b.lhsStrides, b.rhsStrides);
          std::swap(in[0], in[1]);
        }
        s.emit(b, in, next, p.origin, "");
      }
      current = next;
    }
    s.emit(ViewParams{}, {current}, p.outputs[0], p.origin, "");
  }
  return result;
}

} // namespace tessel
