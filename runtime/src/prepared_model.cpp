#include "tessel/runtime/prepared_model.h"

#include "tessel/runtime/split_fused.h"
#include "tessel/search/assign.h"
#include "tessel/search/layouts.h"

#include <algorithm>
#include <sys/mman.h>
#include <unistd.h>

namespace tessel {

Result<std::shared_ptr<const PreparedModel>>
PreparedModel::create(std::shared_ptr<const Program> program, const BackendRegistry& registry,
                      const std::string& preferred, bool blockedLayouts) {
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
  const bool allPlain = std::all_of(m->descs_.begin(), m->descs_.end(),
                                    [](const TensorDesc& d) { return d.layout == Layout::Plain; });
  if (blockedLayouts && allPlain) {
    search::LayoutRequest layouts;
    layouts.primitives = prog.primitives;
    layouts.descriptors = descriptors;
    layouts.assignment = &a;
    layouts.pinned.assign(prog.tensors.size(), false);
    layouts.constant.assign(prog.tensors.size(), false);
    for (size_t id = 0; id < prog.tensors.size(); ++id)
      layouts.constant[id] = layouts.pinned[id] = prog.tensors[id].data != nullptr;
    for (int32_t id : prog.inputs)
      layouts.pinned[id] = true;
    for (int32_t id : prog.outputs)
      layouts.pinned[id] = true;
    m->blocked_ = search::assignLayouts(layouts, &m->descs_);
  }

  m->steps_.resize(prog.primitives.size());
  ConstantRelease release;
  release.plan(prog);
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    if (a.backend[i] == search::kNoBackend) { // a view reads its input's bytes in place
      release.prepared(prog, i, nullptr);
      continue;
    }
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
    release.prepared(prog, i, bound.kernel.get());
  }
  return std::shared_ptr<const PreparedModel>(std::move(m));
}

namespace {

// Gives back the whole pages of a constant's bytes in a file mapping; they fault back in from
// the file if anything reads them again.
void releasePages(const ProgramTensor& t) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(t.data);
  const uintptr_t end = begin + static_cast<uintptr_t>(t.desc.byteSize());
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

} // namespace

// Constants whose every reader keeps its own copy (packed weights) release their mapped pages
// as soon as their last reader is prepared, so the raw and packed weights are not resident at
// once.
void PreparedModel::ConstantRelease::plan(const Program& prog) {
  enabled = prog.constantsReloadable;
  lastUse.assign(prog.tensors.size(), -1);
  stillRead.assign(prog.tensors.size(), false);
  for (size_t i = 0; i < prog.primitives.size(); ++i)
    for (int32_t id : prog.primitives[i].inputs)
      if (prog.tensors[id].data) lastUse[id] = static_cast<int64_t>(i);
  for (int32_t id : prog.outputs)
    stillRead[id] = true;
}

void PreparedModel::ConstantRelease::prepared(const Program& prog, size_t i,
                                              const PreparedKernel* kernel) {
  if (!enabled) return;
  const Primitive& p = prog.primitives[i];
  for (size_t k = 0; k < p.inputs.size(); ++k) {
    const int32_t id = p.inputs[k];
    if (!prog.tensors[id].data) continue;
    if (!kernel || kernel->readsConstant(k)) stillRead[id] = true;
    if (lastUse[id] == static_cast<int64_t>(i) && !stillRead[id]) {
      releasePages(prog.tensors[id]);
      stillRead[id] = true; // released once
    }
  }
}

std::vector<Backend*> PreparedModel::backendsUsed() const {
  std::vector<Backend*> used;
  for (const Bound& b : steps_)
    if (b.backend && std::find(used.begin(), used.end(), b.backend) == used.end())
      used.push_back(b.backend);
  return used;
}

} // namespace tessel
