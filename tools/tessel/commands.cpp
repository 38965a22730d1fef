#include "commands.h"

#include "pipeline.h"
#include "tensor_io.h"
#include "tessel/graph/artifact.h"
#include "tessel/graph/dynamic_session.h"
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/measure.h"
#include "tessel/runtime/profile_cache.h"
#include "tessel/runtime/session.h"
#include "tessel/search/layouts.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <unistd.h>

namespace tessel::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// One line whatever the message holds: names from files (node, tensor, file names) may carry
// newlines or other control bytes; they are printed escaped (\n, \xHH).
int fail(const std::string& message) {
  std::string line;
  for (unsigned char c : message) {
    if (c == '\n') {
      line += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      line += hex;
    } else {
      line += static_cast<char>(c);
    }
  }
  std::fprintf(stderr, "tessel: error: %s\n", line.c_str());
  return 1;
}

int fail(const Status& s) {
  return fail(s.message());
}

// Parsed flags: repeated ones keep every value; positional arguments in order.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> flags;
  std::string error;

  std::string get(const std::string& k, const std::string& dflt = "") const {
    auto it = flags.find(k);
    return it == flags.end() ? dflt : it->second.back();
  }
  bool has(const std::string& k) const { return flags.count(k) != 0; }
};

Args parse(const std::vector<std::string>& argv, const std::vector<std::string>& valued,
           const std::vector<std::string>& boolean) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s.rfind("-", 0) != 0 || s == "-") {
      a.positional.push_back(s);
      continue;
    }
    std::string key = s, value;
    const bool inlineValue = s.find('=') != std::string::npos && s.rfind("--", 0) == 0;
    if (inlineValue) {
      key = s.substr(0, s.find('='));
      value = s.substr(s.find('=') + 1);
    }
    if (std::find(boolean.begin(), boolean.end(), key) != boolean.end()) {
      a.flags[key].push_back("1");
      continue;
    }
    if (std::find(valued.begin(), valued.end(), key) == valued.end()) {
      a.error = "unknown option '" + key + "'";
      return a;
    }
    if (!inlineValue) {
      if (i + 1 >= argv.size()) {
        a.error = "option '" + key + "' needs a value";
        return a;
      }
      value = argv[++i];
    }
    a.flags[key].push_back(value);
  }
  return a;
}

// DIMS: 1x3x224x224; "scalar" (or nothing) for rank 0.
Result<Shape> parseDims(const std::string& text) {
  Shape dims;
  if (text.empty() || text == "scalar") return dims;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t next = text.find('x', pos);
    std::string item = text.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0 || errno == ERANGE)
      return invalidArgument("bad dims '" + text + "' (expected e.g. 1x3x224x224, or scalar)");
    dims.push_back(v);
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return dims;
}

Result<ConvertOptions> convertOptions(const Args& a) {
  ConvertOptions o;
  if (a.has("--shape"))
    for (const std::string& s : a.flags.at("--shape")) {
      const size_t eq = s.find('=');
      if (eq == std::string::npos)
        return invalidArgument("--shape expects NAME=DIMS, got '" + s + "'");
      TESSEL_ASSIGN_OR_RETURN(o.shapes[s.substr(0, eq)], parseDims(s.substr(eq + 1)));
    }
  std::string list = a.get("--backends");
  for (size_t pos = 0; !list.empty() && pos <= list.size();) {
    size_t next = list.find(',', pos);
    o.backends.push_back(
        list.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  // convert --search off|model|measure: the artifact's plan by first fit, by the cost model, or
  // by the cost model with this machine's candidates measured first (convertCommand); for the
  // commands that also load, the same flag chooses how the load plans (parseLoadChoices).
  const std::string search = a.get("--search", "off");
  if (search != "off" && search != "model" && search != "measure")
    return invalidArgument("--search expects off, model or measure, got '" + search + "'");
  o.costModel = search != "off";
  o.dumpMlirAfter = a.get("--dump-mlir");
  return o;
}

// A whole number for `flag` in [lo, hi], the whole text (no trailing characters, no overflow).
Result<int64_t> parseCount(const Args& a, const std::string& flag, const char* fallback, int64_t lo,
                           int64_t hi) {
  const std::string t = a.get(flag, fallback);
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno == ERANGE || n < lo || n > hi)
    return invalidArgument(flag + " expects a whole number from " + std::to_string(lo) + " to " +
                           std::to_string(hi) + ", got '" + t + "'");
  return static_cast<int64_t>(n);
}

// A finite number >= 0 for `flag`, the whole text.
Result<double> parseTolerance(const Args& a, const std::string& flag, const char* fallback) {
  const std::string t = a.get(flag, fallback);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
    return invalidArgument(flag + " expects a number >= 0, got '" + t + "'");
  return v;
}

// --memory-budget N[KiB|MiB|GiB]: bytes a session's arenas may take (0, the default: half the
// physical memory).
Result<int64_t> parseBytes(const Args& a, const std::string& flag) {
  std::string t = a.get(flag, "0");
  int64_t unit = 1;
  for (const auto& [suffix, scale] : {std::pair<const char*, int64_t>{"KiB", int64_t{1} << 10},
                                      {"MiB", int64_t{1} << 20},
                                      {"GiB", int64_t{1} << 30}}) {
    const std::string sfx(suffix);
    if (t.size() > sfx.size() && t.compare(t.size() - sfx.size(), sfx.size(), sfx) == 0) {
      t.resize(t.size() - sfx.size());
      unit = scale;
    }
  }
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(t.c_str(), &end, 10);
  int64_t bytes = 0;
  if (t.empty() || *end != '\0' || errno == ERANGE || n < 0 ||
      __builtin_mul_overflow(static_cast<int64_t>(n), unit, &bytes))
    return invalidArgument(flag + " expects bytes (a whole number, optionally with KiB, MiB or " +
                           "GiB), got '" + a.get(flag, "0") + "'");
  return bytes;
}

// --threads N: kernel threads, the caller included; 0 (the default) = every core we may use.
Result<int> parseThreads(const Args& a) {
  TESSEL_ASSIGN_OR_RETURN(int64_t n, parseCount(a, "--threads", "0", 0, 1024));
  return static_cast<int>(n);
}

// --layouts auto|plain: blocked layouts chosen at load (the default), or every tensor plain.
Result<bool> parseLayouts(const Args& a) {
  const std::string l = a.get("--layouts", "auto");
  if (l != "auto" && l != "plain")
    return invalidArgument("--layouts expects auto or plain, got '" + l + "'");
  return l == "auto";
}

// --chains auto|off|all: chains of primitives run by one fused kernel where the plan weighs that
// faster (the default), every primitive on its own, or every chain a backend has a fused kernel
// for.
Result<ChainMode> parseChains(const Args& a) {
  const std::string l = a.get("--chains", "auto");
  if (l != "auto" && l != "off" && l != "all")
    return invalidArgument("--chains expects auto, off or all, got '" + l + "'");
  return l == "auto" ? ChainMode::Auto : l == "off" ? ChainMode::Off : ChainMode::All;
}

// What the load decides that the flags can turn off or bound (--layouts, --chains,
// --memory-budget).
struct LoadChoices {
  bool blockedLayouts = true;
  ChainMode chains = ChainMode::Auto;
  int64_t memoryBudget = 0; // 0: the runtime's default
  Precision precision = Precision::F32;
  PlanSearch search = PlanSearch::FirstFit;
  std::string profile;      // --profile FILE: the profile cache (measured times, kernels' fits)
  int64_t weightBudget = 0; // --weight-budget N: the bytes of weights the kernels may keep
  // --target NAME: an ONNX model's conversion plans by the cost model for that target (as
  // `convert --search model --target NAME`), and the load takes that plan, or makes it again
  // where this machine is not that target.
  std::string target;
};

// The flags that set them, for the commands' flag lists.
const std::vector<std::string> kLoadFlags = {"--threads",       "--layouts",   "--chains",
                                             "--memory-budget", "--precision", "--search",
                                             "--profile",       "--target",    "--weight-budget"};

// --target: an ONNX model converted by the cost model for that target.
void convertForTarget(const LoadChoices& load, ConvertOptions* options) {
  if (load.target.empty()) return;
  options->target = load.target;
  options->costModel = true;
}

Result<LoadChoices> parseLoadChoices(const Args& a) {
  LoadChoices load;
  TESSEL_ASSIGN_OR_RETURN(load.blockedLayouts, parseLayouts(a));
  TESSEL_ASSIGN_OR_RETURN(load.chains, parseChains(a));
  TESSEL_ASSIGN_OR_RETURN(load.memoryBudget, parseBytes(a, "--memory-budget"));
  // --precision f32|f16: f16 lets a GPU backend keep f32 values as half (backend.h, Precision).
  const std::string precision = a.get("--precision", "f32");
  if (precision != "f32" && precision != "f16")
    return invalidArgument("--precision expects f32 or f16, got '" + precision + "'");
  load.precision = precision == "f16" ? Precision::F16Storage : Precision::F32;
  // --search off|model|measure: the plan (first fit), or the cost model over every backend's
  // kernels at their estimated or measured times (--profile FILE keeps the measurements; the
  // estimates follow the lines fitted to them).
  const std::string search = a.get("--search", "off");
  if (search != "off" && search != "model" && search != "measure")
    return invalidArgument("--search expects off, model or measure, got '" + search + "'");
  load.search = search == "model"     ? PlanSearch::Model
                : search == "measure" ? PlanSearch::Measure
                                      : PlanSearch::FirstFit;
  load.profile = a.get("--profile");
  if (!load.profile.empty() && load.search == PlanSearch::FirstFit)
    return invalidArgument("--profile is the cost model's: it needs --search model or measure");
  TESSEL_ASSIGN_OR_RETURN(load.weightBudget, parseBytes(a, "--weight-budget"));
  if (load.weightBudget > 0 && load.search == PlanSearch::FirstFit)
    return invalidArgument("--weight-budget bounds the search's plan: it needs --search model or "
                           "measure");
  load.target = a.get("--target");
  if (!load.target.empty() && load.search != PlanSearch::FirstFit)
    return invalidArgument("--target plans the artifact, --search the load: give one of them");
  return load;
}

// The session options the load flags and --backend/--threads give.
SessionOptions sessionOptions(const std::string& backend, int threads, const LoadChoices& load) {
  SessionOptions so;
  so.backend = backend;
  so.threads = threads;
  so.blockedLayouts = load.blockedLayouts;
  so.chains = load.chains;
  so.memoryBudget = load.memoryBudget;
  so.precision = load.precision;
  so.search = load.search;
  so.profileCache = load.profile;
  so.weightBudget = load.weightBudget;
  return so;
}

// The session's inputs, in model input order: given[i] when not null (its dtype and shape
// checked), else seeded random values written straight into the session.
Status setInputs(Session& s, const Program& prog, const std::vector<const HostTensor*>& given) {
  for (size_t i = 0; i < prog.inputs.size(); ++i) {
    const ProgramTensor& t = prog.tensors[prog.inputs[i]];
    const HostTensor* in = i < given.size() ? given[i] : nullptr;
    if (!in) {
      fillRandom(t.desc, s.inputData(i), 1234 + i);
      continue;
    }
    if (in->list)
      return invalidArgument("input '" + t.name +
                             "' is a tensor; the file given holds an ONNX "
                             "sequence or optional value, not a tensor");
    if (in->desc.dtype != t.desc.dtype)
      return invalidArgument("input '" + t.name + "' expects " +
                             std::string(dtypeName(t.desc.dtype)) + ", got " +
                             std::string(dtypeName(in->desc.dtype)));
    if (in->desc.shape != t.desc.shape)
      return invalidArgument("input '" + t.name + "' expects shape " + shapeToString(t.desc.shape) +
                             ", got " + shapeToString(in->desc.shape));
    TESSEL_RETURN_IF_ERROR(s.setInput(i, in->bytes.data(), in->bytes.size()));
  }
  return Status::ok();
}

// A session with its inputs set (setInputs; the model's declared sizes are checked against the
// memory budget first, by creating the session).
Result<std::unique_ptr<Session>> prepare(std::shared_ptr<const Program> prog,
                                         const BackendRegistry& registry,
                                         const std::string& backend, int threads,
                                         const std::vector<const HostTensor*>& given,
                                         const LoadChoices& load) {
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Session> s,
                          Session::create(prog, registry, sessionOptions(backend, threads, load)));
  TESSEL_RETURN_IF_ERROR(setInputs(*s, *prog, given));
  return s;
}

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// ONNX test data files sorted by their index: input_0.pb, input_1.pb, ..., input_10.pb.
std::vector<fs::path> indexedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".pb")
      found.emplace_back(std::atoi(name.c_str() + prefix.size()), e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& f : found)
    out.push_back(f.second);
  return out;
}

