#include "pool.h"

namespace tessel::x86 {
namespace {

class PoolKernel final : public PreparedKernel {
public:
  // Plain: the N * C planes one after another. Blocked (input and output alike, poolLayouts):
  // N * ceil(C / B) blocks of B channels, the padded channels pooled too (zeros in, zeros out).
  PoolKernel(const KernelTable& t, const PoolParams& p, const TensorDesc& x, const TensorDesc& y)
      : t_(t), p_(p), planes_(x.shape[0] * storedChannels(x.shape[1], layoutBlock(x.layout))) {
    g_.h = x.shape[2], g_.w = x.shape[3], g_.kh = p.kernel[0], g_.kw = p.kernel[1];
    g_.sh = p.stride[0], g_.sw = p.stride[1], g_.ph = p.pads[0], g_.pw = p.pads[1];
    g_.oh = y.shape[2], g_.ow = y.shape[3];
    g_.block = layoutBlock(x.layout);
  }

  int64_t workspaceBytes(int threads) const override {
    return windowWorkspaceBytes(t_, g_, threads);
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    WindowBlock w;
    w.g = g_;
    w.g.x = in[0].hostData<float>();
    w.mode = p_.kind == PoolKind::Max ? WindowMode::Max : WindowMode::Avg;
    w.countIncludePad = p_.countIncludePad;
    w.padBottom = p_.pads[2];
    w.padRight = p_.pads[3];
    w.y = out.mutableHostData<float>();
    w.yBlock = g_.block;
    runWindow(ctx, t_, w, planes_, static_cast<float*>(ctx.workspace.hostPointer()));
    return Status::ok();
  }

private:
  const KernelTable& t_;
  const PoolParams& p_;
  int64_t planes_;
  ConvGeometry g_;
};

} // namespace

double poolLaneFmas(const KernelTable& table, const Primitive& p,
                    const std::vector<TensorDesc>& t) {
  const TensorDesc& x = t[p.inputs[0]];
  const TensorDesc& y = t[p.outputs[0]];
  const auto& params = p.as<PoolParams>();
  const double lanes = static_cast<double>(x.shape[0]) *
                       static_cast<double>(ceilDiv(x.shape[1], table.vectorWidth)) *
                       table.vectorWidth;
  const bool blocked = x.layout != Layout::Plain;
  const double in = static_cast<double>(x.shape[2] * x.shape[3]) * (blocked ? 1.0 : 4.0);
  const double out = static_cast<double>(y.shape[2] * y.shape[3]) * (blocked ? 1.0 : 4.0);
  return lanes *
         (static_cast<double>(params.kernel[0] * params.kernel[1] * y.shape[2] * y.shape[3]) + in +
          out);
}

int64_t poolWorkspaceBytes(const KernelTable& table, const Primitive& p,
                           const std::vector<TensorDesc>& d, int threads) {
  return PoolKernel(table, p.as<PoolParams>(), d[p.inputs[0]], d[p.outputs[0]])
      .workspaceBytes(threads);
}

std::unique_ptr<PreparedKernel> preparePool(const KernelTable& table, const PrepareArgs& args) {
  const Primitive& p = *args.primitive;
  const std::vector<TensorDesc>& d = *args.tensors;
  return std::make_unique<PoolKernel>(table, p.as<PoolParams>(), d[p.inputs[0]], d[p.outputs[0]]);
}

} // namespace tessel::x86
