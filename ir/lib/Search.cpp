// tessel-search: the plan of @main's primitives (search/, the planners the runtime uses), for
// this machine's backends or a named target, written as attributes for tessel-emit.
#include "ModuleProgram.h"
#include "mlir/IR/Builders.h"
#include "tessel/runtime/profile_cache.h"
#include "tessel/search/assign.h"
#include "tessel/search/memory.h"
#include "tessel/search/plan_model.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <map>

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELSEARCH
#include "tessel/ir/Passes.h.inc"

namespace {

struct TesselSearch : impl::TesselSearchBase<TesselSearch> {
  using Base::Base;
  void runOnOperation() override {
    if (search != "off" && search != "model") {
      getOperation().emitError("tessel-search: search expects off or model, got '" + search +
                               "' (measure runs kernels: it is the runtime's, at load)");
      return signalPassFailure();
    }
    PlanOptions o;
    llvm::SmallVector<llvm::StringRef> names;
    llvm::SplitString(backend, names, ",");
    o.backends.assign(names.begin(), names.end());
    o.costModel = search == "model";
    o.target = target;
    o.threads = threads;
    o.profile = profile;
    o.weightBudget = weightBudget;
    o.memoryBudget = memoryBudget;
    if (Status s = planModule(getOperation(), o); !s.isOk()) {
      getOperation().emitError(s.message());
      signalPassFailure();
    }
  }
};

} // namespace

// The descriptors a plan for `o` weighs, and the target's name ("" when none of them has one).
static Result<std::vector<const BackendDescriptor*>>
planDescriptors(const BackendRegistry& registry, const PlanOptions& o, std::string* targetName) {
  std::vector<const BackendDescriptor*> all;
  if (o.target.empty() || o.target == "host") {
    all = registry.descriptors();
  } else {
    all = registry.target(o.target);
    if (all.empty()) {
      std::string known = "host";
      for (const std::string& name : registry.targetNames())
        known += ", " + name;
      return invalidArgument("no target named '" + o.target + "' (known: " + known + ")");
    }
    // With the target's own backends, this build's host backends that have no variants (the
    // reference backend): what the target's devices run too.
    for (const BackendDescriptor* d : registry.descriptors())
      if (d->target().empty() && d->memorySpace() == kHostSpace) all.push_back(d);
  }
  std::vector<const BackendDescriptor*> chosen;
  for (const std::string& name : o.backends) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const BackendDescriptor* d) { return d->name() == name; });
    if (it == all.end())
      return invalidArgument("no backend named '" + name + "'" +
                             (o.target == "host" ? "" : " for target '" + o.target + "'"));
    chosen.push_back(*it);
  }
  if (o.backends.empty()) chosen = all;
  targetName->clear();
  for (const BackendDescriptor* d : chosen)
    if (!d->target().empty()) {
      *targetName = std::string(d->target());
      break;
    }
  return chosen;
}