// Converts to a .tsl file and loads it back with the runtime's file loader (mmap), so checks
// cover the artifact exactly as devices see it.
Result<std::shared_ptr<const Program>> convertThroughFile(const std::string& onnx,
                                                          const ConvertOptions& opts) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, convertOnnxFile(onnx, opts));
  std::string path = (fs::temp_directory_path() / "tessel-check-XXXXXX").string();
  const int fd = ::mkstemp(path.data());
  if (fd < 0) return ioError("cannot create a temporary artifact file");
  const bool written =
      ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  auto prog = written ? loadArtifactFile(path)
                      : Result<std::shared_ptr<const Program>>(ioError("cannot write " + path));
  fs::remove(path); // the mapping outlives the name
  return prog;
}

} // namespace

int convertCommand(const std::vector<std::string>& argv) {
  Args a = parse(argv,
                 {"-o", "--shape", "--backends", "--search", "--dump-mlir", "--target", "--threads",
                  "--profile", "--weight-budget", "--memory-budget"},
                 {});
  if (!a.error.empty()) return fail(a.error);
  if (a.positional.size() != 1 || !a.has("-o"))
    return fail(
        "usage: tessel convert MODEL.onnx -o MODEL.tsl [--shape NAME=DIMS]... [--backends "
        "LIST] [--search off|model|measure] [--target host|NAME] [--threads N] [--profile FILE] "
        "[--weight-budget N[KiB|MiB|GiB]] [--memory-budget N[KiB|MiB|GiB]]");
  auto opts = convertOptions(a);
  if (!opts.isOk()) return fail(opts.status());
  const bool measure = a.get("--search") == "measure";
  if (measure && a.has("--target") && a.get("--target") != "host")
    return fail("convert --search measure times kernels on this machine: its target is host (for "
                "another device, measure there with --search measure --profile FILE, then "
                "convert --search model --profile FILE --target NAME)");
  if (a.has("--profile") && !opts->costModel)
    return fail("--profile calibrates the cost model: it needs --search model");
  auto threads = parseCount(a, "--threads", "1", 1, 1024);
  if (!threads.isOk()) return fail(threads.status());
  opts->threads = static_cast<int>(*threads);
  opts->target = a.get("--target", "host");
  opts->profile = a.get("--profile");
  auto budget = parseBytes(a, "--weight-budget");
  if (!budget.isOk()) return fail(budget.status());
  if (*budget > 0 && !opts->costModel)
    return fail("--weight-budget bounds the search's plan: it needs --search model");
  opts->weightBudget = *budget;
  auto memory = parseBytes(a, "--memory-budget");
  if (!memory.isOk()) return fail(memory.status());
  if (*memory > 0 && !opts->costModel)
    return fail("--memory-budget bounds the search's plan: it needs --search model");
  opts->memoryBudget = *memory;
  // Measured: the candidates timed here into the profile cache (the file named, else one for this
  // conversion alone), as a load with --search measure times them; then the compiler plans with
  // the cache's times, which give it the measured plan.
  std::string temporary;
  if (measure) {
    if (opts->profile.empty()) {
      temporary = (fs::temp_directory_path() / "tessel-measure-XXXXXX").string();
      const int fd = ::mkstemp(temporary.data());
      if (fd < 0) return fail("cannot create a temporary profile cache");
      ::close(fd);
      fs::remove(temporary); // an empty file is not a cache; a missing one is an empty cache
      opts->profile = temporary;
    }
    ConvertOptions firstFit = *opts;
    firstFit.costModel = false;
    firstFit.profile.clear();
    firstFit.weightBudget = firstFit.memoryBudget = 0;
    auto prog = convertThroughFile(a.positional[0], firstFit);
    if (!prog.isOk()) return fail(prog.status());
    BackendRegistry registry;
    registerBuiltinBackends(registry);
    PrepareOptions po;
    po.threads = opts->threads;
    po.search = PlanSearch::Measure;
    po.profileCache = opts->profile;
    auto measured = PreparedModel::create(*prog, registry, po);
    if (!measured.isOk()) {
      if (!temporary.empty()) fs::remove(temporary);
      return fail(measured.status().withContext("measuring"));
    }
    const search::ModelPlan* plan = (*measured)->searchPlan();
    std::printf("measured %d candidates (%d from the profile cache), %d fused chains and %d "
                "kernel pairs in sessions at %d threads\n",
                plan ? plan->measurements : 0, plan ? plan->cacheHits : 0,
                plan ? plan->chainsInSession : 0, plan ? plan->kernelsInSession : 0, opts->threads);
  }
  auto bytes = convertOnnxFile(a.positional[0], *opts);
  if (!temporary.empty()) fs::remove(temporary);
  if (!bytes.isOk()) return fail(bytes.status());
  std::ofstream f(a.get("-o"), std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes->data()),
          static_cast<std::streamsize>(bytes->size()));
  if (!f) return fail("cannot write '" + a.get("-o") + "'");
  std::printf("wrote %s (%zu bytes)\n", a.get("-o").c_str(), bytes->size());
  return 0;
}

namespace {

// s as a JSON string.
std::string jsonText(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// How many primitives each backend runs in a session, in registry order of first use (views run
// nowhere); "cpu_x86 52, vulkan 3", or as JSON object members.
std::vector<std::pair<std::string, int>> primitivesByBackend(const Session& session) {
  std::vector<std::pair<std::string, int>> counts;
  for (size_t i = 0; i < session.program().primitives.size(); ++i) {
    const Backend* b = session.backendOf(i);
    if (!b) continue;
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& c) { return c.first == b->name(); });
    if (it == counts.end())
      counts.emplace_back(std::string(b->name()), 1);
    else
      ++it->second;
  }
  return counts;
}

std::string byBackendText(const Session& session, bool json) {
  std::string out;
  for (const auto& [name, n] : primitivesByBackend(session)) {
    if (!out.empty()) out += ", ";
    out += json ? "\"" + name + "\": " + std::to_string(n) : name + " " + std::to_string(n);
  }
  return json ? "{" + out + "}" : out;
}

// Which plan runs, as `run` and `bench` say it: its source, then its layouts and fused chains.
std::string planText(const PreparedModel& m) {
  return m.planSource() + ", " + std::to_string(m.blockedTensorCount()) + " tensors blocked, " +
         std::to_string(m.chainCount()) + " chains fused";
}

// The line `tessel run` ends with: where the primitives ran and what moved between spaces.
void printByBackend(const Session& session) {
  std::printf("primitives by backend: %s; copies between memory spaces %d a run; plan: %s\n",
              byBackendText(session, false).c_str(), session.runCopyCount(),
              planText(session.preparedModel()).c_str());
}

// Parses a command that loads one model: the flags, one positional MODEL, threads and convert
// options. Errors are printed; nullopt means "exit 1".
struct ModelCommand {
  Args args;
  ConvertOptions options;
  int threads = 0;
  LoadChoices load;
};

// Fills c from its parsed flags: one positional MODEL, threads, load choices, convert options.
Status readModelCommand(ModelCommand* c, const char* usage) {
  if (!c->args.error.empty()) return invalidArgument(c->args.error);
  if (c->args.positional.size() != 1) return invalidArgument(usage);
  TESSEL_ASSIGN_OR_RETURN(c->threads, parseThreads(c->args));
  TESSEL_ASSIGN_OR_RETURN(c->load, parseLoadChoices(c->args));
  TESSEL_ASSIGN_OR_RETURN(c->options, convertOptions(c->args));
  // A load that plans by cost ignores the artifact's plan: the in-memory conversion need not plan
  // by cost too.
  if (c->load.search != PlanSearch::FirstFit) c->options.costModel = false;
  convertForTarget(c->load, &c->options);
  return Status::ok();
}

