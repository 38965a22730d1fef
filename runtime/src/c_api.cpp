// The C API over Program/Session. Catches nothing because nothing below throws, except
// allocation failure, which is turned into a status at this boundary.
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/dynamic.h"
#include "tessel/runtime/session.h"
#include "tessel/runtime/thread_pool.h"
#include "tessel/tessel.h"

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <new>
#include <unordered_set>

struct tessel_status_s {
  tessel_status_code code;
  std::string message;
};

// A model keeps one PreparedModel per preferred backend, made by its first session and shared
// by the later ones.
struct tessel_model_s {
  std::shared_ptr<const tessel::Program> program;
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const tessel::PreparedModel>> prepared;
  // A model that plans at run time (docs/dynamic-shapes.md): its graph, read by libtessel_graph.
  std::unique_ptr<tessel::DynamicModel> dynamic;
};

struct tessel_session_s {
  std::unique_ptr<tessel::Session> session;
  // Sessions on a model that plans at run time: the runner, and each input's shape and bytes
  // as set for the next run.
  std::unique_ptr<tessel::DynamicRunner> runner;
  std::vector<tessel::Shape> shapes;
  std::vector<std::vector<uint8_t>> inputs;
  std::vector<bool> inputSet;
  std::vector<tessel::DType> inputDtypes;
  // Sequence and optional inputs: their kinds, and the tensors set for the next run.
  struct Items {
    bool set = false, present = true;
    std::vector<tessel::Shape> shapes;
    std::vector<std::vector<uint8_t>> bytes;
  };
  std::vector<tessel::DynamicValueKind> inputKinds, outputKinds;
  std::vector<Items> items;
  size_t outputCount = 0;
  // One caller at a time (docs/c-api.md): a second thread entering set_input, run or get_output
  // while one is inside gets an error instead of a race.
  std::atomic<bool> busy{false};
  bool ran = false; // outputs exist only after a run
};

namespace {

// Every live handle, so that a released or foreign pointer is refused (and a second release
// ignored) instead of being dereferenced.
std::mutex& handlesMutex() {
  static std::mutex m;
  return m;
}
std::unordered_set<const void*>& liveHandles() {
  static std::unordered_set<const void*> live;
  return live;
}
void track(const void* h) {
  std::lock_guard<std::mutex> lock(handlesMutex());
  liveHandles().insert(h);
}
bool isLive(const void* h) {
  std::lock_guard<std::mutex> lock(handlesMutex());
  return h && liveHandles().count(h) != 0;
}
bool untrack(const void* h) {
  std::lock_guard<std::mutex> lock(handlesMutex());
  return h && liveHandles().erase(h) != 0;
}

// Marks a session busy for the scope; `ok` is false when another thread holds it.
class SessionUse {
public:
  explicit SessionUse(tessel_session_s* s) : s_(s), ok_(!s->busy.exchange(true)) {}
  ~SessionUse() {
    if (ok_) s_->busy.store(false);
  }
  bool ok() const { return ok_; }

private:
  tessel_session_s* s_;
  bool ok_;
};

#define TESSEL_DTYPE_FOLLOWS(name, ctype, str, onnx)                                               \
  static_assert(TESSEL_DTYPE_##name == static_cast<int>(tessel::DType::name),                      \
                "tessel_dtype must follow tessel::DType");
#define TESSEL_DTYPE_Bool TESSEL_DTYPE_BOOL
TESSEL_DTYPES(TESSEL_DTYPE_FOLLOWS)
#undef TESSEL_DTYPE_Bool
#undef TESSEL_DTYPE_FOLLOWS

tessel_status make(tessel_status_code code, std::string message) {
  return new (std::nothrow) tessel_status_s{code, std::move(message)};
}

tessel_status fromStatus(const tessel::Status& s) {
  if (s.isOk()) return nullptr;
  return make(static_cast<tessel_status_code>(s.code()), s.message());
}

tessel_status badModel() {
  return make(TESSEL_INVALID_ARGUMENT, "null, released or unknown model handle");
}

tessel_status badSession() {
  return make(TESSEL_INVALID_ARGUMENT, "null, released or unknown session handle");
}

tessel_status inUse() {
  return make(TESSEL_INVALID_ARGUMENT,
              "the session is in use by another thread (one caller at a time per session; "
              "create a session per thread)");
}

template <typename F> tessel_status guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return make(TESSEL_INTERNAL, "out of memory");
  } catch (...) {
    return make(TESSEL_INTERNAL, "unexpected internal error");
  }
}