Status planProgram(Program& prog, const PlanOptions& o) {
  if (o.threads < 1 || o.threads > 1024)
    return invalidArgument("threads must be 1 to 1024, got " + std::to_string(o.threads));
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  std::string targetName;
  TESSEL_ASSIGN_OR_RETURN(std::vector<const BackendDescriptor*> descriptors,
                          planDescriptors(registry, o, &targetName));
  std::vector<TensorDesc> descs = prog.descs();
  const std::string listed =
      o.backends.empty() ? std::string("(all)") : llvm::join(o.backends, ",");
  Result<search::Assignment> assigned = search::Assignment{};
  if (o.costModel) {
    search::ModelPlanRequest model;
    model.primitives = prog.primitives;
    model.tensors = &descs;
    model.descriptors = descriptors;
    model.inputs = prog.inputs;
    model.outputs = prog.outputs;
    model.threads = o.threads;
    model.weightBudget = o.weightBudget;
    model.memoryBudget = o.memoryBudget;
    model.layouts = true;
    model.constant = prog.constants();
    // A device's measured times, offline: each kernel's fit under the device the file names for
    // its backend (else this machine's).
    ProfileCache cache;
    if (!o.profile.empty()) {
      TESSEL_ASSIGN_OR_RETURN(cache, ProfileCache::load(o.profile));
    }
    const std::map<std::string, KernelFit> fits = cache.fits();
    // The device a backend's entries are filed under: the one the file names for it, else this
    // machine's.
    const auto deviceOf = [&](const BackendDescriptor& d) {
      std::string device = cache.device(d.name());
      return device.empty() ? deviceKey(d) : device;
    };
    // Copies at the rates the file measured for each device (else the nominal model), and the
    // host's reads past its caches at the plan's thread count (else no floor).
    for (const BackendDescriptor* d : descriptors) {
      const std::string device = deviceOf(*d);
      if (d->memorySpace() == kHostSpace) {
        if (auto rate = cache.readRate(device, o.threads))
          model.readRates.try_emplace(std::string(kHostSpace), *rate);
        continue;
      }
      if (auto t = cache.transfer(device))
        model.transfers.try_emplace(std::string(d->memorySpace()),
                                    search::TransferModel{t->latencySeconds, t->bytesPerSecond});
    }
    if (!fits.empty())
      model.calibrate = [&](PrimitiveKind kind, const BackendDescriptor& d,
                            const KernelCandidate& k, double estimate) {
        return calibrated(fits, d.name(), deviceOf(d), k, o.threads, kind, estimate);
      };
    // The times the file holds for these candidates (measured on its device at these threads:
    // the keys name the device and the thread count), as the session's steps, in place of their
    // estimates; with every candidate's, the plan is the one measured there.
    if (cache.size() > 0) {
      const auto held = [&](PrimitiveKind kind, const BackendDescriptor& d,
                            const KernelCandidate& k,
                            const std::string& signature) -> std::optional<double> {
        const std::optional<double> seconds = cache.find(profileKey(d, signature, k, o.threads));
        if (!seconds) return std::nullopt;
        return inSession(fits, d.name(), deviceOf(d), o.threads, kind, *seconds);
      };
      model.known = [&, held](size_t i, const std::vector<TensorDesc>& tensors,
                              const BackendDescriptor& d, const KernelCandidate& k) {
        const Primitive& p = prog.primitives[i];
        return held(p.kind(), d, k, primitiveSignature(p, tensors, model.constant));
      };
      const auto chainSignature = [&](size_t first, size_t count) {
        std::string signature;
        for (size_t j = first; j < first + count; ++j)
          signature += primitiveSignature(prog.primitives[j], descs, model.constant);
        return signature;
      };
      model.knownChain = [&, held, chainSignature](size_t first, size_t count,
                                                   const BackendDescriptor& d,
                                                   const KernelCandidate& k) {
        return held(prog.primitives[first].kind(), d, k, chainSignature(first, count));
      };
      // A fused chain's times in a session on that device, where the file has them: the plan
      // weighs the chain by them, as the measured plan there did.
      model.chainEffect = [&,
                           chainSignature](size_t first, size_t count, const BackendDescriptor& d,
                                           const KernelCandidate& k,
                                           const search::Assignment& a) -> std::optional<double> {
        const auto times = cache.chainSession(
            chainSessionKey(profileKey(d, chainSignature(first, count), k, o.threads),
                            prog.primitives, first + count - 1, a, descriptors, [&](size_t r) {
                              return primitiveSignature(prog.primitives[r], descs, model.constant);
                            }));
        if (!times) return std::nullopt;
        return times->first - times->second;
      };
      // Two kernels of a primitive timed against each other in a session there, where the file
      // has them: the plan weighs them apart by those times, as the measured plan there did.
      if (cache.kernelSessions() > 0)
        model.kernelsInSession =
            [&](size_t i, const std::vector<TensorDesc>& tensors, const BackendDescriptor& d,
                const KernelCandidate& a,
                const KernelCandidate& b) -> std::optional<std::pair<double, double>> {
          const std::string signature =
              primitiveSignature(prog.primitives[i], tensors, model.constant);
          const auto times = cache.kernelSession(profileKey(d, signature, a, o.threads),
                                                 profileKey(d, signature, b, o.threads));
          if (!times) return std::nullopt;
          return std::pair{times->first, times->second};
        };
    }
    // The kernels are picked for the layouts the plan chose, within the budgets, then the fused
    // forms for those kernels; the artifact carries all three (the runtime keeps them on this
    // target).
    auto plan = search::planWithinBudgets(
        model,
        [&](const std::vector<Layout>& layouts) {
          for (size_t id = 0; id < descs.size(); ++id)
            descs[id].layout = layouts[id];
        },
        [&](search::ModelPlan* p) {
          return search::pickChains(model, p, &p->assignment, false).status();
        });
    if (plan.isOk()) {
      prog.target.block = 0;
      for (size_t id = 0; id < descs.size(); ++id) {
        prog.tensors[id].desc.layout = descs[id].layout;
        if (descs[id].layout != Layout::Plain)
          prog.target.block = static_cast<int32_t>(layoutBlock(descs[id].layout));
      }
      prog.fused = plan->assignment.fused;
      prog.fused.resize(prog.primitives.size(), 0);
    }
    assigned = plan.isOk() ? Result<search::Assignment>(std::move(plan->assignment))
                           : Result<search::Assignment>(plan.status());
  } else {
    search::AssignRequest request;
    request.primitives = prog.primitives;
    request.tensors = &descs;
    request.descriptors = descriptors;
    assigned = search::assignBackends(request);
  }
  if (!assigned.isOk())
    return assigned.status().withContext("with backends " + listed +
                                         (o.target == "host" ? "" : " for " + o.target));
  prog.backends.clear();
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    const int b = assigned->backend[i];
    prog.backends.push_back(b == search::kNoBackend ? std::string()
                                                    : std::string(descriptors[b]->name()));
  }
  prog.kernels = assigned->kernel;
  prog.target.isa = targetName;
  prog.target.threads = o.threads;
  prog.target.costModelVersion = o.costModel ? kCostModelVersion : 0;
  return Status::ok();
}

