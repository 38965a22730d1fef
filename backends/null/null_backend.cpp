// The null backend: the smallest complete backend and the template for new ones (README.md).
// It claims only what needs no arithmetic: views and rasters, so a model made of pure data
// movement runs on it and every other primitive falls back to another backend.
#include "tessel/backends/null.h"

#include <cstring>
#include <memory>

namespace tessel {
namespace {

// The descriptor: what the planner and the compiler see. No kernels, no device.
class NullDescriptor final : public BackendDescriptor {
public:
  std::string_view name() const override { return "null"; }
  bool supports(const Primitive& p, const std::vector<TensorDesc>&) const override {
    // Fills need a typed value; leave them to backends that do arithmetic.
    return p.kind() == PrimitiveKind::View ||
           (p.kind() == PrimitiveKind::Raster && !p.as<RasterParams>().fill);
  }
};

// One prepared raster: copies element by element through its regions.
class NullRasterKernel final : public PreparedKernel {
public:
  explicit NullRasterKernel(const RasterParams& params) : params_(params) {}

  Status run(const ExecContext&, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    const size_t elem = dtypeSize(out.desc->dtype);
    auto* dst = out.mutableHostData<uint8_t>();
    for (const Region& r : params_.regions) {
      const auto* src = in[r.source].hostData<uint8_t>();
      if (r.size[0] == 0 || r.size[1] == 0 || r.size[2] == 0) continue;
      for (int64_t i = 0; i < r.size[0]; ++i)
        for (int64_t j = 0; j < r.size[1]; ++j)
          for (int64_t k = 0; k < r.size[2]; ++k) {
            const int64_t s =
                r.src.offset + i * r.src.stride[0] + j * r.src.stride[1] + k * r.src.stride[2];
            const int64_t d =
                r.dst.offset + i * r.dst.stride[0] + j * r.dst.stride[1] + k * r.dst.stride[2];
            std::memcpy(dst + d * elem, src + s * elem, elem);
          }
    }
    return Status::ok();
  }

private:
  const RasterParams& params_;
};

// The executor: the host device (process memory, shared thread pool) and prepare().
class NullBackend final : public Backend {
public:
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override { return hostDevice(); }
  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& args, Device&) const override {
    const Primitive& p = *args.primitive;
    if (p.kind() != PrimitiveKind::Raster || args.choice.id != 0)
      return unsupported("the null backend runs rasters only");
    return std::unique_ptr<PreparedKernel>(
        std::make_unique<NullRasterKernel>(p.as<RasterParams>()));
  }

private:
  NullDescriptor descriptor_;
};

} // namespace

void registerNullBackend(BackendRegistry& registry) {
  registry.add(std::make_unique<NullBackend>());
}

} // namespace tessel
