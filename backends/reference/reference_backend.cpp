// The reference backend: every primitive in plain C++ (see kernels.h).
#include "kernels.h"
#include "tessel/backends/reference.h"

#include <memory>

namespace tessel {
namespace {

bool isFloatOnly(const Primitive& p, const std::vector<TensorDesc>& t) {
  for (int32_t id : p.inputs)
    if (t[id].dtype != DType::F32) return false;
  return t[p.outputs[0]].dtype == DType::F32;
}

class ReferenceBackend final : public Backend {
public:
  std::string_view name() const override { return "reference"; }

  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    switch (p.kind()) {
    case PrimitiveKind::Raster:
    case PrimitiveKind::View: return true;
    case PrimitiveKind::Unary: {
      const UnaryKind k = p.as<UnaryParams>().kind;
      return k == UnaryKind::Cast || k == UnaryKind::Identity || isFloatOnly(p, t);
    }
    case PrimitiveKind::Binary: {
      const DType d = t[p.outputs[0]].dtype;
      return d == DType::F32 || d == DType::I64 || d == DType::I32;
    }
    default: return isFloatOnly(p, t);
    }
  }

  Status run(const Primitive& p, std::span<const ConstTensorView> in,
             const TensorView& out) override {
    switch (p.kind()) {
    case PrimitiveKind::Raster: return reference::runRaster(p.as<RasterParams>(), in, out);
    case PrimitiveKind::View: return Status::ok();
    case PrimitiveKind::Unary: return reference::runUnary(p.as<UnaryParams>(), in, out);
    case PrimitiveKind::Binary: return reference::runBinary(p.as<BinaryParams>(), in, out);
    case PrimitiveKind::Reduce: return reference::runReduce(p.as<ReduceParams>(), in, out);
    case PrimitiveKind::MatMul: return reference::runMatMul(p.as<MatMulParams>(), in, out);
    case PrimitiveKind::Conv2d: return reference::runConv2d(p.as<Conv2dParams>(), in, out);
    case PrimitiveKind::Pool: return reference::runPool(p.as<PoolParams>(), in, out);
    }
    return internalError("unknown primitive");
  }
};

} // namespace

void registerReferenceBackend(BackendRegistry& registry) {
  registry.add(std::make_unique<ReferenceBackend>());
}

} // namespace tessel