Status planModule(mlir::ModuleOp module, const PlanOptions& o) {
  TESSEL_ASSIGN_OR_RETURN(ModuleProgram mp, programOf(module));
  TESSEL_RETURN_IF_ERROR(planProgram(mp.program, o));
  mlir::Builder b(module.getContext());
  for (size_t i = 0; i < mp.ops.size(); ++i) {
    const KernelChoice& k = mp.program.kernels[i];
    std::vector<int64_t> kernel = {static_cast<int64_t>(k.id)};
    kernel.insert(kernel.end(), k.params.begin(), k.params.end());
    mp.ops[i]->setAttr(kBackendAttr, b.getStringAttr(mp.program.backends[i]));
    mp.ops[i]->setAttr(kKernelAttr, b.getDenseI64ArrayAttr(kernel));
    const Layout layout = mp.program.tensors[mp.program.primitives[i].outputs[0]].desc.layout;
    if (layout != Layout::Plain)
      mp.ops[i]->setAttr(kLayoutAttr, b.getStringAttr(std::string(layoutName(layout))));
    if (i < mp.program.fused.size() && mp.program.fused[i])
      mp.ops[i]->setAttr(kFusedAttr, b.getUnitAttr());
  }
  const TargetInfo& t = mp.program.target;
  module->setAttr(
      kTargetAttr,
      b.getDictionaryAttr({b.getNamedAttr("block", b.getI64IntegerAttr(t.block)),
                           b.getNamedAttr("cost_model", b.getI64IntegerAttr(t.costModelVersion)),
                           b.getNamedAttr("name", b.getStringAttr(t.isa)),
                           b.getNamedAttr("threads", b.getI64IntegerAttr(t.threads))}));
  return Status::ok();
}

} // namespace tessel::ir
