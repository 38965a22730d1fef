#include "tessel/runtime/session.h"

#include "session_plan.h"
#include "tessel/runtime/thread_pool.h"

#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <unistd.h>

namespace tessel {

namespace {

using Plan = Session::Plan;

// Makes tensor `id` available in `space`: itself, or a copy made by a step appended to `steps`
// (via the host when neither side is the host). Tensors never change, so one copy per space.
int32_t ensureIn(Plan& plan, std::map<std::pair<int32_t, int>, int32_t>& copies, int32_t id,
                 int space, std::vector<Plan::Step>& steps) {
  if (plan.tensors[id].space == space) return id;
  auto it = copies.find({id, space});
  if (it != copies.end()) return it->second;
  int32_t src = id;
  if (plan.tensors[id].space != 0 && space != 0) src = ensureIn(plan, copies, id, 0, steps);
  const auto copy = static_cast<int32_t>(plan.tensors.size());
  plan.copyDescs.push_back(std::make_unique<TensorDesc>(*plan.tensors[id].desc));
  plan.tensors.push_back({plan.copyDescs.back().get(), space, -1, 0, nullptr, -1});
  Plan::Step step;
  step.kind = space == 0 ? Plan::StepKind::Download : Plan::StepKind::Upload;
  step.inputs = {src};
  step.output = copy;
  step.space = space == 0 ? plan.tensors[src].space : space;
  steps.push_back(std::move(step));
  copies[{id, space}] = copy;
  return copy;
}

} // namespace

Session::~Session() {
  if (!plan_) return;
  for (Plan::Space& s : plan_->spaces)
    if (s.allocated) s.device->release(s.arena);
}

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Program> program,
                                                 const BackendRegistry& registry,
                                                 const SessionOptions& options) {
  TESSEL_ASSIGN_OR_RETURN(
      std::shared_ptr<const PreparedModel> model,
      PreparedModel::create(std::move(program), registry, options.prepareOptions()));
  return create(std::move(model), options);
}

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const PreparedModel> model,
                                                 const SessionOptions& options) {
  if (options.threads < 0)
    return invalidArgument("thread count " + std::to_string(options.threads) + " is negative");
  std::unique_ptr<Session> s(new Session());
  s->model_ = std::move(model);
  s->threads_ = options.threadCount();
  if (options.memoryBudget < 0)
    return invalidArgument("memory budget " + std::to_string(options.memoryBudget) +
                           " is negative");
  s->budget_ = options.memoryBudget > 0 ? options.memoryBudget : defaultMemoryBudget();
  TESSEL_RETURN_IF_ERROR(s->build());
  TESSEL_RETURN_IF_ERROR(s->allocate());
  // Constants a device reads are uploaded once, here.
  for (const Plan::Step& step : s->plan_->preload)
    TESSEL_RETURN_IF_ERROR(s->runStep(step));
  return s;
}

// Steps, tensor placement and copies between spaces.
Status Session::build() {
  plan_ = std::make_unique<Plan>();
  Plan& plan = *plan_;
  const Program& prog = model_->program();
  plan.spaceOf(hostDevice());
  plan.tensors.reserve(prog.tensors.size());
  plan.steps.reserve(prog.primitives.size());
  for (size_t id = 0; id < prog.tensors.size(); ++id)
    plan.tensors.push_back({&model_->descs()[id], 0, -1, 0, prog.tensors[id].data, -1});
  std::map<std::pair<int32_t, int>, int32_t> copies;
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    const Primitive& p = prog.primitives[i];
    Plan::Tensor& out = plan.tensors[p.outputs[0]];
    if (!model_->backend(i)) { // a view: same bytes, same space
      out.space = plan.tensors[p.inputs[0]].space;
      out.aliasOf = p.inputs[0];
      continue;
    }
    // A chain runs as one step, at its first primitive: the inputs of all, the last's output.
    if (model_->chainHead(i) != static_cast<int32_t>(i)) continue;
    const int32_t output = prog.primitives[model_->chainLast(i)].outputs[0];
    const int space = plan.spaceOf(model_->device(i));
    Plan::Step step;
    step.primitive = static_cast<int32_t>(i);
    step.space = space;
    step.inputs = model_->stepInputs(i); // each then as available in the step's space
    const PreparedKernel* kernel = model_->kernel(i);
    for (size_t k = 0; k < step.inputs.size(); ++k) {
      int32_t& id = step.inputs[k];
      // A constant a device kernel keeps its own copy of stays on the host: no upload, no arena
      // space (the kernel neither binds nor reads it; backend.h, readsConstant).
      if (space != 0 && plan.isConstant(id) && kernel && !kernel->readsConstant(k)) continue;
      id = ensureIn(plan, copies, id, space, plan.isConstant(id) ? plan.preload : plan.steps);
    }
    step.output = output;
    plan.tensors[output].space = space;
    plan.steps.push_back(std::move(step));
  }
  for (int32_t id : prog.outputs)
    plan.outputs.push_back(ensureIn(plan, copies, id, 0, plan.steps));
  planAliases(plan, *model_);
  return Status::ok();
}