std::optional<ModelCommand> parseModelCommand(const std::vector<std::string>& argv,
                                              std::vector<std::string> valued,
                                              const std::vector<std::string>& boolean,
                                              const char* usage) {
  valued.insert(valued.end(), {"--shape", "--backend", "--backends"});
  valued.insert(valued.end(), kLoadFlags.begin(), kLoadFlags.end());
  ModelCommand c{parse(argv, valued, boolean), {}};
  if (Status s = readModelCommand(&c, usage); !s.isOk()) {
    fail(s);
    return std::nullopt;
  }
  return c;
}

// --input NAME=FILE values, by name; each also pins the shape the model is converted with.
Result<std::map<std::string, HostTensor>> givenInputs(const Args& a, ConvertOptions* opts) {
  std::map<std::string, HostTensor> given;
  if (!a.has("--input")) return given;
  for (const std::string& s : a.flags.at("--input")) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos)
      return invalidArgument("--input expects NAME=FILE, got '" + s + "'");
    TESSEL_ASSIGN_OR_RETURN(HostTensor t, readTensorFile(s.substr(eq + 1)));
    t.name = s.substr(0, eq);
    if (!opts->shapes.count(t.name)) opts->shapes[t.name] = t.desc.shape;
    given[t.name] = std::move(t);
  }
  return given;
}

// The given inputs by model input index (null: random); a given name the model lacks is an
// error.
Result<std::vector<const HostTensor*>> modelInputs(const Program& prog,
                                                   const std::map<std::string, HostTensor>& given) {
  std::vector<const HostTensor*> inputs(prog.inputs.size(), nullptr);
  size_t used = 0;
  for (size_t i = 0; i < prog.inputs.size(); ++i) {
    auto it = given.find(prog.tensors[prog.inputs[i]].name);
    if (it == given.end()) continue;
    inputs[i] = &it->second;
    ++used;
  }
  if (used != given.size())
    for (const auto& [name, tensor] : given)
      if (std::none_of(inputs.begin(), inputs.end(),
                       [&](const HostTensor* t) { return t == &tensor; }))
        return invalidArgument("--input names '" + name + "', which is not a model input");
  return inputs;
}

// One output of a run, as printed and written.
struct OutputView {
  std::string name;
  TensorDesc desc;
  const void* data = nullptr;
  bool list = false; // a sequence or optional output: its tensors
  std::vector<OutputView> items;
};

// The outputs of a session's last run.
std::vector<OutputView> outputsOf(const Session& session) {
  const Program& p = session.program();
  std::vector<OutputView> outs;
  for (size_t i = 0; i < p.outputs.size(); ++i) {
    const ProgramTensor& t = p.tensors[p.outputs[i]];
    outs.push_back({t.name, t.desc, session.outputData(i)});
  }
  return outs;
}
std::vector<OutputView> outputsOf(const graph::DynamicSession& session) {
  std::vector<OutputView> outs;
  for (size_t i = 0; i < session.outputCount(); ++i) {
    const int32_t items = session.outputItems(i);
    if (items < 0) {
      outs.push_back({session.output(i).name, session.outputDesc(i), session.outputData(i)});
      continue;
    }
    OutputView list{session.output(i).name, {}, nullptr, true, {}};
    for (int32_t k = 0; k < items; ++k)
      list.items.push_back({session.output(i).name + "[" + std::to_string(k) + "]",
                            session.outputItemDesc(i, static_cast<size_t>(k)),
                            session.outputItemData(i, static_cast<size_t>(k))});
    outs.push_back(std::move(list));
  }
  return outs;
}

// A test input as a dynamic session takes it (lists with their tensors).
graph::InputRef inputRefOf(const HostTensor& t) {
  graph::InputRef ref{t.desc, t.bytes.data()};
  ref.list = t.list;
  ref.present = t.present;
  for (const HostTensor& item : t.items)
    ref.items.push_back({item.desc, item.bytes.data()});
  return ref;
}

// A dynamic session on a loaded artifact that plans at run time (graph/).
Result<std::unique_ptr<graph::DynamicSession>> openDynamic(const Program& loaded,
                                                           const SessionOptions& options) {
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<const graph::Graph> source, graph::artifactGraph(loaded));
  if (!source) return internalError("the artifact plans at run time but carries no graph");
  graph::DynamicOptions dyn;
  dyn.session = options;
  return graph::DynamicSession::create(source, dyn);
}

Status writeOutputs(const std::vector<OutputView>& outputs, const std::string& outDir) {
  if (!outDir.empty()) {
    std::error_code ec;
    if (fs::exists(outDir, ec) && !fs::is_directory(outDir, ec))
      return invalidArgument("--output-dir '" + outDir + "' exists and is not a directory");
    fs::create_directories(outDir, ec);
    if (ec) return ioError("cannot create '" + outDir + "': " + ec.message());
  }
  std::vector<OutputView> flat; // lists' tensors in their place, named name[k]
  for (const OutputView& o : outputs) {
    if (o.list) std::printf("output %s: %zu tensors\n", o.name.c_str(), o.items.size());
    if (o.list)
      flat.insert(flat.end(), o.items.begin(), o.items.end());
    else
      flat.push_back(o);
  }
  for (const OutputView& o : flat) {
    std::printf("output %s: %s\n", o.name.c_str(), summarize(o.desc, o.data).c_str());
    if (outDir.empty()) continue;
    std::string file = o.name;
    std::replace(file.begin(), file.end(), '/', '_');
    TESSEL_RETURN_IF_ERROR(frontend::writeTensorProtoFile(
        (fs::path(outDir) / (file + ".pb")).string(), o.name, o.desc, o.data));
  }
  return Status::ok();
}

// A model that plans at run time: its inputs are the given ones, and random values for those
// not given whose shapes are fully declared; each run specializes and plans (graph/).
Status runDynamic(ModelCommand& c, const Program& loaded,
                  const std::map<std::string, HostTensor>& given) {
  TESSEL_ASSIGN_OR_RETURN(auto session, openDynamic(loaded, sessionOptions(c.args.get("--backend"),
                                                                           c.threads, c.load)));
  std::vector<HostTensor> filled;
  filled.reserve(session->inputCount());
  std::vector<graph::InputRef> refs;
  size_t used = 0;
  for (size_t i = 0; i < session->inputCount(); ++i) {
    const graph::Value& in = session->input(i);
    if (auto it = given.find(in.name); it != given.end()) {
      refs.push_back({it->second.desc, it->second.bytes.data()});
      ++used;
      continue;
    }
    for (int64_t d : in.desc.shape)
      if (d < 0 || in.anyRank)
        return invalidArgument("input '" + in.name +
                               "' has dims known only at run time: give it "
                               "with --input " +
                               in.name + "=FILE");
    HostTensor t{in.name, in.desc, std::vector<uint8_t>(in.desc.byteSize())};
    fillRandom(t.desc, t.bytes.data(), 1234 + static_cast<uint32_t>(i));
    filled.push_back(std::move(t));
    refs.push_back({filled.back().desc, filled.back().bytes.data()});
  }
  if (used != given.size())
    for (const auto& [name, tensor] : given) {
      bool known = false;
      for (size_t i = 0; i < session->inputCount(); ++i)
        known = known || session->input(i).name == name;
      if (!known)
        return invalidArgument("--input names '" + name + "', which is not a model input");
    }
  const auto t0 = Clock::now();
  TESSEL_RETURN_IF_ERROR(session->run(refs));
  const double ms = msSince(t0);
  TESSEL_RETURN_IF_ERROR(writeOutputs(outputsOf(*session), c.args.get("--output-dir")));
  std::printf("latency %.2f ms (one run, planned at run time, %d threads), %zu primitives\n", ms,
              session->session().threads(), session->session().program().primitives.size());
  printByBackend(session->session());
  return Status::ok();
}

Status runModel(ModelCommand& c) {
  const std::string& path = c.args.positional[0];
  TESSEL_ASSIGN_OR_RETURN(auto given, givenInputs(c.args, &c.options));
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<const Program> prog, loadModel(path, c.options));
  if (prog->plansAtRunTime) return runDynamic(c, *prog, given);
  TESSEL_ASSIGN_OR_RETURN(std::vector<const HostTensor*> inputs, modelInputs(*prog, given));
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  TESSEL_ASSIGN_OR_RETURN(
      auto session, prepare(prog, registry, c.args.get("--backend"), c.threads, inputs, c.load));
  const auto t0 = Clock::now();
  TESSEL_RETURN_IF_ERROR(session->run());
  const double ms = msSince(t0);
  TESSEL_RETURN_IF_ERROR(writeOutputs(outputsOf(*session), c.args.get("--output-dir")));
  std::printf("latency %.2f ms (one run, %d threads), arena %.2f MiB (%.2f MiB without reuse), "
              "%zu primitives (%d rasters aliased away, %d outputs written in place)\n",
              ms, session->threads(), session->arenaBytes() / 1048576.0,
              session->unsharedBytes() / 1048576.0, prog->primitives.size(),
              session->skippedRasterCount(), session->inPlaceCount());
  printByBackend(*session);
  return Status::ok();
}

Result<std::vector<HostTensor>> readIndexedTensors(const fs::path& set, const std::string& prefix) {
  std::vector<HostTensor> tensors;
  for (const fs::path& f : indexedFiles(set, prefix)) {
    TESSEL_ASSIGN_OR_RETURN(HostTensor t, readTensorFile(f.string()));
    tensors.push_back(std::move(t));
  }
  return tensors;
}

struct CaseResult {
  double maxAbsErr = 0, maxRelErr = 0, ms = 0;
  bool planAtRunTime = false; // ran through a dynamic session (its plan needs input values)
  // --dynamic: the first run's planning time, and a second run's time (its plan cached).
  double planMs = -1, cachedMs = -1;
};

