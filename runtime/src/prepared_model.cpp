#include "tessel/runtime/prepared_model.h"

#include "tessel/runtime/split_fused.h"
#include "tessel/search/assign.h"

#include <algorithm>

namespace tessel {

Result<std::shared_ptr<const PreparedModel>>
PreparedModel::create(std::shared_ptr<const Program> program, const BackendRegistry& registry,
                      const std::string& preferred) {
  std::shared_ptr<PreparedModel> m(new PreparedModel());
  // Fused forms no registered backend runs become plain primitives.
  const std::vector<const BackendDescriptor*> descriptors = registry.descriptors();
  std::vector<bool> split(program->primitives.size(), false);
  bool anySplit = false;
  const std::vector<TensorDesc> before = program->descs();
  for (size_t i = 0; i < program->primitives.size(); ++i) {
    const Primitive& p = program->primitives[i];
    const PostOps* ops = postOpsOf(p);
    if (!ops || ops->empty()) continue;
    bool runs = false;
    for (const BackendDescriptor* d : descriptors)
      runs = runs || d->supports(p, before);
    split[i] = !runs;
    anySplit = anySplit || !runs;
  }
  if (anySplit) program = splitPostOps(*program, split);
  m->program_ = std::move(program);
  const Program& prog = *m->program_;
  m->descs_ = prog.descs();
  search::AssignRequest request;
  request.primitives = prog.primitives;
  request.tensors = &m->descs_;
  request.descriptors = descriptors;
  request.preferred = preferred;
  request.planned = prog.backends;
  request.plannedKernels = prog.kernels;
  TESSEL_ASSIGN_OR_RETURN(search::Assignment a, search::assignBackends(request));

  m->steps_.resize(prog.primitives.size());
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    if (a.backend[i] == search::kNoBackend) continue;
    const Primitive& p = prog.primitives[i];
    Bound& bound = m->steps_[i];
    bound.backend = registry.all()[a.backend[i]].get();
    bound.choice = a.kernel[i];
    const std::string where = std::string(primitiveName(p.kind())) + " '" + p.origin + "' on " +
                              std::string(bound.backend->name());
    auto device = bound.backend->device();
    if (!device.isOk()) return device.status().withContext(where);
    bound.device = std::move(device).value();
    PrepareArgs args;
    args.primitive = &p;
    args.tensors = &m->descs_;
    args.choice = bound.choice;
    for (int32_t id : p.inputs)
      args.constants.push_back(prog.tensors[id].data);
    auto kernel = bound.backend->prepare(args, *bound.device);
    if (!kernel.isOk()) return kernel.status().withContext(where);
    bound.kernel = std::move(kernel).value();
  }
  return std::shared_ptr<const PreparedModel>(std::move(m));
}

std::vector<Backend*> PreparedModel::backendsUsed() const {
  std::vector<Backend*> used;
  for (const Bound& b : steps_)
    if (b.backend && std::find(used.begin(), used.end(), b.backend) == used.end())
      used.push_back(b.backend);
  return used;
}

} // namespace tessel
