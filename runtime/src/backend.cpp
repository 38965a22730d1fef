#include "tessel/runtime/backend.h"

namespace tessel {

double Backend::estimateSeconds(const Primitive& p, const std::vector<TensorDesc>& tensors) const {
  // Bytes moved at 10 GB/s: a neutral default that backends override with their own roofline.
  double bytes = static_cast<double>(tensors[p.outputs[0]].byteSize());
  for (int32_t id : p.inputs)
    bytes += static_cast<double>(tensors[id].byteSize());
  return bytes / 10e9;
}

void BackendRegistry::add(std::unique_ptr<Backend> backend) {
  backends_.push_back(std::move(backend));
}

Backend* BackendRegistry::find(std::string_view name) const {
  for (const auto& b : backends_)
    if (b->name() == name) return b.get();
  return nullptr;
}

} // namespace tessel