// Compares every output of a run with the expected tensors.
Status compareOutputs(const std::vector<OutputView>& outputs,
                      const std::vector<HostTensor>& expected, double rtol, double atol,
                      CaseResult* r) {
  for (size_t i = 0; i < expected.size(); ++i) {
    if (outputs[i].list || expected[i].list) {
      // An optional output the reference leaves empty matches one with no tensor.
      const size_t want = expected[i].list ? expected[i].items.size() : 1;
      if (!outputs[i].list || outputs[i].items.size() != want)
        return invalidArgument("output '" + outputs[i].name + "': " +
                               std::to_string(outputs[i].list ? outputs[i].items.size() : 1) +
                               " tensors, the reference " + std::to_string(want));
      std::vector<HostTensor> items =
          expected[i].list ? expected[i].items : std::vector<HostTensor>{expected[i]};
      TESSEL_RETURN_IF_ERROR(compareOutputs(outputs[i].items, items, rtol, atol, r));
      continue;
    }
    Comparison c = compareTensors(outputs[i].desc, outputs[i].data, expected[i], rtol, atol);
    if (!c.ok) return invalidArgument("output '" + outputs[i].name + "': " + c.why);
    r->maxAbsErr = std::max(r->maxAbsErr, c.maxAbsErr);
    r->maxRelErr = std::max(r->maxRelErr, c.maxRelErr);
  }
  return Status::ok();
}

// A model whose plan depends on the values of some inputs (axes, shapes or bounds fed as graph
// inputs) cannot be compiled ahead of them: it runs through a dynamic session, which specializes
// and decomposes the graph for the run's shapes and those values (graph/).
Result<CaseResult> runDynamicCase(graph::DynamicSession& session,
                                  const std::vector<HostTensor>& inputs,
                                  const std::vector<HostTensor>& expected, double rtol,
                                  double atol) {
  if (inputs.size() != session.inputCount() || expected.size() != session.outputCount())
    return invalidArgument("test data has " + std::to_string(inputs.size()) + " inputs and " +
                           std::to_string(expected.size()) + " outputs, the model " +
                           std::to_string(session.inputCount()) + " and " +
                           std::to_string(session.outputCount()));
  std::vector<graph::InputRef> refs;
  for (const HostTensor& t : inputs)
    refs.push_back(inputRefOf(t));
  const auto t0 = Clock::now();
  TESSEL_RETURN_IF_ERROR(session.run(refs));
  CaseResult r;
  r.ms = msSince(t0);
  r.planAtRunTime = true;
  if (session.lastRunPlanned()) r.planMs = session.lastPlanSeconds() * 1e3;
  TESSEL_RETURN_IF_ERROR(compareOutputs(outputsOf(session), expected, rtol, atol, &r));
  return r;
}

// --dynamic: a case's model converted without pinning shapes, as one dynamic session for all its
// sets; an error when it converts to a compiled plan (all its shapes fixed).
Result<std::unique_ptr<graph::DynamicSession>> openCase(const fs::path& model,
                                                        const SessionOptions& options) {
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<const Program> prog,
                          convertThroughFile(model.string(), {}));
  if (!prog->plansAtRunTime)
    return invalidArgument("its shapes are all fixed: it converts to a compiled plan");
  return openDynamic(*prog, options);
}

// One test data set on a case's shared dynamic session: the first run (planning a new shape)
// compared, then a second with the plan cached, timed.
Result<CaseResult> runOnShared(graph::DynamicSession& session, const fs::path& set, double rtol,
                               double atol) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<HostTensor> in, readIndexedTensors(set, "input_"));
  TESSEL_ASSIGN_OR_RETURN(std::vector<HostTensor> out, readIndexedTensors(set, "output_"));
  TESSEL_ASSIGN_OR_RETURN(CaseResult first, runDynamicCase(session, in, out, rtol, atol));
  TESSEL_ASSIGN_OR_RETURN(CaseResult again, runDynamicCase(session, in, out, rtol, atol));
  first.cachedMs = again.ms;
  return first;
}

// One ONNX test case: convert with the inputs' shapes, run through a .tsl, compare every output.
Result<CaseResult> runTestCase(const fs::path& model, const fs::path& set,
                               const BackendRegistry& registry, const std::string& backend,
                               int threads, const LoadChoices& load, double rtol, double atol) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<HostTensor> inputs, readIndexedTensors(set, "input_"));
  TESSEL_ASSIGN_OR_RETURN(std::vector<HostTensor> expected, readIndexedTensors(set, "output_"));
  TESSEL_ASSIGN_OR_RETURN(frontend::OnnxModel onnx, frontend::readOnnxModel(model.string()));
  ConvertOptions opts;
  for (size_t i = 0; i < inputs.size() && i < onnx.inputs.size(); ++i)
    opts.shapes[onnx.inputs[i].name] = inputs[i].desc.shape;
  convertForTarget(load, &opts);
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<const Program> prog,
                          convertThroughFile(model.string(), opts));
  if (prog->plansAtRunTime) {
    TESSEL_ASSIGN_OR_RETURN(auto session,
                            openDynamic(*prog, sessionOptions(backend, threads, load)));
    return runDynamicCase(*session, inputs, expected, rtol, atol);
  }
  if (inputs.size() != prog->inputs.size() || expected.size() != prog->outputs.size())
    return invalidArgument("test data has " + std::to_string(inputs.size()) + " inputs and " +
                           std::to_string(expected.size()) + " outputs, the model " +
                           std::to_string(prog->inputs.size()) + " and " +
                           std::to_string(prog->outputs.size()));
  std::vector<const HostTensor*> given;
  for (const HostTensor& t : inputs)
    given.push_back(&t);
  TESSEL_ASSIGN_OR_RETURN(auto session, prepare(prog, registry, backend, threads, given, load));
  const auto t0 = Clock::now();
  TESSEL_RETURN_IF_ERROR(session->run());
  CaseResult r;
  r.ms = msSince(t0);
  TESSEL_RETURN_IF_ERROR(compareOutputs(outputsOf(*session), expected, rtol, atol, &r));
  return r;
}

std::vector<fs::path> testDataSets(const fs::path& dir) {
  std::vector<fs::path> sets;
  if (!fs::is_directory(dir)) return sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

} // namespace

int runCommand(const std::vector<std::string>& argv) {
  auto c = parseModelCommand(argv, {"--input", "--output-dir"}, {},
                             "usage: tessel run MODEL.(onnx|tsl) [--input NAME=FILE.(pb|npy)]... "
                             "[--output-dir DIR] [--backend NAME] [--layouts auto|plain] [--chains "
                             "auto|off|all] [--memory-budget N[KiB|MiB|GiB]] [--precision f32|f16] "
                             "[--search off|model|measure] [--profile FILE] "
                             "[--weight-budget N[KiB|MiB|GiB]]");
  if (!c) return 1;
  Status s = runModel(*c);
  return s.isOk() ? 0 : fail(s);
}