// The built-in backends, registered once; prepared models point into them.
const tessel::BackendRegistry& builtinRegistry() {
  static const tessel::BackendRegistry registry = [] {
    tessel::BackendRegistry r;
    tessel::registerBuiltinBackends(r);
    return r;
  }();
  return registry;
}

tessel_status loaded(tessel::Result<std::shared_ptr<const tessel::Program>> prog,
                     tessel_model** out) {
  if (!prog.isOk()) return fromStatus(prog.status());
  auto m = std::make_unique<tessel_model_s>();
  m->program = std::move(prog).value();
  if (m->program->plansAtRunTime) { // its graph is read (and checked) now
    auto dynamic = tessel::openDynamicModel(m->program);
    if (!dynamic.isOk()) return fromStatus(dynamic.status());
    m->dynamic = std::move(dynamic).value();
  }
  track(m.get());
  *out = m.release();
  return nullptr;
}

// The model's declared inputs or outputs: a dynamic model's from its graph (-1 for dims known
// only at run time, byte size 0 then), a compiled one's from its program.
tessel_status dynamicInfo(const std::vector<tessel::DynamicTensorInfo>& infos, size_t index,
                          tessel_tensor_info* out) {
  if (!out) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  if (index >= infos.size()) return make(TESSEL_INVALID_ARGUMENT, "tensor index out of range");
  const tessel::DynamicTensorInfo& t = infos[index];
  out->name = t.name.c_str();
  out->dtype = static_cast<tessel_dtype>(t.desc.dtype);
  out->rank = t.desc.shape.size();
  out->dims = t.desc.shape.data();
  bool known = true;
  for (int64_t d : t.desc.shape)
    known = known && d >= 0;
  out->byte_size = known ? static_cast<size_t>(t.desc.byteSize()) : 0;
  return nullptr;
}

tessel_status kindOf(const tessel_model* m, bool input, size_t index, tessel_value_kind* kind) {
  if (!kind) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  const size_t count = input ? tessel_model_input_count(m) : tessel_model_output_count(m);
  if (index >= count) return make(TESSEL_INVALID_ARGUMENT, "tensor index out of range");
  *kind = TESSEL_VALUE_TENSOR; // a compiled model's inputs and outputs are tensors
  if (m->dynamic)
    *kind = static_cast<tessel_value_kind>(
        (input ? m->dynamic->inputs() : m->dynamic->outputs())[index].kind);
  return nullptr;
}

bool isList(tessel::DynamicValueKind k) {
  return k != tessel::DynamicValueKind::Tensor;
}

const char* kindName(tessel::DynamicValueKind k) {
  switch (k) {
  case tessel::DynamicValueKind::Sequence: return "a sequence";
  case tessel::DynamicValueKind::Optional: return "an optional";
  case tessel::DynamicValueKind::OptionalSequence: return "an optional sequence";
  default: return "a tensor";
  }
}

// A list input or output where a tensor one was asked for (or the reverse): the error naming it.
tessel_status wrongKind(const char* what, size_t i, tessel::DynamicValueKind k, const char* use) {
  return make(TESSEL_INVALID_ARGUMENT,
              std::string(what) + " " + std::to_string(i) + " is " + kindName(k) + ": use " + use);
}

