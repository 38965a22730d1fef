// The reference backend: every primitive in plain C++ (see kernels.h), one kernel each, single
// threaded, on host memory.
#include "kernels.h"
#include "tessel/backends/reference.h"

#include <memory>

namespace tessel {
namespace {

bool allOf(DType d, const Primitive& p, const std::vector<TensorDesc>& t) {
  for (int32_t id : p.inputs)
    if (t[id].dtype != d) return false;
  return t[p.outputs[0]].dtype == d;
}

bool isFloatOnly(const Primitive& p, const std::vector<TensorDesc>& t) {
  return allOf(DType::F32, p, t);
}

// Unary kinds and reductions also run in f64.
bool isF32OrF64(const Primitive& p, const std::vector<TensorDesc>& t) {
  return allOf(DType::F32, p, t) || allOf(DType::F64, p, t);
}

class ReferenceDescriptor final : public BackendDescriptor {
public:
  std::string_view name() const override { return "reference"; }

  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    // Blocked layouts reach the reference only through rasters (layout conversions).
    if (p.kind() != PrimitiveKind::Raster && p.kind() != PrimitiveKind::View) {
      for (int32_t id : p.inputs)
        if (t[id].layout != Layout::Plain) return false;
      if (t[p.outputs[0]].layout != Layout::Plain) return false;
    }
    switch (p.kind()) {
    case PrimitiveKind::Raster:
    case PrimitiveKind::View:
    case PrimitiveKind::Gather:
    case PrimitiveKind::Scatter:             // combining: the dtypes validation allows
    case PrimitiveKind::Select: return true; // bytes of any dtype
    case PrimitiveKind::TopK: return true;   // the dtypes validation allows
    case PrimitiveKind::Unary: {
      const UnaryKind k = p.as<UnaryParams>().kind;
      return k == UnaryKind::Cast || k == UnaryKind::Identity || isF32OrF64(p, t);
    }
    case PrimitiveKind::Reduce: {
      if (!reduceGivesIndex(p.as<ReduceParams>().kind)) return isF32OrF64(p, t);
      const DType d = t[p.inputs[0]].dtype;
      return d == DType::F32 || d == DType::I32 || d == DType::I64;
    }
    case PrimitiveKind::Binary: // every type but the half ones, computed in f32 (rules cast)
      return !dtypeIsHalf(t[p.inputs[0]].dtype);
    case PrimitiveKind::MatMul: // post-ops need f32 (validation)
    case PrimitiveKind::Conv2d: return isF32OrF64(p, t);
    default: return isFloatOnly(p, t);
    }
  }
};

// Runs the primitive's params through the plain kernels; the params live as long as the model.
class ReferenceKernel final : public PreparedKernel {
public:
  explicit ReferenceKernel(const PrimitiveParams& params) : params_(params) {}

  // A unary that keeps the dtype reads element i before writing element i.
  int inPlaceInput() const override {
    const auto* u = std::get_if<UnaryParams>(&params_);
    return u && u->kind != UnaryKind::Cast ? 0 : -1;
  }

  Status run(const ExecContext&, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    using reference::ConstTensorView;
    ConstTensorView views[8];
    std::vector<ConstTensorView> many;
    ConstTensorView* in = views;
    if (inputs.size() > std::size(views)) {
      many.resize(inputs.size());
      in = many.data();
    }
    for (size_t i = 0; i < inputs.size(); ++i)
      in[i] = {inputs[i].desc, inputs[i].buffer.hostPointer()};
    const reference::Inputs ins(in, inputs.size());
    const reference::TensorView out{output.desc, output.buffer.hostPointer()};
    return std::visit(
        [&](const auto& p) -> Status {
          using P = std::decay_t<decltype(p)>;
          if constexpr (std::is_same_v<P, RasterParams>) return reference::runRaster(p, ins, out);
          if constexpr (std::is_same_v<P, UnaryParams>) return reference::runUnary(p, ins, out);
          if constexpr (std::is_same_v<P, BinaryParams>) return reference::runBinary(p, ins, out);
          if constexpr (std::is_same_v<P, ReduceParams>) return reference::runReduce(p, ins, out);
          if constexpr (std::is_same_v<P, MatMulParams>) return reference::runMatMul(p, ins, out);
          if constexpr (std::is_same_v<P, Conv2dParams>) return reference::runConv2d(p, ins, out);
          if constexpr (std::is_same_v<P, PoolParams>) return reference::runPool(p, ins, out);
          if constexpr (std::is_same_v<P, ElementwiseParams>)
            return reference::runElementwise(p, ins, out);
          if constexpr (std::is_same_v<P, GatherParams>) return reference::runGather(p, ins, out);
          if constexpr (std::is_same_v<P, SelectParams>) return reference::runSelect(p, ins, out);
          if constexpr (std::is_same_v<P, TopKParams>) return reference::runTopK(p, ins, out);
          if constexpr (std::is_same_v<P, ScatterParams>) return reference::runScatter(p, ins, out);
          if constexpr (std::is_same_v<P, ViewParams>) return Status::ok();
          return internalError("unknown primitive");
        },
        params_);
  }

private:
  const PrimitiveParams& params_;
};

class ReferenceBackend final : public Backend {
public:
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override { return hostDevice(); }
  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& args, Device&) const override {
    if (args.choice.id != 0)
      return corrupt("reference has no kernel " + std::to_string(args.choice.id));
    return std::unique_ptr<PreparedKernel>(
        std::make_unique<ReferenceKernel>(args.primitive->params));
  }

private:
  ReferenceDescriptor descriptor_;
};

} // namespace

void registerReferenceBackend(BackendRegistry& registry) {
  registry.add(std::make_unique<ReferenceBackend>());
}

} // namespace tessel