int checkCommand(const std::vector<std::string>& argv) {
  std::vector<std::string> valued = {"--rtol", "--atol", "--backend"};
  valued.insert(valued.end(), kLoadFlags.begin(), kLoadFlags.end());
  Args a = parse(argv, valued, {"--dynamic"});
  if (!a.error.empty()) return fail(a.error);
  if (a.positional.empty())
    return fail("usage: tessel check DIR... [--rtol 1e-3] [--atol 1e-4] [--backend NAME] "
                "[--threads N] [--layouts auto|plain] [--chains auto|off|all] [--memory-budget "
                "N[KiB|MiB|GiB]] [--precision f32|f16] [--search off|model|measure] [--profile "
                "FILE] [--dynamic]");
  auto threads = parseThreads(a);
  if (!threads.isOk()) return fail(threads.status());
  auto loadArg = parseLoadChoices(a);
  if (!loadArg.isOk()) return fail(loadArg.status());
  const LoadChoices load = *loadArg;
  auto rtolArg = parseTolerance(a, "--rtol", "1e-3");
  if (!rtolArg.isOk()) return fail(rtolArg.status());
  auto atolArg = parseTolerance(a, "--atol", "1e-4");
  if (!atolArg.isOk()) return fail(atolArg.status());
  const double rtol = *rtolArg, atol = *atolArg;
  int passed = 0, failed = 0, skipped = 0;
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  for (const std::string& dirArg : a.positional) {
    fs::path dir = fs::path(dirArg).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path(); // "case/" names the case too
    const std::vector<fs::path> sets = testDataSets(dir);
    if (!fs::exists(dir / "model.onnx") || sets.empty()) {
      std::printf("SKIP %s: no model.onnx or test_data_set_*\n", dirArg.c_str());
      ++skipped;
      continue;
    }
    // --dynamic: one artifact converted without pinning shapes and one session for every set
    // of the case, each new shape planned on it (its planning time and a second run's time
    // printed).
    std::unique_ptr<graph::DynamicSession> shared;
    if (a.has("--dynamic")) {
      auto session =
          openCase(dir / "model.onnx", sessionOptions(a.get("--backend"), *threads, load));
      if (!session.isOk()) {
        std::printf("FAIL %s: %s\n", dirArg.c_str(), session.status().message().c_str());
        ++failed;
        continue;
      }
      shared = std::move(*session);
    }
    for (const fs::path& set : sets) {
      const std::string label = (dir.filename() / set.filename()).string();
      auto r = shared ? runOnShared(*shared, set, rtol, atol)
                      : runTestCase(dir / "model.onnx", set, registry, a.get("--backend"), *threads,
                                    load, rtol, atol);
      if (!r.isOk()) {
        std::printf("FAIL %s: %s\n", label.c_str(), r.status().message().c_str());
        ++failed;
        continue;
      }
      char buf[160];
      if (r->cachedMs >= 0)
        std::snprintf(buf, sizeof buf, ", planned in %.1f ms, run %.1f ms with the plan cached",
                      std::max(r->planMs, 0.0), r->cachedMs);
      else
        std::snprintf(buf, sizeof buf, ", %.1f ms%s", r->ms,
                      r->planAtRunTime ? ", planned at run time" : "");
      std::printf("PASS %s (max abs err %.3g, max rel err %.3g%s)\n", label.c_str(), r->maxAbsErr,
                  r->maxRelErr, buf);
      ++passed;
    }
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

// Each step's minimum time over `runs` profiled runs, with its GFLOP/s, slowest first.
Status printPerOp(Session& session, int runs) {
  std::vector<Session::StepTime> best, times;
  for (int r = 0; r < runs; ++r) {
    TESSEL_RETURN_IF_ERROR(session.runProfiled(&times));
    if (best.empty()) best = times;
    for (size_t i = 0; i < times.size() && i < best.size(); ++i)
      best[i].seconds = std::min(best[i].seconds, times[i].seconds);
  }
  const Program& prog = session.program();
  const std::vector<TensorDesc>& descs = session.preparedModel().descs(); // layouts as run
  double total = 0, flops = 0;
  for (const auto& t : best)
    total += t.seconds;
  std::sort(best.begin(), best.end(),
            [](const auto& x, const auto& y) { return x.seconds > y.seconds; });
  std::printf("%8s %6s %8s %6s %-10s %-44s %-22s %s\n", "ms", "%", "gflop/s", "%peak", "backend",
              "primitive", "output", "origin");
  for (const auto& t : best) {
    if (t.primitive < 0) {
      std::printf("%8.3f %6.1f %-8s %-10s %-28s\n", t.seconds * 1e3, 100 * t.seconds / total, "",
                  "", "copy between memory spaces");
      continue;
    }
    // A chain's step: its primitives' names joined by " + ", their FLOPs summed.
    double f = 0;
    std::string what;
    for (int32_t j = t.primitive; j <= t.last; ++j) {
      const Primitive& p = prog.primitives[j];
      f += primitiveFlops(p, descs);
      if (!what.empty()) what += " + ";
      what += primitiveName(p.kind());
      if (p.kind() == PrimitiveKind::Conv2d) {
        const Shape& w = descs[p.inputs[1]].shape;
        what += " " + std::to_string(w[2]) + "x" + std::to_string(w[3]) + " s" +
                std::to_string(p.as<Conv2dParams>().stride[0]) + " g" +
                std::to_string(p.as<Conv2dParams>().group);
      }
    }
    const Primitive& p = prog.primitives[t.last];
    flops += f;
    const Backend* b = session.backendOf(t.primitive);
    // Fraction of the backend's measured peak at the session's threads (Winograd can pass 100%:
    // FLOPs are counted for the direct form).
    const double peak = b ? b->descriptor().measuredPeakFlops() * session.threads() : 0;
    const double rate = t.seconds > 0 ? f / t.seconds : 0.0;
    char peakText[16] = "";
    if (peak > 0) std::snprintf(peakText, sizeof peakText, "%.0f", 100 * rate / peak);
    const PreparedKernel* k = session.preparedModel().kernel(t.primitive);
    const std::string kernel = k ? k->describe() : std::string();
    if (!kernel.empty()) what += " [" + kernel + "]";
    std::printf("%8.3f %6.1f %8.1f %6s %-10s %-44s %-22s %s\n", t.seconds * 1e3,
                100 * t.seconds / total, rate / 1e9, peakText,
                b ? std::string(b->name()).c_str() : "", what.c_str(),
                descs[p.outputs[0]].toString().c_str(), p.origin.c_str());
  }
  std::printf("total %.3f ms over %zu steps, %.2f GFLOP, %.1f GFLOP/s\n", total * 1e3, best.size(),
              flops / 1e9, total > 0 ? flops / total / 1e9 : 0.0);
  for (const auto& b : session.preparedModel().backendsUsed())
    if (double peak = b->descriptor().measuredPeakFlops(); peak > 0)
      std::printf("%s: measured FMA peak %.1f GFLOP/s per thread\n", std::string(b->name()).c_str(),
                  peak / 1e9);
  return Status::ok();
}

namespace {

// The model of a bench or search command, converted (or loaded) and prepared with its flags'
// choices and seeded inputs, on the backends `registry` is filled with (it must outlive the
// session).
Result<std::unique_ptr<Session>> loadSession(const ModelCommand& c, BackendRegistry& registry) {
  TESSEL_ASSIGN_OR_RETURN(auto prog, loadModel(c.args.positional[0], c.options));
  registerBuiltinBackends(registry);
  return prepare(prog, registry, c.args.get("--backend"), c.threads, {}, c.load);
}

} // namespace

int benchCommand(const std::vector<std::string>& argv) {
  auto c = parseModelCommand(
      argv, {"--runs", "--warmup"}, {"--json", "--per-op"},
      "usage: tessel bench MODEL [--shape NAME=DIMS]... [--backend NAME] "
      "[--threads N] [--runs N] [--warmup N] [--json] [--per-op] "
      "[--layouts auto|plain] [--chains auto|off|all] [--memory-budget N[KiB|MiB|GiB]] "
      "[--precision f32|f16] [--search off|model|measure] [--profile FILE] "
      "[--weight-budget N[KiB|MiB|GiB]]");
  if (!c) return 1;
  const Args& a = c->args;
  BackendRegistry registry;
  auto session = loadSession(*c, registry);
  if (!session.isOk()) return fail(session.status());
  auto warmupArg = parseCount(a, "--warmup", "2", 0, 1000000);
  if (!warmupArg.isOk()) return fail(warmupArg.status());
  auto runsArg = parseCount(a, "--runs", "10", 1, 1000000);
  if (!runsArg.isOk()) return fail(runsArg.status());
  const int warmup = static_cast<int>(*warmupArg), runs = static_cast<int>(*runsArg);
  for (int i = 0; i < warmup; ++i)
    if (Status s = (*session)->run(); !s.isOk()) return fail(s);
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    if (Status s = (*session)->run(); !s.isOk()) return fail(s);
    ms.push_back(msSince(t0));
  }
  if (a.has("--per-op"))
    if (Status s = printPerOp(**session, runs); !s.isOk()) return fail(s);
  std::sort(ms.begin(), ms.end());
  const double median = runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
  const double arenaMiB = (*session)->arenaBytes() / 1048576.0;
  const int threads = (*session)->threads();
  const PreparedModel& prepared = (*session)->preparedModel();
  if (a.has("--json")) {
    std::printf("{\"model\": \"%s\", \"runs\": %d, \"threads\": %d, \"min_ms\": %.3f, "
                "\"median_ms\": %.3f, \"max_ms\": %.3f, \"arena_mib\": %.3f, "
                "\"primitives_by_backend\": %s, \"copies_per_run\": %d, \"plan\": %s, "
                "\"blocked_tensors\": %d, \"fused_chains\": %d}\n",
                a.positional[0].c_str(), runs, threads, ms.front(), median, ms.back(), arenaMiB,
                byBackendText(**session, true).c_str(), (*session)->runCopyCount(),
                jsonText(prepared.planSource()).c_str(), prepared.blockedTensorCount(),
                prepared.chainCount());
  } else {
    std::printf("%s: %d runs, %d threads, min %.2f ms, median %.2f ms, max %.2f ms (arena %.2f "
                "MiB; %s; plan: %s)\n",
                a.positional[0].c_str(), runs, threads, ms.front(), median, ms.back(), arenaMiB,
                byBackendText(**session, false).c_str(), planText(prepared).c_str());
  }
  return 0;
}

} // namespace tessel::cli

namespace tessel::cli {
namespace {

// A plan: per primitive, the backend ("" for a view), the kernel and whether it runs fused with
// the next; per tensor, its layout.
struct Plan {
  std::vector<std::string> backends;
  std::vector<KernelChoice> kernels;
  std::vector<uint8_t> fused;
  std::vector<Layout> layouts;
};

// The plan a prepared model runs. A kernel left to its backend's first choice where that is
// none of its candidates (cpu_x86's convolutions: the variant its cost model finds cheapest when
// prepared) is named as that candidate, the one the backend estimates fastest for the tensors
// as laid out, as preparing picks it: so that a change to the same kernel by its own name is
// no change (the coordinate-wise search kept such no-ops when noise made them look 1% faster).
Plan planOf(const PreparedModel& model, int threads) {
  Plan plan;
  const Program& prog = model.program();
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    const Backend* b = model.backend(i);
    plan.backends.push_back(b ? std::string(b->name()) : std::string());
    KernelChoice choice = model.choice(i);
    if (b && model.chainLast(i) == static_cast<int32_t>(i) &&
        model.chainHead(i) == static_cast<int32_t>(i)) {
      const BackendDescriptor& d = b->descriptor();
      const Primitive& p = prog.primitives[i];
      const std::vector<KernelCandidate> candidates = d.candidates(p, model.descs());
      const bool named = std::any_of(candidates.begin(), candidates.end(),
                                     [&](const KernelCandidate& k) { return k.choice == choice; });
      if (!named && choice == d.firstChoice(p, model.descs())) {
        double least = std::numeric_limits<double>::infinity();
        for (const KernelCandidate& k : candidates)
          if (const double e = d.estimateSeconds(p, model.descs(), k.choice, threads); e < least) {
            least = e;
            choice = k.choice;
          }
      }
    }
    plan.kernels.push_back(choice);
    plan.fused.push_back(model.chainLast(i) > static_cast<int32_t>(i));
  }
  for (const TensorDesc& d : model.descs())
    plan.layouts.push_back(d.layout);
  return plan;
}

// A session of the plan: the program prepared with it as the artifact's plan (first fit keeps
// it), its fused chains and its layouts, after one warm run.
Result<std::unique_ptr<Session>> planSession(const Program& prepared, const Plan& plan,
                                             const BackendRegistry& registry, const ModelCommand& c,
                                             Plan* ran = nullptr) {
  auto prog = std::make_shared<Program>(prepared);
  prog->backends = plan.backends;
  prog->kernels = plan.kernels;
  LoadChoices load = c.load;
  load.search = PlanSearch::FirstFit;
  load.profile.clear();
  const SessionOptions so = sessionOptions("", c.threads, load);
  PrepareOptions po = so.prepareOptions();
  po.fused = plan.fused;
  po.layouts = plan.layouts;
  TESSEL_ASSIGN_OR_RETURN(auto model, PreparedModel::create(prog, registry, po));
  TESSEL_ASSIGN_OR_RETURN(auto session, Session::create(model, so));
  // Prepared otherwise than asked (first fit passes over a backend that does not run the
  // primitive with its tensors laid out so, a fused form a backend declines): not this plan. A
  // kernel left to the backend's choice is named as prepared (planOf), in `ran`.
  Plan got = planOf(*model, session->threads());
  for (size_t i = 0; i < got.backends.size(); ++i)
    if (got.backends[i] != plan.backends[i] || !(model->choice(i) == plan.kernels[i]) ||
        got.fused[i] != plan.fused[i])
      return unsupported("primitive " + std::to_string(i) + " was prepared as " + got.backends[i] +
                         ":" + std::to_string(got.kernels[i].id) + (got.fused[i] ? " fused" : "") +
                         ", not as the plan's " + plan.backends[i] + ":" +
                         std::to_string(plan.kernels[i].id) + (plan.fused[i] ? " fused" : ""));
  if (got.layouts != plan.layouts) return unsupported("the plan's layouts were not kept");
  TESSEL_RETURN_IF_ERROR(setInputs(*session, *prog, {}));
  TESSEL_RETURN_IF_ERROR(session->run());
  if (ran) *ran = std::move(got);
  return session;
}

// The plan's time end to end: its session (planSession), the minimum of `runs`.
Result<double> planMilliseconds(const Program& prepared, const Plan& plan,
                                const BackendRegistry& registry, const ModelCommand& c, int runs,
                                Plan* ran = nullptr) {
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                          planSession(prepared, plan, registry, c, ran));
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    TESSEL_RETURN_IF_ERROR(session->run());
    best = std::min(best, msSince(t0));
  }
  return best;
}

