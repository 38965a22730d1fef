#include "tessel/runtime/program.h"

namespace tessel {

std::vector<TensorDesc> Program::descs() const {
  std::vector<TensorDesc> d;
  d.reserve(tensors.size());
  for (const ProgramTensor& t : tensors)
    d.push_back(t.desc);
  return d;
}

Status validateProgram(const Program& program) {
  const size_t count = program.tensors.size();
  for (const ProgramTensor& t : program.tensors) {
    if (dtypeSize(t.desc.dtype) == 0) return corrupt("tensor '" + t.name + "' has no valid dtype");
    if (static_cast<int>(t.desc.layout) >= kLayoutCount ||
        (t.desc.layout != Layout::Plain && t.desc.rank() != 4))
      return corrupt("tensor '" + t.name + "' has layout " +
                     std::to_string(static_cast<int>(t.desc.layout)) + ", which needs a 4-D shape");
    auto n = elementCount(t.desc.storageShape());
    if (!n.isOk()) return n.status().withContext("tensor '" + t.name + "'");
  }
  std::vector<bool> ready(count, false);
  for (size_t i = 0; i < count; ++i)
    ready[i] = program.tensors[i].data != nullptr;
  for (int32_t id : program.inputs) {
    if (id < 0 || static_cast<size_t>(id) >= count) return corrupt("input id out of range");
    if (ready[id])
      return corrupt("input '" + program.tensors[id].name + "' is also a constant or repeated");
    ready[id] = true;
  }
  if (!program.backends.empty() && program.backends.size() != program.primitives.size())
    return corrupt("plan length differs from the primitive count");
  if (!program.kernels.empty() && program.kernels.size() != program.primitives.size())
    return corrupt("kernel plan length differs from the primitive count");
  const std::vector<TensorDesc> descs = program.descs();
  for (const Primitive& p : program.primitives) {
    TESSEL_RETURN_IF_ERROR(validatePrimitive(p, descs));
    for (int32_t id : p.inputs)
      if (!ready[id])
        return corrupt(std::string(primitiveName(p.kind())) + " '" + p.origin + "' reads tensor '" +
                       program.tensors[id].name + "' before it is written");
    int32_t out = p.outputs[0];
    if (ready[out])
      return corrupt(std::string(primitiveName(p.kind())) + " '" + p.origin +
                     "' overwrites tensor '" + program.tensors[out].name + "'");
    ready[out] = true;
  }
  for (int32_t id : program.outputs) {
    if (id < 0 || static_cast<size_t>(id) >= count) return corrupt("output id out of range");
    if (!ready[id]) return corrupt("output '" + program.tensors[id].name + "' is never written");
  }
  return Status::ok();
}

} // namespace tessel