// Lifetimes over the steps, one arena per space, workspace included.
Status Session::allocate() {
  Plan& plan = *plan_;
  const Program& prog = model_->program();
  const auto end = static_cast<int64_t>(plan.steps.size());
  // Lifetimes of storage roots: aliases (views, in-place outputs, slices) extend their root's.
  std::vector<int64_t> first(plan.tensors.size(), end), last(plan.tensors.size(), -1);
  for (int32_t id : prog.inputs)
    first[plan.rootOf(id)] = -1;
  for (const Plan::Step& s : plan.preload) {
    first[plan.rootOf(s.output)] = -1;
    last[plan.rootOf(s.output)] = end;
  }
  for (int64_t i = 0; i < end; ++i) {
    const Plan::Step& s = plan.steps[i];
    if (s.skip) continue;
    for (int32_t id : s.inputs)
      last[plan.rootOf(id)] = std::max(last[plan.rootOf(id)], i);
    const int32_t root = plan.rootOf(s.output);
    first[root] = std::min(first[root], i);
    last[root] = std::max(last[root], i);
  }
  // Inputs live for the whole session: set once, they serve every later run (a tensor planned
  // into their storage after their last reader would change them under the caller).
  for (int32_t id : prog.inputs)
    last[plan.rootOf(id)] = end;
  for (int32_t id : plan.outputs)
    last[plan.rootOf(id)] = end;
  for (size_t id = 0; id < plan.tensors.size(); ++id) {
    Plan::Tensor& t = plan.tensors[id];
    if (t.aliasOf >= 0 || t.constant) continue;
    if (first[id] == end && last[id] < 0) continue; // never used
    auto& lifetimes = plan.spaces[t.space].lifetimes;
    t.lifetime = static_cast<int>(lifetimes.size());
    lifetimes.push_back({t.desc->byteSize(), first[id], std::max(last[id], first[id])});
  }
  for (int64_t i = 0; i < end; ++i) {
    Plan::Step& s = plan.steps[i];
    if (s.kind != Plan::StepKind::Kernel) continue;
    const int64_t bytes = model_->kernel(s.primitive)->workspaceBytes(threads_);
    if (bytes <= 0) continue;
    auto& lifetimes = plan.spaces[s.space].lifetimes;
    s.workspace = static_cast<int>(lifetimes.size());
    lifetimes.push_back({bytes, i, i});
  }
  // Every space's arena is planned, and the total checked against the budget, before any is
  // allocated: a file declaring huge tensors fails here, not in the allocator.
  std::vector<ArenaLayout> layouts;
  int64_t total = 0;
  for (Plan::Space& space : plan.spaces) {
    layouts.push_back(packLifetimes(space.lifetimes));
    if (__builtin_add_overflow(total, layouts.back().arenaBytes, &total))
      total = std::numeric_limits<int64_t>::max();
  }
  if (total > budget_)
    return resourceExhausted("the session needs " + std::to_string(total) +
                             " bytes of arena (tensors and workspace at " +
                             std::to_string(threads_) + " threads), over its memory budget of " +
                             std::to_string(budget_) + " bytes");
  for (size_t si = 0; si < plan.spaces.size(); ++si) {
    Plan::Space& space = plan.spaces[si];
    const ArenaLayout& layout = layouts[si];
    space.offsets = layout.offsets;
    arenaStats_.push_back({space.name, layout.arenaBytes, layout.unsharedBytes});
    auto arena = space.device->allocate(layout.arenaBytes);
    if (!arena.isOk()) return arena.status().withContext("arena in memory space " + space.name);
    space.arena = *arena;
    space.allocated = true;
    auto stream = space.device->createStream();
    if (!stream.isOk()) return stream.status().withContext("stream in memory space " + space.name);
    space.stream = std::move(stream).value();
  }
  preloadCopies_ = static_cast<int>(plan.preload.size());
  plan.bind();
  return Status::ok();
}