// The changes coordinate `i` offers from `plan`: for a primitive (i below the primitive count),
// its kernel (every option the plan weighed, but not one whose own time exceeds `bestMs`, the
// whole current plan's) or a chain from it fused or unfused; past them, one per layout segment
// (the tensors that change layout together, search::layoutGroups, in `segments` by their first
// tensor): every other layout for all of it.
std::vector<std::pair<Plan, std::string>>
moves(const Program& prepared, const search::ModelPlan& weighed, const Plan& plan,
      std::span<const int32_t> group, std::span<const size_t> segments,
      const BackendRegistry& registry, size_t i, double bestMs) {
  std::vector<std::pair<Plan, std::string>> out;
  const size_t primitives = prepared.primitives.size();
  if (i >= primitives) {
    const size_t first = segments[i - primitives];
    const Layout now = plan.layouts[first];
    for (const Layout to : {Layout::Plain, Layout::NCHWc8, Layout::NCHWc16}) {
      if (to == now) continue;
      Plan next = plan;
      for (size_t id = 0; id < group.size(); ++id)
        if (group[id] == group[first]) next.layouts[id] = to;
      // The kernels that read or write the segment left to their backend's first choice, which
      // it makes for the tensors as now laid out.
      for (size_t p = 0; p < primitives; ++p) {
        const Primitive& q = prepared.primitives[p];
        const auto inSegment = [&](int32_t id) {
          return group[static_cast<size_t>(id)] == group[first];
        };
        const Backend* b = next.backends[p].empty() ? nullptr : registry.find(next.backends[p]);
        if (b &&
            (inSegment(q.outputs[0]) || std::any_of(q.inputs.begin(), q.inputs.end(), inSegment)))
          next.kernels[p] = b->descriptor().firstChoice(q, prepared.descs());
      }
      out.emplace_back(std::move(next), "layouts of tensor " + std::to_string(first) +
                                            "'s segment " + std::string(layoutName(now)) + " -> " +
                                            std::string(layoutName(to)));
    }
    return out;
  }
  if (prepared.primitives[i].kind() == PrimitiveKind::View) return out;
  const auto& descriptors = registry.descriptors();
  // A primitive in a fused chain runs in the chain's kernel: its own kernel changes nothing
  // until the chain is unfused (a move of its own, below).
  const bool inChain = plan.fused[i] || (i > 0 && plan.fused[i - 1]);
  // A raster the session skips (the plan weighs it free on every backend: search's
  // rasterElided) runs on none: its backend changes nothing either.
  const bool skipped = prepared.primitives[i].kind() == PrimitiveKind::Raster &&
                       std::all_of(weighed.options[i].begin(), weighed.options[i].end(),
                                   [](const search::PlanOption& o) { return o.seconds == 0; });
  for (const search::PlanOption& o : weighed.options[i]) {
    if (inChain || skipped || o.backend == search::kNoBackend || o.seconds * 1e3 > bestMs) continue;
    const std::string name(descriptors[static_cast<size_t>(o.backend)]->name());
    if (name == plan.backends[i] && o.choice == plan.kernels[i]) continue;
    bool tried = false; // the same kernel weighed with other layouts: one try
    for (const auto& [other, change] : out)
      tried = tried || (other.backends[i] == name && other.kernels[i] == o.choice);
    if (tried) continue;
    Plan next = plan;
    next.backends[i] = name;
    next.kernels[i] = o.choice;
    out.emplace_back(std::move(next),
                     plan.backends[i] + ":" + std::to_string(plan.kernels[i].id) + " -> " + o.name);
  }
  for (const search::ChainOption& chain : weighed.chains) {
    if (chain.first != i) continue;
    const size_t last = chain.first + chain.count - 1;
    bool fused = true;
    for (size_t j = chain.first; j < last; ++j)
      fused = fused && plan.fused[j];
    Plan next = plan;
    for (size_t j = chain.first; j < last; ++j)
      next.fused[j] = !fused;
    if (!fused) { // fused alone, not joined to a chain before or after it
      if (i > 0) next.fused[i - 1] = 0;
      next.fused[last] = 0;
    }
    out.emplace_back(std::move(next), (fused ? "unfused " : "fused ") + chain.name);
  }
  return out;
}

// Coordinate-wise search from `start` over the coordinates `moves` offers: keep a change that is
// more than 1% faster end to end than the current plan timed again, and go over the coordinates
// again until none is. A change whose plan cannot be prepared (a kernel that does not take the
// layouts, a segment a backend does not run blocked) is passed over. Returns the best plan;
// `evaluations` counts the plans timed.
Result<Plan> coordinateSearch(const Program& prepared, const search::ModelPlan& weighed, Plan start,
                              std::span<const int32_t> group, std::span<const size_t> segments,
                              const BackendRegistry& registry, const ModelCommand& c, int runs,
                              int* evaluations) {
  TESSEL_ASSIGN_OR_RETURN(double best, planMilliseconds(prepared, start, registry, c, runs));
  ++*evaluations;
  const size_t coordinates = prepared.primitives.size() + segments.size();
  for (bool improved = true; improved;) {
    improved = false;
    for (size_t i = 0; i < coordinates; ++i) {
      for (auto& [next, change] :
           moves(prepared, weighed, start, group, segments, registry, i, best)) {
        Plan ran;
        auto ms = planMilliseconds(prepared, next, registry, c, runs, &ran);
        if (!ms.isOk()) continue;
        ++*evaluations;
        if (*ms < best * 0.99) {
          // A change is kept only when it also beats the current plan timed again now: this
          // machine's speed drifts by 10-30% within minutes, which would otherwise pass for an
          // improvement. The current plan's time follows the drift.
          TESSEL_ASSIGN_OR_RETURN(const double again,
                                  planMilliseconds(prepared, start, registry, c, runs));
          ++*evaluations;
          if (*ms >= again * 0.99) {
            best = again;
            continue;
          }
          // Each change kept, so that a plan the search missed can be told apart from noise.
          const std::string where =
              i < prepared.primitives.size()
                  ? std::to_string(i) + " " +
                        std::string(primitiveName(prepared.primitives[i].kind())) + " '" +
                        prepared.primitives[i].origin + "': "
                  : std::string();
          std::printf("verify: %s%s: %.3f -> %.3f ms\n", where.c_str(), change.c_str(), best, *ms);
          best = *ms;
          start = std::move(ran);
          improved = true;
        }
      }
    }
  }
  return start;
}

