// The null backend: the smallest complete backend and the template for new ones (README.md).
// It claims only what needs no arithmetic: views and rasters, so a model made of pure data
// movement runs on it and every other primitive falls back to another backend.
#include "tessel/backends/null.h"

#include <cstring>
#include <memory>

namespace tessel {
namespace {

class NullBackend final : public Backend {
public:
  std::string_view name() const override { return "null"; }

  bool supports(const Primitive& p, const std::vector<TensorDesc>&) const override {
    // Fills need a typed value; leave them to backends that do arithmetic.
    return p.kind() == PrimitiveKind::View ||
           (p.kind() == PrimitiveKind::Raster && !p.as<RasterParams>().fill);
  }

  Status run(const Primitive& p, std::span<const ConstTensorView> in,
             const TensorView& out) override {
    if (p.kind() == PrimitiveKind::View) return Status::ok();
    const size_t elem = dtypeSize(out.desc->dtype);
    auto* dst = static_cast<uint8_t*>(out.data);
    for (const Region& r : p.as<RasterParams>().regions) {
      const auto* src = static_cast<const uint8_t*>(in[r.source].data);
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
};

} // namespace

void registerNullBackend(BackendRegistry& registry) {
  registry.add(std::make_unique<NullBackend>());
}

} // namespace tessel