Status Session::runStep(const Plan::Step& s) {
  Plan& plan = *plan_;
  if (s.skip) return Status::ok(); // a raster whose copies the aliases made unnecessary
  Plan::Space& space = plan.spaces[s.space];
  const int64_t bytes = s.out.desc->byteSize();
  switch (s.kind) {
  case Plan::StepKind::Upload:
    TESSEL_RETURN_IF_ERROR(
        space.device->upload(*space.stream, s.out.buffer, s.args[0].buffer.hostPointer(), bytes));
    // The host bytes may be reused by the next step: the copy must have finished.
    return space.stream->wait();
  case Plan::StepKind::Download:
    TESSEL_RETURN_IF_ERROR(
        space.device->download(*space.stream, s.out.buffer.hostPointer(), s.args[0].buffer, bytes));
    return space.stream->wait();
  case Plan::StepKind::Kernel: break;
  }
  ExecContext ctx;
  ctx.device = space.device.get();
  ctx.stream = space.stream.get();
  ctx.pool = space.device->threadPool();
  ctx.threads = threads_;
  if (s.workspace >= 0) {
    ctx.workspace = {space.arena.handle, space.arena.offset + space.offsets[s.workspace]};
    ctx.workspaceBytes = space.lifetimes[s.workspace].bytes;
  }
  Status st = model_->kernel(s.primitive)->run(ctx, s.args, s.out);
  if (!st.isOk()) {
    // Name what failed: the backend, the primitive and the model node it came from.
    const Primitive& p = model_->program().primitives[s.primitive];
    return st.withContext(std::string(model_->backend(s.primitive)->name()) + " " +
                          std::string(primitiveName(p.kind())) +
                          (p.origin.empty() ? "" : " '" + p.origin + "'"));
  }
  return Status::ok();
}

Status Session::run() {
  for (const Plan::Step& step : plan_->steps)
    TESSEL_RETURN_IF_ERROR(runStep(step));
  for (Plan::Space& space : plan_->spaces)
    TESSEL_RETURN_IF_ERROR(space.stream->wait());
  return Status::ok();
}

Status Session::runProfiled(std::vector<StepTime>* times) {
  times->clear();
  for (const Plan::Step& step : plan_->steps) {
    if (step.skip) continue;
    const auto t0 = std::chrono::steady_clock::now();
    TESSEL_RETURN_IF_ERROR(runStep(step));
    TESSEL_RETURN_IF_ERROR(plan_->spaces[step.space].stream->wait());
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    const bool kernel = step.kind == Plan::StepKind::Kernel;
    times->push_back({kernel ? step.primitive : -1,
                      kernel ? model_->chainLast(static_cast<size_t>(step.primitive)) : -1,
                      dt.count()});
  }
  return Status::ok();
}

Status Session::setInput(size_t i, const void* data, size_t bytes) {
  const Program& prog = model_->program();
  if (i >= prog.inputs.size())
    return invalidArgument("input index " + std::to_string(i) + " out of range");
  const ProgramTensor& t = prog.tensors[prog.inputs[i]];
  if (bytes != static_cast<size_t>(t.desc.byteSize()))
    return invalidArgument("input '" + t.name + "' expects " + std::to_string(t.desc.byteSize()) +
                           " bytes (" + t.desc.toString() + "), got " + std::to_string(bytes));
  void* dst = plan_->ref(prog.inputs[i]).hostPointer();
  if (t.desc.dtype == DType::Bool) { // any nonzero byte is true, stored as 1 (docs/c-api.md)
    const auto* src = static_cast<const uint8_t*>(data);
    auto* out = static_cast<uint8_t*>(dst);
    for (size_t k = 0; k < bytes; ++k)
      out[k] = src[k] != 0;
  } else if (bytes) {
    std::memcpy(dst, data, bytes);
  }
  return Status::ok();
}

void* Session::inputData(size_t i) {
  const Program& prog = model_->program();
  return i < prog.inputs.size() ? plan_->ref(prog.inputs[i]).hostPointer() : nullptr;
}

int SessionOptions::threadCount() const {
  return threads > 0 ? threads : defaultThreadCount();
}

PrepareOptions SessionOptions::prepareOptions() const {
  PrepareOptions o;
  o.preferred = backend;
  o.blockedLayouts = blockedLayouts;
  o.chains = chains;
  o.threads = threadCount();
  o.precision = precision;
  o.search = search;
  o.profileCache = profileCache;
  o.weightBudget = weightBudget;
  o.memoryBudget = memoryBudget; // bounds only a plan the search makes
  return o;
}

int64_t defaultMemoryBudget() {
  static const int64_t budget = [] { // the machine's memory does not change under a process
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return int64_t{4} << 30; // unknown: 4 GiB
    return static_cast<int64_t>(pages) / 2 * page;
  }();
  return budget;
}

const void* Session::outputData(size_t i) const {
  return plan_->ref(plan_->outputs[i]).hostPointer();
}

int64_t Session::arenaBytes() const {
  int64_t total = 0;
  for (const Arena& a : arenaStats_)
    total += a.bytes;
  return total;
}

int64_t Session::unsharedBytes() const {
  int64_t total = 0;
  for (const Arena& a : arenaStats_)
    total += a.unsharedBytes;
  return total;
}

int Session::skippedRasterCount() const {
  int n = 0;
  for (const Plan::Step& s : plan_->steps)
    n += s.skip;
  return n;
}

int Session::inPlaceCount() const {
  return plan_->inPlace;
}

int Session::runCopyCount() const {
  int n = 0;
  for (const Plan::Step& s : plan_->steps)
    n += s.kind != Plan::StepKind::Kernel;
  return n;
}

} // namespace tessel