// --verify: the search's plan against the best plans a measured coordinate-wise search finds
// from it and from first fit.
Status verifyPlan(const Session& session, const search::ModelPlan& weighed,
                  const BackendRegistry& registry, const ModelCommand& c, int runs) {
  const Program& prepared = session.program();
  Plan searched = planOf(session.preparedModel(), session.threads());
  Plan firstFit;
  {
    auto prog = std::make_shared<Program>(prepared);
    prog->backends.clear();
    prog->kernels.clear();
    LoadChoices load = c.load;
    load.search = PlanSearch::FirstFit;
    load.profile.clear();
    TESSEL_ASSIGN_OR_RETURN(
        auto model, PreparedModel::create(prog, registry,
                                          sessionOptions("", c.threads, load).prepareOptions()));
    firstFit = planOf(*model, session.threads());
  }
  // The layout segments (none where the layouts are plain by request).
  std::vector<int32_t> group(prepared.tensors.size(), -1);
  std::vector<size_t> segments;
  if (c.load.blockedLayouts) {
    group = search::layoutGroups(search::layoutRules(prepared.primitives, prepared.descs(),
                                                     prepared.pinned(), prepared.constants()),
                                 prepared.primitives);
    for (size_t id = 0; id < group.size(); ++id)
      if (group[id] >= 0 && std::find_if(segments.begin(), segments.end(), [&](size_t first) {
                              return group[first] == group[id];
                            }) == segments.end())
        segments.push_back(id);
  }
  int evaluations = 0;
  TESSEL_ASSIGN_OR_RETURN(Plan bestFromPlan,
                          coordinateSearch(prepared, weighed, searched, group, segments, registry,
                                           c, runs, &evaluations));
  TESSEL_ASSIGN_OR_RETURN(Plan bestFromFirstFit,
                          coordinateSearch(prepared, weighed, firstFit, group, segments, registry,
                                           c, runs, &evaluations));
  // The three plans timed again run by run in turn (each round in another order), 10 x `runs`
  // rounds: they meet the same moments of this machine, whose speed drifts by 2x within minutes
  // (a plan timed alone after another is not comparable). Each plan's minimum, and the median of
  // the search's plan's time over each best plan's in the same round (a ratio the drift between
  // rounds does not move, nor one lucky run).
  std::array<std::unique_ptr<Session>, 3> sessions;
  std::array<double, 3> least;
  least.fill(std::numeric_limits<double>::infinity());
  const std::array<const Plan*, 3> plans = {&searched, &bestFromPlan, &bestFromFirstFit};
  for (size_t k = 0; k < 3; ++k) {
    TESSEL_ASSIGN_OR_RETURN(sessions[k], planSession(prepared, *plans[k], registry, c));
    ++evaluations;
  }
  std::array<std::vector<double>, 2> ratios; // the plan over the best from it, from first fit
  for (int round = 0; round < 10 * runs; ++round) {
    std::array<double, 3> ms{};
    for (size_t k = 0; k < 3; ++k) {
      const size_t which = (k + static_cast<size_t>(round)) % 3;
      const auto t0 = Clock::now();
      TESSEL_RETURN_IF_ERROR(sessions[which]->run());
      ms[which] = msSince(t0);
      least[which] = std::min(least[which], ms[which]);
    }
    ratios[0].push_back(ms[0] / ms[1]);
    ratios[1].push_back(ms[0] / ms[2]);
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  const double plan = least[0], fromPlan = least[1], fromFirstFit = least[2];
  const double best = std::min(fromPlan, fromFirstFit);
  const double paired = std::max(median(ratios[0]), median(ratios[1]));
  std::printf("verify: the search's plan %.3f ms; coordinate-wise best %.3f ms (from it %.3f, "
              "from first fit %.3f); the plan at %.1f%% of the best; paired median %.1f%% (from "
              "it %.1f%%, from first fit %.1f%%); %zu layout segments; %d plans timed\n",
              plan, best, fromPlan, fromFirstFit, 100 * plan / best, 100 * paired,
              100 * median(ratios[0]), 100 * median(ratios[1]), segments.size(), evaluations);
  return Status::ok();
}

// An option's name with, where it reads or writes a blocked tensor, its input's and output's
// layouts.
std::string optionText(const search::PlanOption& o) {
  const bool plain =
      std::all_of(o.layouts.begin(), o.layouts.end(), [](Layout l) { return l == Layout::Plain; });
  if (plain) return o.name;
  return o.name + " [" + std::string(layoutName(o.layouts.front())) + " -> " +
         std::string(layoutName(o.layouts.back())) + "]";
}

} // namespace