// Options as the caller's header version laid them out: fields past struct_size keep defaults.
tessel::Result<tessel::SessionOptions> readOptions(const tessel_session_options* o) {
  tessel::SessionOptions opts;
  if (!o) return opts;
  auto has = [&](size_t offset, size_t size) { return o->struct_size >= offset + size; };
  if (!has(offsetof(tessel_session_options, backend), sizeof o->backend))
    return tessel::invalidArgument("tessel_session_options.struct_size " +
                                   std::to_string(o->struct_size) +
                                   " is too small: call tessel_session_options_init first");
  if (o->backend) opts.backend = o->backend;
  if (has(offsetof(tessel_session_options, threads), sizeof o->threads)) {
    if (o->threads < 0 || o->threads > 1024)
      return tessel::invalidArgument("threads " + std::to_string(o->threads) +
                                     " is outside 0..1024");
    opts.threads = o->threads;
  }
  if (has(offsetof(tessel_session_options, memory_budget), sizeof o->memory_budget))
    opts.memoryBudget = o->memory_budget; // Session::create refuses a negative one
  if (has(offsetof(tessel_session_options, precision), sizeof o->precision)) {
    if (o->precision != TESSEL_PRECISION_F32 && o->precision != TESSEL_PRECISION_F16_STORAGE)
      return tessel::invalidArgument("precision " + std::to_string(o->precision) +
                                     " is neither TESSEL_PRECISION_F32 nor "
                                     "TESSEL_PRECISION_F16_STORAGE");
    opts.precision = o->precision == TESSEL_PRECISION_F16_STORAGE ? tessel::Precision::F16Storage
                                                                  : tessel::Precision::F32;
  }
  if (has(offsetof(tessel_session_options, search), sizeof o->search)) {
    if (o->search < TESSEL_SEARCH_OFF || o->search > TESSEL_SEARCH_MEASURE)
      return tessel::invalidArgument("search " + std::to_string(o->search) +
                                     " is none of TESSEL_SEARCH_OFF, _MODEL, _MEASURE");
    opts.search = o->search == TESSEL_SEARCH_MODEL     ? tessel::PlanSearch::Model
                  : o->search == TESSEL_SEARCH_MEASURE ? tessel::PlanSearch::Measure
                                                       : tessel::PlanSearch::FirstFit;
  }
  if (has(offsetof(tessel_session_options, profile_cache), sizeof o->profile_cache) &&
      o->profile_cache) {
    opts.profileCache = o->profile_cache;
    if (!opts.profileCache.empty() && opts.search == tessel::PlanSearch::FirstFit)
      return tessel::invalidArgument("profile_cache is the cost model's: it needs "
                                     "TESSEL_SEARCH_MODEL or TESSEL_SEARCH_MEASURE");
  }
  if (has(offsetof(tessel_session_options, weight_budget), sizeof o->weight_budget)) {
    if (o->weight_budget < 0)
      return tessel::invalidArgument("weight_budget " + std::to_string(o->weight_budget) +
                                     " is negative");
    if (o->weight_budget > 0 && opts.search == tessel::PlanSearch::FirstFit)
      return tessel::invalidArgument("weight_budget bounds the search's plan: it needs "
                                     "TESSEL_SEARCH_MODEL or TESSEL_SEARCH_MEASURE");
    opts.weightBudget = o->weight_budget;
  }
  return opts;
}

tessel_status infoOf(const tessel_model* model, const std::vector<int32_t>& ids, size_t index,
                     tessel_tensor_info* out) {
  if (!model || !out) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  if (index >= ids.size()) return make(TESSEL_INVALID_ARGUMENT, "tensor index out of range");
  const tessel::ProgramTensor& t = model->program->tensors[ids[index]];
  out->name = t.name.c_str();
  out->dtype = static_cast<tessel_dtype>(t.desc.dtype);
  out->rank = t.desc.shape.size();
  out->dims = t.desc.shape.data();
  out->byte_size = static_cast<size_t>(t.desc.byteSize());
  return nullptr;
}

