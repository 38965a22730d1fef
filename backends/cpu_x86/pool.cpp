#include "pool.h"

namespace tessel::x86 {
namespace {

class PoolKernel final : public PreparedKernel {
public:
  PoolKernel(const KernelTable& t, const PoolParams& p, const TensorDesc& x, const TensorDesc& y)
      : t_(t), p_(p), planes_(x.shape[0] * x.shape[1]) {
    g_.h = x.shape[2], g_.w = x.shape[3], g_.kh = p.kernel[0], g_.kw = p.kernel[1];
    g_.sh = p.stride[0], g_.sw = p.stride[1], g_.ph = p.pads[0], g_.pw = p.pads[1];
    g_.oh = y.shape[2], g_.ow = y.shape[3];
  }

  int64_t workspaceBytes(int threads) const override {
    return threads * windowScratchFloats(g_) * 4;
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    if (g_.oh == 0 || g_.ow == 0) return Status::ok();
    const float* x = in[0].hostData<float>();
    float* y = out.mutableHostData<float>();
    float* ws = static_cast<float*>(ctx.workspace.hostPointer());
    const int64_t scratch = windowScratchFloats(g_);
    const int64_t tasks = std::min<int64_t>(planes_, 4 * std::max(ctx.threads, 1));
    parallelFor(ctx, tasks, [&](int64_t task, int slot) {
      const int64_t p0 = planes_ * task / tasks, p1 = planes_ * (task + 1) / tasks;
      WindowPlane w;
      w.g = g_;
      w.g.x = x + p0 * g_.h * g_.w;
      w.mode = p_.kind == PoolKind::Max ? WindowMode::Max : WindowMode::Avg;
      w.countIncludePad = p_.countIncludePad;
      w.padBottom = p_.pads[2];
      w.padRight = p_.pads[3];
      w.y = y + p0 * g_.oh * g_.ow;
      w.scratch = ws + slot * scratch;
      w.planes = p1 - p0;
      if (w.planes > 0) t_.window(w);
    });
    return Status::ok();
  }

private:
  const KernelTable& t_;
  const PoolParams& p_;
  int64_t planes_;
  ConvGeometry g_;
};

} // namespace

std::unique_ptr<PreparedKernel> preparePool(const KernelTable& table, const PrepareArgs& args) {
  const Primitive& p = *args.primitive;
  const std::vector<TensorDesc>& d = *args.tensors;
  return std::make_unique<PoolKernel>(table, p.as<PoolParams>(), d[p.inputs[0]], d[p.outputs[0]]);
}

} // namespace tessel::x86
