#include "tessel/runtime/session.h"

#include <cstring>

namespace tessel {

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Program> program,
                                                 const BackendRegistry& registry,
                                                 const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->program_ = std::move(program);
  const Program& prog = *s->program_;
  s->descs_ = prog.descs();
  Backend* preferred = nullptr;
  if (!options.backend.empty()) {
    preferred = registry.find(options.backend);
    if (!preferred) return invalidArgument("no backend named '" + options.backend + "'");
  }
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    const Primitive& p = prog.primitives[i];
    Backend* chosen = nullptr;
    if (preferred && preferred->supports(p, s->descs_)) chosen = preferred;
    if (!chosen && !prog.backends.empty() && !prog.backends[i].empty()) {
      Backend* planned = registry.find(prog.backends[i]);
      if (planned && planned->supports(p, s->descs_)) chosen = planned;
    }
    for (const auto& b : registry.all())
      if (!chosen && b->supports(p, s->descs_)) chosen = b.get();
    if (!chosen)
      return unsupported(std::string(primitiveName(p.kind())) + " '" + p.origin +
                         "': no registered backend supports it");
    s->assigned_.push_back(chosen);
  }
  s->plan_ = planMemory(prog);
  s->arena_.reset(new (std::nothrow) uint8_t[s->plan_.arenaBytes + 64]);
  if (!s->arena_)
    return invalidArgument("cannot allocate an arena of " + std::to_string(s->plan_.arenaBytes) +
                           " bytes");
  auto base = reinterpret_cast<uintptr_t>(s->arena_.get());
  s->arenaBase_ = s->arena_.get() + ((64 - base % 64) % 64);
  return s;
}

const void* Session::tensorData(int32_t id) const {
  const int32_t root = plan_.aliasOf[id];
  if (program_->tensors[root].data) return program_->tensors[root].data;
  return arenaBase_ + plan_.offsets[root];
}

Status Session::setInput(size_t i, const void* data, size_t bytes) {
  if (i >= program_->inputs.size())
    return invalidArgument("input index " + std::to_string(i) + " out of range");
  const ProgramTensor& t = program_->tensors[program_->inputs[i]];
  if (bytes != static_cast<size_t>(t.desc.byteSize()))
    return invalidArgument("input '" + t.name + "' expects " + std::to_string(t.desc.byteSize()) +
                           " bytes (" + t.desc.toString() + "), got " + std::to_string(bytes));
  if (bytes) std::memcpy(const_cast<void*>(tensorData(program_->inputs[i])), data, bytes);
  return Status::ok();
}

Status Session::run() {
  std::vector<ConstTensorView> ins;
  for (size_t i = 0; i < program_->primitives.size(); ++i) {
    const Primitive& p = program_->primitives[i];
    if (p.kind() == PrimitiveKind::View) continue; // shares its source's bytes
    ins.clear();
    for (int32_t id : p.inputs)
      ins.push_back({&descs_[id], tensorData(id)});
    const int32_t out = p.outputs[0];
    TensorView o{&descs_[out], const_cast<void*>(tensorData(out))};
    Status s = assigned_[i]->run(p, ins, o);
    if (!s.isOk()) return s.withContext(std::string(assigned_[i]->name()) + " backend");
  }
  return Status::ok();
}

} // namespace tessel