// `size` bytes at `data` as tensor `which` (of `shape`, `elements` of `dtype`) stores them:
// exactly its byte size, bools as 0 or 1. Into *out.
tessel_status copyTensorBytes(const std::string& which, tessel::DType dtype,
                              const tessel::Shape& shape, int64_t elements, const void* data,
                              size_t size, std::vector<uint8_t>* out) {
  const size_t want = static_cast<size_t>(elements) * tessel::dtypeSize(dtype);
  if (size != want)
    return make(TESSEL_INVALID_ARGUMENT, which + " of shape " + tessel::shapeToString(shape) +
                                             " takes " + std::to_string(want) + " bytes, got " +
                                             std::to_string(size));
  const auto* p = static_cast<const uint8_t*>(data);
  out->assign(p, p + size);
  if (dtype == tessel::DType::Bool)
    for (uint8_t& b : *out)
      b = b != 0;
  return nullptr;
}

// A shape into the caller's dims: *rank always, the dims when `capacity` holds them (else an
// error naming `which`).
tessel_status copyShape(const tessel::Shape& shape, const std::string& which, int64_t* dims,
                        size_t capacity, size_t* rank) {
  *rank = shape.size();
  if (capacity < shape.size())
    return make(TESSEL_INVALID_ARGUMENT, which + " has rank " + std::to_string(shape.size()) +
                                             ", dims holds " + std::to_string(capacity));
  std::copy(shape.begin(), shape.end(), dims);
  return nullptr;
}

// Checks a list output's tensor `item` exists after a run (item == SIZE_MAX: only the output);
// its tensor count into *count when given.
tessel_status outputItemOk(const tessel_session* s, size_t i, size_t item,
                           size_t* count = nullptr) {
  if (!s->ran) return make(TESSEL_INVALID_ARGUMENT, "no output yet: call tessel_session_run first");
  const size_t outputs = s->runner ? s->outputCount : s->session->program().outputs.size();
  if (i >= outputs) return make(TESSEL_INVALID_ARGUMENT, "output index out of range");
  const tessel::DynamicValueKind kind =
      s->runner ? s->outputKinds[i] : tessel::DynamicValueKind::Tensor;
  if (!isList(kind)) return wrongKind("output", i, kind, "tessel_session_get_output (and _shape)");
  const auto items = static_cast<size_t>(std::max<int64_t>(0, s->runner->outputItems(i)));
  if (item != SIZE_MAX && item >= items)
    return make(TESSEL_INVALID_ARGUMENT, "output " + std::to_string(i) + " holds " +
                                             std::to_string(items) + " tensors, no tensor " +
                                             std::to_string(item));
  if (count) *count = items;
  return nullptr;
}

} // namespace