// tessel search MODEL: plans MODEL with the cost model (PlanSearch::Model, search::planModel)
// and reports, per primitive, every kernel weighed with its predicted time and the choice, the
// chosen kernel's measured time (the minimum over --runs profiled runs after one warm-up run; a
// chain's time goes to its first primitive), then the totals predicted and measured and the size
// of the space.
int searchCommand(const std::vector<std::string>& argv) {
  auto c = parseModelCommand(
      argv, {"--runs"}, {"--json", "--report", "--verify"},
      "usage: tessel search MODEL [--search model|measure] [--profile FILE] [--verify] "
      "[--report] [--json] [--shape NAME=DIMS]... [--backends LIST] "
      "[--threads N] [--runs N] [--layouts auto|plain] [--chains auto|off|all] "
      "[--precision f32|f16] [--weight-budget N[KiB|MiB|GiB]]");
  if (!c) return 1;
  const Args& a = c->args;
  if (c->load.search == PlanSearch::FirstFit) {
    if (a.has("--search")) return fail("tessel search plans by cost: --search model or measure");
    c->load.search = PlanSearch::Model;
  }
  BackendRegistry registry;
  auto session = loadSession(*c, registry);
  if (!session.isOk()) return fail(session.status());
  auto runsArg = parseCount(a, "--runs", "5", 1, 1000000);
  if (!runsArg.isOk()) return fail(runsArg.status());
  const search::ModelPlan* plan = (*session)->preparedModel().searchPlan();
  if (!plan) return fail("the session has no search plan");
  // Measured: each step's minimum over the profiled runs, by primitive (copies apart).
  const Program& p = (*session)->program();
  std::vector<double> measured(p.primitives.size(), -1.0);
  double copySeconds = 0;
  std::vector<Session::StepTime> times;
  if (Status s = (*session)->run(); !s.isOk()) return fail(s); // warm: pipelines, caches
  for (int64_t r = 0; r < *runsArg; ++r) {
    if (Status s = (*session)->runProfiled(&times); !s.isOk()) return fail(s);
    double copies = 0;
    for (const Session::StepTime& t : times) {
      if (t.primitive < 0) {
        copies += t.seconds;
        continue;
      }
      double& m = measured[static_cast<size_t>(t.primitive)];
      m = m < 0 ? t.seconds : std::min(m, t.seconds);
    }
    copySeconds = r == 0 ? copies : std::min(copySeconds, copies);
  }
  // With a profile cache: each chosen kernel's step time, next to its time measured alone (a
  // fused chain's step is not one kernel's: left out), for the fits' session ratios.
  int sessionTimes = 0;
  const PreparedModel& prepared = (*session)->preparedModel();
  if (!c->load.profile.empty() && !prepared.profileKeys().empty()) {
    auto cache = ProfileCache::load(c->load.profile);
    if (!cache.isOk()) return fail(cache.status());
    for (size_t i = 0; i < p.primitives.size(); ++i)
      if (!prepared.profileKeys()[i].empty() && measured[i] > 0 &&
          prepared.chainHead(i) == static_cast<int32_t>(i) &&
          prepared.chainLast(i) == static_cast<int32_t>(i))
        sessionTimes +=
            cache->putSession(prepared.profileKeys()[i], measured[i], prepared.sessionClasses()[i])
                ? 1
                : 0;
    if (sessionTimes > 0)
      if (Status s = cache->save(c->load.profile); !s.isOk()) return fail(s);
  }
  double measuredTotal = copySeconds, space = 0;
  size_t weighed = 0;
  for (size_t i = 0; i < p.primitives.size(); ++i) {
    measuredTotal += std::max(measured[i], 0.0);
    space += std::log10(static_cast<double>(plan->options[i].size()));
    weighed += plan->options[i].size();
  }
  // Each chain fused or not doubles the plans (an upper bound where chains overlap).
  space += static_cast<double>(plan->chains.size()) * std::log10(2.0);
  weighed += plan->chains.size();
  const int threads = (*session)->threads();
  if (a.has("--json")) {
    std::printf("{\"model\": %s, \"threads\": %d, \"primitives\": %zu, \"candidates\": %zu, "
                "\"space_log10\": %.2f, \"exact\": %s, \"predicted_ms\": %.4f, "
                "\"predicted_copy_ms\": %.4f, \"copies_per_run\": %d, \"measured_ms\": %.4f, "
                "\"measured_copy_ms\": %.4f, \"measurements\": %d, \"cache_hits\": %d, "
                "\"chains_in_session\": %d, \"kernels_in_session\": %d, "
                "\"planning_ms\": %.3f, \"measuring_s\": %.3f, \"weight_bytes\": %lld, "
                "\"arena_bytes\": %lld, \"session_arena_bytes\": %lld, "
                "\"blocked_tensors\": %d, \"session_times\": %d, \"plan\": [",
                jsonText(a.positional[0]).c_str(), threads, p.primitives.size(), weighed, space,
                plan->exact ? "true" : "false", plan->predictedSeconds * 1e3,
                plan->predictedCopySeconds * 1e3, plan->copies, measuredTotal * 1e3,
                copySeconds * 1e3, plan->measurements, plan->cacheHits, plan->chainsInSession,
                plan->kernelsInSession, (plan->planningSeconds - plan->measuringSeconds) * 1e3,
                plan->measuringSeconds, static_cast<long long>(plan->weightBytes),
                static_cast<long long>(plan->arenaBytes),
                static_cast<long long>((*session)->arenaBytes()),
                (*session)->preparedModel().blockedTensorCount(), sessionTimes);
    for (size_t i = 0; i < p.primitives.size(); ++i) {
      const auto& options = plan->options[i];
      const auto& chosen = options[static_cast<size_t>(plan->chosen[i])];
      // The bytes it reads (constants aside) and writes, as the tensors are stored.
      const std::vector<TensorDesc>& descs = (*session)->preparedModel().descs();
      long long inputBytes = 0;
      for (int32_t id : p.primitives[i].inputs)
        if (!p.isConstant(id)) inputBytes += descs[static_cast<size_t>(id)].byteSize();
      std::printf("%s{\"index\": %zu, \"kind\": \"%s\", \"origin\": %s, \"chosen\": %s, "
                  "\"predicted_ms\": %.4f, \"measured_ms\": %.4f, \"input_bytes\": %lld, "
                  "\"output_bytes\": %lld, \"candidates\": [",
                  i ? ", " : "", i, std::string(primitiveName(p.primitives[i].kind())).c_str(),
                  jsonText(p.primitives[i].origin).c_str(), jsonText(optionText(chosen)).c_str(),
                  chosen.seconds * 1e3, std::max(measured[i], 0.0) * 1e3, inputBytes,
                  static_cast<long long>(
                      descs[static_cast<size_t>(p.primitives[i].outputs[0])].byteSize()));
      for (size_t k = 0; k < options.size(); ++k)
        std::printf("%s{\"name\": %s, \"predicted_ms\": %.4f, \"estimate_ms\": %.4f, "
                    "\"measured\": %s, \"in_session\": %s}",
                    k ? ", " : "", jsonText(optionText(options[k])).c_str(),
                    options[k].seconds * 1e3, options[k].estimate * 1e3,
                    options[k].measured ? "true" : "false",
                    options[k].inSession ? "true" : "false");
      std::printf("]}");
    }
    std::printf("], \"chains\": [");
    for (size_t k = 0; k < plan->chains.size(); ++k) {
      const search::ChainOption& ch = plan->chains[k];
      std::printf("%s{\"first\": %zu, \"count\": %zu, \"name\": %s, \"fused\": %s, "
                  "\"predicted_ms\": %.4f, \"estimate_ms\": %.4f, \"measured\": %s, "
                  "\"in_session\": %s, \"unfused_predicted_ms\": %.4f, "
                  "\"unfused_estimate_ms\": %.4f}",
                  k ? ", " : "", ch.first, ch.count, jsonText(ch.name).c_str(),
                  ch.fused ? "true" : "false", ch.seconds * 1e3, ch.estimate * 1e3,
                  ch.measured ? "true" : "false", ch.inSession ? "true" : "false",
                  ch.unfusedSeconds * 1e3, ch.unfusedEstimate * 1e3);
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("search %s: %d threads, %zu primitives, %zu candidates weighed, 10^%.1f plans%s\n",
              a.positional[0].c_str(), threads, p.primitives.size(), weighed, space,
              plan->exact ? "" : " (bounded: the best found, not proven best)");
  std::printf("planned in %.2f ms", (plan->planningSeconds - plan->measuringSeconds) * 1e3);
  if (c->load.search == PlanSearch::Measure)
    std::printf(", measuring %.2f s: candidates measured %d, from the profile cache %d, fused "
                "chains timed in sessions %d, kernel pairs timed in sessions %d",
                plan->measuringSeconds, plan->measurements, plan->cacheHits, plan->chainsInSession,
                plan->kernelsInSession);
  if (sessionTimes > 0) std::printf("; session times kept in the profile cache %d", sessionTimes);
  std::printf("\n");
  if (a.has("--report")) {
    std::printf("%5s %-12s %-34s %12s %12s  %s\n", "#", "primitive", "chosen", "predicted ms",
                "measured ms", "other candidates (predicted ms)");
    for (size_t i = 0; i < p.primitives.size(); ++i) {
      const auto& options = plan->options[i];
      const size_t pick = static_cast<size_t>(plan->chosen[i]);
      std::string others;
      for (size_t k = 0; k < options.size(); ++k)
        if (k != pick) {
          char ms[32];
          std::snprintf(ms, sizeof ms, " %.3f%s", options[k].seconds * 1e3,
                        options[k].inSession ? " (session)" : "");
          others += (others.empty() ? "" : ", ") + optionText(options[k]) + ms;
        }
      char meas[32] = "-";
      if (measured[i] >= 0) std::snprintf(meas, sizeof meas, "%.3f", measured[i] * 1e3);
      std::printf("%5zu %-12s %-34s %12.3f %12s  %s\n", i,
                  std::string(primitiveName(p.primitives[i].kind())).c_str(),
                  optionText(options[pick]).c_str(), options[pick].seconds * 1e3, meas,
                  others.c_str());
    }
    // The fused forms weighed: the chain's kernel against its primitives' own.
    for (const search::ChainOption& ch : plan->chains)
      std::printf("chain %zu..%zu %s: %s, %.3f ms%s against %.3f ms unfused\n", ch.first,
                  ch.first + ch.count - 1, ch.name.c_str(), ch.fused ? "fused" : "not fused",
                  ch.seconds * 1e3,
                  ch.inSession  ? " (its effect timed in a session)"
                  : ch.measured ? " measured"
                                : "",
                  ch.unfusedSeconds * 1e3);
  }
  std::printf("predicted %.3f ms (copies %.3f ms, %d a run); measured %.3f ms (copies %.3f ms); "
              "weights kept %.2f MiB; arena %.2f MiB (%.2f MiB in the session); %d tensors "
              "blocked\n",
              plan->predictedSeconds * 1e3, plan->predictedCopySeconds * 1e3, plan->copies,
              measuredTotal * 1e3, copySeconds * 1e3,
              static_cast<double>(plan->weightBytes) / 1048576.0,
              static_cast<double>(plan->arenaBytes) / 1048576.0,
              static_cast<double>((*session)->arenaBytes()) / 1048576.0,
              (*session)->preparedModel().blockedTensorCount());
  // The copies' prices: per device space, measured (from the profile cache) or nominal.
  for (const auto& [space, t] : plan->transfers)
    std::printf("copies to and from %s: %.1f us + %.2f GB/s\n", space.c_str(),
                t.latencySeconds * 1e6, t.bytesPerSecond / 1e9);
  // The reads past the caches that floor a streaming kernel's time, where measured.
  for (const auto& [space, rate] : plan->readRates)
    std::printf("reads from memory (%s): %.2f GB/s at %d threads\n", space.c_str(), rate / 1e9,
                (*session)->threads());
  if (c->load.search == PlanSearch::Measure) {
    // The cost model against the measurements: where two or more kernels were measured with
    // the primitive's tensors laid out as the plan lays them out, whether the one it estimates
    // fastest is within 10% of the fastest measured. (The layouts are the plan's choice, not
    // the primitive's: --verify checks them end to end.)
    int primitives = 0, close = 0;
    for (size_t i = 0; i < plan->options.size(); ++i) {
      const auto& options = plan->options[i];
      const std::vector<Layout>& laid = options[static_cast<size_t>(plan->chosen[i])].layouts;
      const search::PlanOption *guess = nullptr, *best = nullptr;
      int timed = 0;
      for (const search::PlanOption& o : options) {
        if (!o.measured || o.layouts != laid) continue;
        ++timed;
        if (!guess || o.estimate < guess->estimate) guess = &o;
        if (!best || o.seconds < best->seconds) best = &o;
      }
      if (timed < 2) continue;
      ++primitives;
      if (guess->seconds <= 1.1 * best->seconds) ++close;
    }
    // Chains: whether fusing by the estimates is within 10% of the faster measured form.
    int chains = 0, chainsClose = 0;
    for (const search::ChainOption& ch : plan->chains) {
      if (!ch.measured) continue;
      ++chains;
      const double guess = ch.estimate < ch.unfusedEstimate ? ch.seconds : ch.unfusedSeconds;
      if (guess <= 1.1 * std::min(ch.seconds, ch.unfusedSeconds)) ++chainsClose;
    }
    std::printf("cost model: its pick within 10%% of the measured best for %d of %d primitives "
                "with two or more candidates measured, %d of %d chains fused or not\n",
                close, primitives, chainsClose, chains);
  }
  std::printf("primitives by backend: %s\n", byBackendText(**session, false).c_str());
  if (a.has("--verify")) {
    if (Status s = verifyPlan(**session, *plan, registry, *c, static_cast<int>(*runsArg));
        !s.isOk())
      return fail(s);
  }
  return 0;
}

// tessel devices [--json]: each registered backend's device as the search sees it
// (DeviceProfile: the device and its key, caches, measured FMA peak and bandwidth), the backends
// this process cannot use with their reasons, and the targets it can plan for offline.
int devicesCommand(const std::vector<std::string>& argv) {
  const Args a = parse(argv, {}, {"--json"});
  if (!a.error.empty() || !a.positional.empty())
    return fail(a.error.empty() ? "usage: tessel devices [--json]" : a.error);
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  const bool json = a.has("--json");
  if (json) std::printf("{\"backends\": [");
  bool first = true;
  // A backend whose device cannot be made or measured here is listed with the unavailable ones.
  std::vector<std::pair<std::string, std::string>> unavailable = registry.unavailableBackends();
  for (const auto& backend : registry.all()) {
    auto p = profileDevice(*backend);
    if (!p.isOk()) {
      unavailable.emplace_back(std::string(backend->name()), p.status().message());
      continue;
    }
    if (json) {
      std::printf("%s{\"name\": %s, \"device\": %s, \"key\": %s, \"target\": %s, "
                  "\"space\": %s, \"threads\": %d, \"l1d_bytes\": %lld, \"l2_bytes\": %lld, "
                  "\"l3_bytes\": %lld, \"peak_gflops\": %.1f, \"bandwidth_gbps\": %.1f, "
                  "\"read_gbps\": %.1f}",
                  first ? "" : ", ", jsonText(p->backend).c_str(), jsonText(p->device).c_str(),
                  jsonText(p->key).c_str(), jsonText(p->target).c_str(), jsonText(p->space).c_str(),
                  p->threads, static_cast<long long>(p->l1dBytes),
                  static_cast<long long>(p->l2Bytes), static_cast<long long>(p->l3Bytes),
                  p->peakFlops / 1e9, p->bytesPerSecond / 1e9, p->readBytesPerSecond / 1e9);
    } else {
      std::printf("%s: %s (key %s)%s%s, memory space %s\n", p->backend.c_str(),
                  p->device.empty() ? "device not named" : p->device.c_str(), p->key.c_str(),
                  p->target.empty() ? "" : ", target ", p->target.c_str(), p->space.c_str());
      if (p->threads > 0)
        std::printf("  threads %d; caches L1d %lld KiB, L2 %lld KiB, L3 %lld KiB (as reported)\n",
                    p->threads, static_cast<long long>(p->l1dBytes >> 10),
                    static_cast<long long>(p->l2Bytes >> 10),
                    static_cast<long long>(p->l3Bytes >> 10));
      if (p->peakFlops > 0)
        std::printf("  fp32 FMA peak %.1f GFLOP/s a thread\n", p->peakFlops / 1e9);
      std::printf("  %s %.1f GB/s (one thread, best of 3)\n",
                  p->space == kHostSpace ? "copy" : "upload from the host",
                  p->bytesPerSecond / 1e9);
      if (p->readBytesPerSecond > 0)
        std::printf("  reads from memory %.1f GB/s (%d threads, as the search measures them)\n",
                    p->readBytesPerSecond / 1e9, p->threads);
    }
    first = false;
  }
  if (json) std::printf("], \"unavailable\": [");
  first = true;
  for (const auto& [name, why] : unavailable) {
    if (json)
      std::printf("%s{\"name\": %s, \"why\": %s}", first ? "" : ", ", jsonText(name).c_str(),
                  jsonText(why).c_str());
    else
      std::printf("%s: unavailable: %s\n", name.c_str(), why.c_str());
    first = false;
  }
  const std::vector<std::string> targets = registry.targetNames();
  if (json) {
    std::printf("], \"targets\": [");
    for (size_t i = 0; i < targets.size(); ++i)
      std::printf("%s%s", i ? ", " : "", jsonText(targets[i]).c_str());
    std::printf("]}\n");
  } else {
    std::string list;
    for (const std::string& t : targets)
      list += (list.empty() ? "" : ", ") + t;
    std::printf("targets for convert --target: %s\n", list.empty() ? "none" : list.c_str());
  }
  return 0;
}

} // namespace tessel::cli