extern "C" {

tessel_status_code tessel_status_get_code(tessel_status s) {
  return s ? s->code : TESSEL_OK;
}
const char* tessel_status_get_message(tessel_status s) {
  return s ? s->message.c_str() : "";
}
void tessel_status_free(tessel_status s) {
  delete s;
}

tessel_status tessel_model_load_file(const char* path, tessel_model** out) {
  if (!path || !out) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  return guarded([&]() { return loaded(tessel::loadArtifactFile(path), out); });
}

tessel_status tessel_model_load_memory(const void* data, size_t size, tessel_model** out) {
  if (!data || !out) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  return guarded([&]() {
    const auto* p = static_cast<const uint8_t*>(data);
    return loaded(tessel::loadArtifact(std::vector<uint8_t>(p, p + size)), out);
  });
}

tessel_status tessel_model_load_memory_borrowed(const void* data, size_t size, tessel_model** out) {
  if (!data || !out) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  return guarded([&]() {
    return loaded(tessel::loadArtifactBorrowed(static_cast<const uint8_t*>(data), size), out);
  });
}

void tessel_model_release(tessel_model* model) {
  if (untrack(model)) delete model; // a second release, or a foreign pointer: nothing
}

size_t tessel_model_input_count(const tessel_model* m) {
  if (!isLive(m)) return 0;
  return m->dynamic ? m->dynamic->inputs().size() : m->program->inputs.size();
}
size_t tessel_model_output_count(const tessel_model* m) {
  if (!isLive(m)) return 0;
  return m->dynamic ? m->dynamic->outputs().size() : m->program->outputs.size();
}

tessel_status tessel_model_input_info(const tessel_model* m, size_t i, tessel_tensor_info* out) {
  if (!isLive(m)) return badModel();
  return m->dynamic ? dynamicInfo(m->dynamic->inputs(), i, out)
                    : infoOf(m, m->program->inputs, i, out);
}

tessel_status tessel_model_output_info(const tessel_model* m, size_t i, tessel_tensor_info* out) {
  if (!isLive(m)) return badModel();
  return m->dynamic ? dynamicInfo(m->dynamic->outputs(), i, out)
                    : infoOf(m, m->program->outputs, i, out);
}

tessel_status tessel_model_input_kind(const tessel_model* m, size_t i, tessel_value_kind* kind) {
  if (!isLive(m)) return badModel();
  return kindOf(m, true, i, kind);
}

tessel_status tessel_model_output_kind(const tessel_model* m, size_t i, tessel_value_kind* kind) {
  if (!isLive(m)) return badModel();
  return kindOf(m, false, i, kind);
}

tessel_status tessel_session_create(const tessel_model* model,
                                    const tessel_session_options* options, tessel_session** out) {
  if (!out) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  if (!isLive(model)) return badModel();
  return guarded([&]() -> tessel_status {
    auto opts = readOptions(options);
    if (!opts.isOk()) return fromStatus(opts.status());
    auto* m = const_cast<tessel_model*>(model); // the cache is the only mutable part
    if (m->dynamic) {
      auto runner = m->dynamic->createRunner(*opts);
      if (!runner.isOk()) return fromStatus(runner.status());
      auto s = std::make_unique<tessel_session_s>();
      s->runner = std::move(runner).value();
      const size_t n = m->dynamic->inputs().size();
      s->inputs.resize(n);
      s->inputSet.assign(n, false);
      s->items.resize(n);
      for (const tessel::DynamicTensorInfo& in : m->dynamic->inputs()) {
        s->shapes.push_back(in.desc.shape); // dims known only at run time stay -1 until set
        s->inputDtypes.push_back(in.desc.dtype);
        s->inputKinds.push_back(in.kind);
      }
      for (const tessel::DynamicTensorInfo& out : m->dynamic->outputs())
        s->outputKinds.push_back(out.kind);
      s->outputCount = m->dynamic->outputs().size();
      track(s.get());
      *out = s.release();
      return nullptr;
    }
    std::shared_ptr<const tessel::PreparedModel> prepared;
    {
      std::lock_guard<std::mutex> lock(m->mutex);
      // One prepared model per backend and thread count: kernels pick their variants for the
      // count (PrepareArgs::threads); identical packed weights are shared between them.
      const int threads = opts->threadCount();
      auto& slot =
          m->prepared[opts->backend + "/" + std::to_string(threads) + "/" +
                      std::to_string(static_cast<int>(opts->precision)) + "/" +
                      std::to_string(static_cast<int>(opts->search)) + "/" + opts->profileCache +
                      "/" + std::to_string(opts->weightBudget) + "/" +
                      std::to_string(
                          opts->search == tessel::PlanSearch::FirstFit ? 0 : opts->memoryBudget)];
      if (!slot) {
        auto p =
            tessel::PreparedModel::create(m->program, builtinRegistry(), opts->prepareOptions());
        if (!p.isOk()) return fromStatus(p.status());
        slot = std::move(p).value();
      }
      prepared = slot;
    }
    auto s = std::make_unique<tessel_session_s>();
    auto session = tessel::Session::create(prepared, *opts);
    if (!session.isOk()) return fromStatus(session.status());
    s->session = std::move(session).value();
    track(s.get());
    *out = s.release();
    return nullptr;
  });
}

void tessel_session_release(tessel_session* s) {
  if (untrack(s)) delete s; // a second release, or a foreign pointer: nothing
}

tessel_status tessel_session_set_input_shape(tessel_session* s, size_t i, const int64_t* dims,
                                             size_t rank) {
  if (!isLive(s)) return badSession();
  if (!dims && rank) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  const tessel::Shape shape(dims, dims + rank);
  if (!s->runner) { // a compiled model: its inputs' shapes are fixed
    const tessel::Program& p = s->session->program();
    if (i >= p.inputs.size()) return make(TESSEL_INVALID_ARGUMENT, "input index out of range");
    const tessel::Shape& fixed = p.tensors[p.inputs[i]].desc.shape;
    if (shape == fixed) return nullptr;
    return make(TESSEL_INVALID_ARGUMENT,
                "input '" + p.tensors[p.inputs[i]].name + "' has the fixed shape " +
                    tessel::shapeToString(fixed) + " (the model was compiled for it), not " +
                    tessel::shapeToString(shape));
  }
  if (i >= s->shapes.size()) return make(TESSEL_INVALID_ARGUMENT, "input index out of range");
  if (isList(s->inputKinds[i]))
    return wrongKind("input", i, s->inputKinds[i], "tessel_session_set_input_items");
  for (int64_t d : shape)
    if (d < 0) return make(TESSEL_INVALID_ARGUMENT, "dims must not be negative");
  if (!tessel::elementCount(shape).isOk())
    return make(TESSEL_INVALID_ARGUMENT, "shape " + tessel::shapeToString(shape) + " overflows");
  return guarded([&]() -> tessel_status {
    if (s->shapes[i] != shape) s->inputSet[i] = false; // bytes for the old shape are stale
    s->shapes[i] = shape;
    return nullptr;
  });
}

tessel_status tessel_session_set_input(tessel_session* s, size_t i, const void* data, size_t size) {
  if (!isLive(s)) return badSession();
  if (!data && size) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  if (!s->runner) return fromStatus(s->session->setInput(i, data, size));
  if (i >= s->shapes.size()) return make(TESSEL_INVALID_ARGUMENT, "input index out of range");
  if (isList(s->inputKinds[i]))
    return wrongKind("input", i, s->inputKinds[i], "tessel_session_set_input_items");
  const tessel::Shape& shape = s->shapes[i];
  for (int64_t d : shape)
    if (d < 0)
      return make(
          TESSEL_INVALID_ARGUMENT,
          "input " + std::to_string(i) +
              " has dims known only at run time: call tessel_session_set_input_shape first");
  // Declared shapes come from the file: checked here as set ones are in set_input_shape.
  auto elements = tessel::elementCount(shape);
  if (!elements.isOk()) return fromStatus(elements.status());
  const int64_t count = *elements;
  // The dtype is the declared one (the model's inputs), so the size follows from the shape.
  return guarded([&]() -> tessel_status {
    if (tessel_status st = copyTensorBytes("input " + std::to_string(i), s->inputDtypes[i], shape,
                                           count, data, size, &s->inputs[i]))
      return st;
    s->inputSet[i] = true;
    return nullptr;
  });
}

tessel_status tessel_session_set_input_items(tessel_session* s, size_t i, size_t count,
                                             const int64_t* const* dims, const size_t* ranks,
                                             const void* const* data, const size_t* sizes) {
  if (!isLive(s)) return badSession();
  const bool none = count == TESSEL_NO_VALUE;
  if (!none && count && (!dims || !ranks || !data || !sizes))
    return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  const size_t inputs = s->runner ? s->shapes.size() : s->session->program().inputs.size();
  if (i >= inputs) return make(TESSEL_INVALID_ARGUMENT, "input index out of range");
  const tessel::DynamicValueKind kind =
      s->runner ? s->inputKinds[i] : tessel::DynamicValueKind::Tensor;
  if (!isList(kind)) return wrongKind("input", i, kind, "tessel_session_set_input (and _shape)");
  using K = tessel::DynamicValueKind;
  if (none && kind == K::Sequence)
    return make(TESSEL_INVALID_ARGUMENT,
                "input " + std::to_string(i) +
                    " is a sequence: it needs a value (0 tensors or more)");
  if (!none && kind == K::Optional && count > 1)
    return make(TESSEL_INVALID_ARGUMENT, "input " + std::to_string(i) +
                                             " is an optional: one tensor at most, got " +
                                             std::to_string(count));
  constexpr size_t kMaxItems = size_t{1} << 16;
  if (!none && count > kMaxItems)
    return make(TESSEL_INVALID_ARGUMENT,
                "input " + std::to_string(i) + " holds more than 2^16 tensors");
  return guarded([&]() -> tessel_status {
    tessel_session_s::Items items;
    items.set = true;
    items.present = !none;
    const tessel::DType dtype = s->inputDtypes[i];
    for (size_t k = 0; !none && k < count; ++k) {
      const std::string which = "input " + std::to_string(i) + " tensor " + std::to_string(k);
      if ((!dims[k] && ranks[k]) || (!data[k] && sizes[k]))
        return make(TESSEL_INVALID_ARGUMENT, which + ": null argument");
      const tessel::Shape shape(dims[k], dims[k] + ranks[k]);
      for (int64_t d : shape)
        if (d < 0) return make(TESSEL_INVALID_ARGUMENT, which + ": dims must not be negative");
      auto elements = tessel::elementCount(shape);
      if (!elements.isOk()) return fromStatus(elements.status().withContext(which));
      items.bytes.emplace_back();
      if (tessel_status st = copyTensorBytes(which, dtype, shape, *elements, data[k], sizes[k],
                                             &items.bytes.back()))
        return st;
      items.shapes.push_back(shape);
    }
    s->items[i] = std::move(items);
    return nullptr;
  });
}

tessel_status tessel_session_run(tessel_session* s) {
  if (!isLive(s)) return badSession();
  SessionUse use(s);
  if (!use.ok()) return inUse();
  return guarded([&]() -> tessel_status {
    tessel::Status run;
    if (s->runner) {
      std::vector<tessel::DynamicInput> inputs(s->inputs.size());
      for (size_t i = 0; i < s->inputs.size(); ++i) {
        tessel::DynamicInput& in = inputs[i];
        if (isList(s->inputKinds[i])) {
          const tessel_session_s::Items& items = s->items[i];
          if (!items.set)
            return make(TESSEL_INVALID_ARGUMENT,
                        "input " + std::to_string(i) + " (" + kindName(s->inputKinds[i]) +
                            ") was not set: call tessel_session_set_input_items");
          in.list = true;
          in.present = items.present;
          in.itemShapes = items.shapes;
          for (const std::vector<uint8_t>& b : items.bytes)
            in.itemData.push_back(b.data());
          continue;
        }
        if (!s->inputSet[i])
          return make(TESSEL_INVALID_ARGUMENT, "input " + std::to_string(i) +
                                                   " was not set for "
                                                   "its current shape");
        in.shape = s->shapes[i];
        in.data = s->inputs[i].data();
      }
      run = s->runner->run(inputs);
    } else {
      run = s->session->run();
    }
    tessel_status st = fromStatus(run);
    s->ran = s->ran || st == nullptr;
    return st;
  });
}

tessel_status tessel_session_get_output_shape(const tessel_session* cs, size_t i, int64_t* dims,
                                              size_t capacity, size_t* rank) {
  auto* s = const_cast<tessel_session*>(cs); // only the busy flag changes
  if (!isLive(s)) return badSession();
  if (!rank || (!dims && capacity)) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  if (!s->ran) return make(TESSEL_INVALID_ARGUMENT, "no output yet: call tessel_session_run first");
  const tessel::Shape* shape = nullptr;
  if (s->runner) {
    if (i >= s->outputCount) return make(TESSEL_INVALID_ARGUMENT, "output index out of range");
    if (isList(s->outputKinds[i]))
      return wrongKind("output", i, s->outputKinds[i], "tessel_session_get_output_item_shape");
    shape = &s->runner->outputDesc(i).shape;
  } else {
    const tessel::Program& p = s->session->program();
    if (i >= p.outputs.size()) return make(TESSEL_INVALID_ARGUMENT, "output index out of range");
    shape = &p.tensors[p.outputs[i]].desc.shape;
  }
  return copyShape(*shape, "output " + std::to_string(i), dims, capacity, rank);
}

tessel_status tessel_session_get_output(const tessel_session* cs, size_t i, const void** data,
                                        size_t* size) {
  auto* s = const_cast<tessel_session*>(cs); // only the busy flag changes
  if (!isLive(s)) return badSession();
  if (!data || !size) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  if (!s->ran) return make(TESSEL_INVALID_ARGUMENT, "no output yet: call tessel_session_run first");
  if (s->runner) {
    if (i >= s->outputCount) return make(TESSEL_INVALID_ARGUMENT, "output index out of range");
    if (isList(s->outputKinds[i]))
      return wrongKind("output", i, s->outputKinds[i], "tessel_session_get_output_item");
    *data = s->runner->outputData(i);
    *size = static_cast<size_t>(s->runner->outputDesc(i).byteSize());
    return nullptr;
  }
  const tessel::Program& p = s->session->program();
  if (i >= p.outputs.size()) return make(TESSEL_INVALID_ARGUMENT, "output index out of range");
  *data = s->session->outputData(i);
  *size = static_cast<size_t>(p.tensors[p.outputs[i]].desc.byteSize());
  return nullptr;
}

tessel_status tessel_session_get_output_item_count(const tessel_session* cs, size_t i,
                                                   size_t* count) {
  auto* s = const_cast<tessel_session*>(cs); // only the busy flag changes
  if (!isLive(s)) return badSession();
  if (!count) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  return outputItemOk(s, i, SIZE_MAX, count);
}

tessel_status tessel_session_get_output_item(const tessel_session* cs, size_t i, size_t item,
                                             const void** data, size_t* size) {
  auto* s = const_cast<tessel_session*>(cs);
  if (!isLive(s)) return badSession();
  if (!data || !size) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  if (tessel_status st = outputItemOk(s, i, item)) return st;
  *data = s->runner->outputItemData(i, item);
  *size = static_cast<size_t>(s->runner->outputItemDesc(i, item).byteSize());
  return nullptr;
}

tessel_status tessel_session_get_output_item_shape(const tessel_session* cs, size_t i, size_t item,
                                                   int64_t* dims, size_t capacity, size_t* rank) {
  auto* s = const_cast<tessel_session*>(cs);
  if (!isLive(s)) return badSession();
  if (!rank || (!dims && capacity)) return make(TESSEL_INVALID_ARGUMENT, "null argument");
  SessionUse use(s);
  if (!use.ok()) return inUse();
  if (tessel_status st = outputItemOk(s, i, item)) return st;
  return copyShape(s->runner->outputItemDesc(i, item).shape,
                   "output " + std::to_string(i) + " tensor " + std::to_string(item), dims,
                   capacity, rank);
}

int64_t tessel_session_arena_bytes(const tessel_session* s) {
  if (!isLive(s)) return 0;
  return s->runner ? s->runner->arenaBytes() : s->session->arenaBytes();
}

int32_t tessel_session_threads(const tessel_session* s) {
  if (!isLive(s)) return 0;
  return s->runner ? s->runner->threads() : s->session->threads();
}

void tessel_session_options_init(tessel_session_options* o) {
  if (!o) return;
  *o = tessel_session_options{};
  o->struct_size = sizeof(tessel_session_options);
}

} // extern "C"
