#include "tessel/runtime/prepared_model.h"

#include "plan_sessions.h"
#include "tessel/runtime/measure.h"
#include "tessel/runtime/profile_cache.h"
#include "tessel/runtime/split_fused.h"
#include "tessel/search/assign.h"
#include "tessel/search/layouts.h"
#include "tessel/search/memory.h"
#include "tessel/search/plan_model.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <sys/mman.h>
#include <unistd.h>

namespace tessel {

// Plans made again after timing chains and kernels in sessions: a plan whose kernels moved
// after all (a memory budget trading kernels against the arena a fused chain spares; a kernel a
// session decided) has chains and rivals of new keys.
constexpr int kSessionRounds = 2;
// Profiled runs of each of a session's two plans, in turn, per round.
constexpr int kSessionRuns = 5;
// A kernel whose closest rival's time alone is within this factor of its own is decided in a
// session (search::closeKernels).
constexpr double kCloseKernels = 1.10;

namespace {

// Groups, in program order, of the items whose `conflicts` with each other none has: an item
// joins the first group it conflicts with no member of.
std::vector<std::vector<size_t>>
disjointGroups(size_t count, const std::function<bool(size_t, size_t)>& conflicts) {
  std::vector<std::vector<size_t>> groups;
  for (size_t c = 0; c < count; ++c) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const std::vector<size_t>& group) {
      return std::none_of(group.begin(), group.end(),
                          [&](size_t other) { return conflicts(c, other); });
    });
    if (g == groups.end()) g = groups.insert(groups.end(), std::vector<size_t>{});
    g->push_back(c);
  }
  return groups;
}

} // namespace

Result<std::shared_ptr<const PreparedModel>>
PreparedModel::create(std::shared_ptr<const Program> program, const BackendRegistry& registry,
                      const PrepareOptions& options) {
  if (options.search != PlanSearch::Measure || options.chains != ChainMode::Auto ||
      !options.fused.empty()) {
    TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<PreparedModel> m,
                            build(std::move(program), registry, options, nullptr, nullptr));
    return std::shared_ptr<const PreparedModel>(std::move(m));
  }
  // Measured: the plan, then the chains it weighed and the kernels it chose close to a rival
  // whose session times the cache lacks, timed in sessions (those that meet no other together)
  // and kept there, then the plan again, which weighs them by those times
  // (ModelPlanRequest::chainEffect, kernelsInSession). A warm cache plans once and times nothing.
  ProfileCache cache;
  if (!options.profileCache.empty()) {
    TESSEL_ASSIGN_OR_RETURN(cache, ProfileCache::load(options.profileCache));
  }
  int changes = 0, measurements = 0, hits = -1, timedChains = 0, timedKernels = 0;
  double planning = 0, measuring = 0;
  std::shared_ptr<PreparedModel> m;
  for (int round = 0;; ++round) {
    TESSEL_ASSIGN_OR_RETURN(m, build(program, registry, options, &cache, &changes));
    const search::ModelPlan& plan = *m->searchPlan_;
    measurements += plan.measurements;
    hits = hits < 0 ? plan.cacheHits : hits; // what the cache held at the start
    planning += plan.planningSeconds;
    measuring += plan.measuringSeconds;
    std::vector<std::pair<size_t, size_t>> chains;
    std::vector<std::string> keys;
    for (size_t c = 0; c < plan.chains.size(); ++c)
      if (c < m->chainKeys_.size() && !m->chainKeys_[c].empty() &&
          std::find(keys.begin(), keys.end(), m->chainKeys_[c]) == keys.end()) { // once a key
        chains.emplace_back(plan.chains[c].first, plan.chains[c].count);
        keys.push_back(m->chainKeys_[c]);
      }
    const std::vector<KernelRival>& rivals = m->kernelRivals_;
    if ((chains.empty() && rivals.empty()) || round == kSessionRounds) break;
    const auto start = std::chrono::steady_clock::now();
    // Chains timed together overlap none of each other.
    for (const std::vector<size_t>&group : disjointGroups(chains.size(), [&](size_t a, size_t b) {
           return chains[a].first < chains[b].first + chains[b].second &&
                  chains[b].first < chains[a].first + chains[a].second;
         })) {
      std::vector<std::pair<size_t, size_t>> together;
      for (size_t c : group)
        together.push_back(chains[c]);
      TESSEL_ASSIGN_OR_RETURN(
          const std::vector<ProfileCache::SessionPair> times,
          detail::timeChainsInSession(*m, together, registry, options, kSessionRuns));
      for (size_t k = 0; k < times.size(); ++k)
        changes += cache.putChainSession(keys[group[k]], times[k]) ? 1 : 0;
    }
    timedChains += static_cast<int>(chains.size());
    // Kernels timed together: none reads another's output or shares a reader's step with it.
    std::vector<std::vector<size_t>> windows; // per rival: its primitive, then its readers' steps
    for (const KernelRival& r : rivals) {
      windows.push_back({r.primitive});
      for (size_t reader : search::outputReaders(m->program().primitives, r.primitive))
        windows.back().push_back(static_cast<size_t>(m->chainHead(reader)));
    }
    for (const std::vector<size_t>&group : disjointGroups(rivals.size(), [&](size_t a, size_t b) {
           return std::any_of(windows[a].begin(), windows[a].end(), [&](size_t step) {
             return std::find(windows[b].begin(), windows[b].end(), step) != windows[b].end();
           });
         })) {
      std::vector<detail::KernelSwap> swaps;
      for (size_t k : group)
        swaps.push_back({rivals[k].primitive, rivals[k].choice});
      TESSEL_ASSIGN_OR_RETURN(
          const std::vector<ProfileCache::SessionPair> times,
          detail::timeKernelsInSession(*m, swaps, registry, options, kSessionRuns));
      for (size_t k = 0; k < times.size(); ++k) {
        const KernelRival& r = rivals[group[k]];
        changes += cache.putKernelSession(r.chosenKey, r.rivalKey, times[k]) ? 1 : 0;
      }
    }
    timedKernels += static_cast<int>(rivals.size());
    const double spent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    planning += spent;
    measuring += spent;
  }
  search::ModelPlan& plan = *m->searchPlan_;
  plan.measurements = measurements;
  plan.cacheHits = hits;
  plan.chainsInSession = timedChains;
  plan.kernelsInSession = timedKernels;
  plan.planningSeconds = planning;
  plan.measuringSeconds = measuring;
  if (!options.profileCache.empty() && changes > 0)
    TESSEL_RETURN_IF_ERROR(cache.save(options.profileCache));
  return std::shared_ptr<const PreparedModel>(std::move(m));
}

Result<std::shared_ptr<PreparedModel>> PreparedModel::build(std::shared_ptr<const Program> program,
                                                            const BackendRegistry& registry,
                                                            const PrepareOptions& options,
                                                            ProfileCache* shared, int* changes) {
  const std::string& preferred = options.preferred;
  const Precision precision = options.precision;
  const std::string& profileCache = options.profileCache;
  PlanSearch search = options.search;
  if (options.weightBudget < 0)
    return invalidArgument("weight budget " + std::to_string(options.weightBudget) +
                           " is negative");
  if (options.memoryBudget < 0)
    return invalidArgument("memory budget " + std::to_string(options.memoryBudget) +
                           " is negative");
  if (options.weightBudget > 0 && search == PlanSearch::FirstFit)
    return invalidArgument("a weight budget is the search's: it needs the cost model or "
                           "measurement (PlanSearch::Model or Measure)");
  if (program->plansAtRunTime)
    return unsupported("the model plans at run time (its plan depends on input shapes or values "
                       "known only then): run it through a dynamic session (libtessel_graph, "
                       "docs/dynamic-shapes.md)");
  // Constants an earlier prepare of this program gave back are read again from its file first.
  if (program->constantSource) TESSEL_RETURN_IF_ERROR(program->constantSource->restore());
  std::shared_ptr<PreparedModel> m(new PreparedModel());
  m->threads_ = std::max(options.threads, 0);
  m->precision_ = precision;
  // Fused forms no registered backend runs become plain primitives.
  const std::vector<const BackendDescriptor*> descriptors = registry.descriptors();
  std::vector<bool> split(program->primitives.size(), false);
  bool anySplit = false;
  std::vector<TensorDesc> before = program->descs();
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
  m->descs_ = anySplit ? prog.descs() : std::move(before);
  if (!preferred.empty()) { // asked for by name: it must exist and have its device
    Backend* b = registry.find(preferred);
    if (!b) return registry.missing(preferred);
    if (auto d = b->device(); !d.isOk())
      return d.status().withContext("backend '" + preferred + "'");
  }
  m->constantStart_.reserve(prog.primitives.size());
  for (const Primitive& p : prog.primitives) {
    m->constantStart_.push_back(m->constants_.size());
    for (int32_t id : p.inputs)
      m->constants_.push_back(prog.tensors[id].data);
  }
  // A cost-model plan made for a target none of these backends has (another CPU family, say)
  // is made again here, by the cost model; a first-fit plan's kernels are the backends' own
  // first choices, which they make again when preparing.
  const TargetInfo& target = prog.target;
  std::string replanned;
  if (search == PlanSearch::FirstFit && preferred.empty() && !target.isa.empty() &&
      target.costModelVersion > 0 &&
      std::none_of(descriptors.begin(), descriptors.end(),
                   [&](const BackendDescriptor* d) { return d->target() == target.isa; })) {
    std::string here;
    for (const BackendDescriptor* d : descriptors)
      if (!d->target().empty() && here.empty()) here = std::string(d->target());
    replanned = ": the artifact was planned for " + target.isa + ", this machine runs " +
                (here.empty() ? std::string("no such target") : here);
    search = PlanSearch::Model;
  }
  const auto layOut = [&](const std::vector<Layout>& layouts) {
    m->blocked_ = 0;
    for (size_t id = 0; id < layouts.size(); ++id) {
      m->descs_[id].layout = layouts[id];
      m->blocked_ += layouts[id] != Layout::Plain;
    }
  };
  // Whether the tensors' layouts as they are now keep the layout rules.
  const auto keepRules = [&] {
    return search::checkLayouts(
        search::layoutRules(prog.primitives, m->descs_, prog.pinned(), prog.constants()),
        prog.primitives, m->descs_);
  };
  // An artifact whose plan chose its layouts and fused chains too (kGraphPlanVersion): kept with
  // its kernels, else set plain for this load's own choice. Its layouts are untrusted: they must
  // keep the rules, as a plan's would.
  bool artifactGraph = false;
  if (target.costModelVersion >= kGraphPlanVersion) {
    artifactGraph = search == PlanSearch::FirstFit && preferred.empty() && !prog.backends.empty() &&
                    options.blockedLayouts && options.layouts.empty();
    std::vector<Layout> layouts(m->descs_.size(), Layout::Plain);
    if (artifactGraph) {
      for (size_t id = 0; id < layouts.size(); ++id)
        layouts[id] = m->descs_[id].layout;
      TESSEL_RETURN_IF_ERROR(keepRules().withContext("the artifact's layouts"));
    }
    layOut(layouts);
  }
  // Whether the plan chooses the tensors' layouts: unless asked not to, given them, or the
  // artifact set them (all plain, in a plan that chose them).
  const bool chooseLayouts =
      options.blockedLayouts && options.layouts.empty() && !artifactGraph &&
      std::all_of(m->descs_.begin(), m->descs_.end(),
                  [](const TensorDesc& d) { return d.layout == Layout::Plain; });
  if (!options.layouts.empty()) { // a plan's layouts, given: they must keep the rules
    if (options.layouts.size() != prog.tensors.size())
      return invalidArgument("layouts: " + std::to_string(options.layouts.size()) +
                             " entries for " + std::to_string(prog.tensors.size()) + " tensors");
    layOut(options.layouts);
    TESSEL_RETURN_IF_ERROR(keepRules());
  }
  m->planSource_ = search == PlanSearch::Measure ? "measured"
                   : search == PlanSearch::Model ? "cost model" + replanned
                   : prog.backends.empty()       ? "first fit"
                                                 : "the artifact's";
  search::Assignment a;
  search::ModelPlanRequest request;
  request.primitives = prog.primitives;
  request.tensors = &m->descs_;
  request.descriptors = descriptors;
  request.preferred = preferred;
  request.threads = std::max(m->threads_, 1);
  request.weightBudget = options.weightBudget;
  request.memoryBudget = options.memoryBudget;
  request.layouts = chooseLayouts;
  request.inputs = prog.inputs;
  request.outputs = prog.outputs;
  request.constant = prog.constants();
  if (search == PlanSearch::Model || search == PlanSearch::Measure) {
    // The plan is for this machine: a backend whose device does not open here (a GPU backend
    // without its driver) takes nothing, and its copies are not measured.
    for (const BackendDescriptor* d : descriptors) {
      Backend* b = registry.find(d->name());
      request.usable.push_back(b && b->device().isOk());
    }
    // Measured times: from the profile cache (the caller's, else the file, when named), else
    // measured and added.
    ProfileCache own;
    if (!shared && !profileCache.empty()) {
      TESSEL_ASSIGN_OR_RETURN(own, ProfileCache::load(profileCache));
    }
    ProfileCache& cache = shared ? *shared : own;
    int measurements = 0, hits = 0, points = 0;
    const int threads = std::max(m->threads_, 1);
    // Kernels' lines fitted to the file's times on these devices: what an unmeasured candidate
    // is weighed at.
    const std::map<std::string, KernelFit> fits = cache.fits();
    // Each backend's deviceKey, made once (and named in the cache, for planning offline).
    std::map<const BackendDescriptor*, std::string> devices;
    const auto deviceOf = [&](const BackendDescriptor& d) -> const std::string& {
      auto it = devices.find(&d);
      if (it == devices.end()) {
        it = devices.emplace(&d, deviceKey(d)).first;
        cache.setDevice(d.name(), it->second);
      }
      return it->second;
    };
    if (!fits.empty())
      request.calibrate = [&](PrimitiveKind kind, const BackendDescriptor& d,
                              const KernelCandidate& k, double estimate) {
        return calibrated(fits, d.name(), deviceOf(d), k, threads, kind, estimate);
      };
    // A candidate's time from the cache (its fit point added where an older entry lacked it),
    // or one just measured, kept there; the plan weighs it as a session's step (the fits'
    // session ratio, ProfileCache::fits).
    const auto cached = [&](PrimitiveKind kind, const BackendDescriptor& d,
                            const KernelCandidate& k, const std::string& signature,
                            double estimate) -> std::optional<double> {
      const std::string key = profileKey(d, signature, k, threads);
      const std::optional<double> seconds = cache.find(key);
      if (!seconds) return std::nullopt;
      ++hits;
      if (cache.put(key, *seconds, kernelKey(d.name(), deviceOf(d), k, threads),
                    groupKey(d.name(), deviceOf(d), threads), estimate))
        ++points;
      return inSession(fits, d.name(), deviceOf(d), threads, kind, *seconds);
    };
    const auto kept = [&](PrimitiveKind kind, const BackendDescriptor& d, const KernelCandidate& k,
                          const std::string& signature, double estimate, double seconds) {
      ++measurements;
      cache.put(profileKey(d, signature, k, threads), seconds,
                kernelKey(d.name(), deviceOf(d), k, threads),
                groupKey(d.name(), deviceOf(d), threads), estimate);
      return inSession(fits, d.name(), deviceOf(d), threads, kind, seconds);
    };
    const auto backendOf = [&](const BackendDescriptor& d) -> Result<Backend*> {
      Backend* backend = registry.find(d.name());
      if (!backend) return internalError("no backend named '" + std::string(d.name()) + "'");
      return backend;
    };
    // Copies between the host and each device space at that device's measured rates: from the
    // cache, else (measuring) measured and kept; else the nominal model.
    int transfersMeasured = 0;
    for (size_t b = 0; b < descriptors.size(); ++b) {
      const BackendDescriptor* d = descriptors[b];
      const std::string space(d->memorySpace());
      if (space == kHostSpace || request.transfers.count(space) || !request.isUsable(b)) continue;
      std::optional<ProfileCache::Transfer> t = cache.transfer(deviceOf(*d));
      if (!t && search == PlanSearch::Measure) {
        TESSEL_ASSIGN_OR_RETURN(ProfileCache::Transfer measured,
                                measureTransfer(*registry.find(d->name())));
        cache.putTransfer(deviceOf(*d), measured);
        ++transfersMeasured;
        t = measured;
      }
      if (t) request.transfers[space] = {t->latencySeconds, t->bytesPerSecond};
    }
    // What the host reads from memory past its caches at this thread count, the floor under
    // the time of a kernel whose weights stream (BackendDescriptor::streamedBytes): from the
    // cache, else (measuring) measured and kept, under the first host backend's device key;
    // else no floor.
    int readsMeasured = 0;
    for (size_t b = 0; b < descriptors.size(); ++b) {
      if (descriptors[b]->memorySpace() != kHostSpace || !request.isUsable(b)) continue;
      std::optional<double> rate = cache.readRate(deviceOf(*descriptors[b]), threads);
      if (!rate && search == PlanSearch::Measure) {
        TESSEL_ASSIGN_OR_RETURN(rate,
                                measureReadRate(*registry.find(descriptors[b]->name()), threads));
        cache.putReadRate(deviceOf(*descriptors[b]), threads, *rate);
        ++readsMeasured;
      }
      if (rate) request.readRates[std::string(kHostSpace)] = *rate;
      break;
    }
    // Each primitive's signature per layout of its operands, made once: a variant's candidates
    // share it (made per candidate, the lookups of a cache's times took PP-OCR's load planning
    // from 4 to 9-10 ms).
    std::map<std::pair<size_t, std::vector<Layout>>, std::string> signatures;
    const auto signatureOf = [&](size_t i,
                                 const std::vector<TensorDesc>& tensors) -> const std::string& {
      const Primitive& p = prog.primitives[i];
      std::vector<Layout> layouts;
      for (int32_t id : p.inputs)
        layouts.push_back(tensors[static_cast<size_t>(id)].layout);
      layouts.push_back(tensors[static_cast<size_t>(p.outputs[0])].layout);
      auto [it, added] = signatures.try_emplace({i, std::move(layouts)});
      if (added) it->second = primitiveSignature(p, tensors, m->constantsOf(i));
      return it->second;
    };
    // A chain's key covers every primitive of the chain (tensors as they are now).
    const auto chainSignature = [&](size_t first, size_t count) {
      std::string signature;
      for (size_t j = first; j < first + count; ++j)
        signature += signatureOf(j, m->descs_);
      return signature;
    };
    if (search == PlanSearch::Measure) {
      // A primitive's candidates, those the cache lacks timed together (measurePrimitives).
      request.measure = [&](size_t i, std::span<const search::MeasureItem> items) {
        const Primitive& p = prog.primitives[i];
        std::vector<Result<double>> out(items.size(), Result<double>(0.0));
        std::vector<size_t> missing;
        std::vector<Backend*> backends;
        std::vector<MeasureRequest> requests;
        for (size_t k = 0; k < items.size(); ++k) {
          const search::MeasureItem& item = items[k];
          const std::string& signature = signatureOf(i, *item.tensors);
          if (auto s = cached(p.kind(), *item.backend, item.candidate, signature, item.estimate)) {
            out[k] = *s;
            continue;
          }
          Result<Backend*> backend = backendOf(*item.backend);
          if (!backend.isOk()) {
            out[k] = backend.status();
            continue;
          }
          MeasureRequest mr;
          mr.primitive = &p;
          mr.tensors = item.tensors;
          mr.constants = m->constantsOf(i);
          mr.choice = item.candidate.choice;
          mr.threads = threads;
          mr.precision = precision;
          missing.push_back(k);
          backends.push_back(*backend);
          requests.push_back(mr);
        }
        std::vector<Result<double>> measured = measurePrimitives(backends, requests);
        for (size_t j = 0; j < missing.size(); ++j) {
          const search::MeasureItem& item = items[missing[j]];
          out[missing[j]] =
              measured[j].isOk()
                  ? Result<double>(kept(p.kind(), *item.backend, item.candidate,
                                        signatureOf(i, *item.tensors), item.estimate, *measured[j]))
                  : Result<double>(measured[j].status());
        }
        return out;
      };
      // A chain's fused kernel.
      request.measureChain = [&](size_t first, size_t count, const BackendDescriptor& d,
                                 const KernelCandidate& k, double estimate) -> Result<double> {
        ChainMeasureRequest mr;
        mr.primitives = std::span<const Primitive>(prog.primitives).subspan(first, count);
        mr.tensors = &m->descs_;
        mr.threads = threads;
        mr.precision = precision;
        for (size_t j = first; j < first + count; ++j)
          mr.constants.push_back(m->constantsOf(j));
        const PrimitiveKind kind = prog.primitives[first].kind();
        const std::string signature = chainSignature(first, count);
        if (auto s = cached(kind, d, k, signature, estimate)) return *s;
        TESSEL_ASSIGN_OR_RETURN(Backend * backend, backendOf(d));
        TESSEL_ASSIGN_OR_RETURN(const double seconds, measureChain(*backend, mr));
        return kept(kind, d, k, signature, estimate, seconds);
      };
    } else if (!profileCache.empty()) {
      // The cost model with a device's cache: the times it holds for these candidates (on this
      // device) stand in for their estimates, as a session's steps; nothing is measured.
      const auto held = [&](PrimitiveKind kind, const BackendDescriptor& d,
                            const KernelCandidate& k,
                            const std::string& signature) -> std::optional<double> {
        const std::optional<double> seconds = cache.find(profileKey(d, signature, k, threads));
        if (!seconds) return std::nullopt;
        ++hits;
        return inSession(fits, d.name(), deviceOf(d), threads, kind, *seconds);
      };
      request.known = [&, held](size_t i, const std::vector<TensorDesc>& tensors,
                                const BackendDescriptor& d, const KernelCandidate& k) {
        return held(prog.primitives[i].kind(), d, k, signatureOf(i, tensors));
      };
      request.knownChain = [&, held](size_t first, size_t count, const BackendDescriptor& d,
                                     const KernelCandidate& k) {
        return held(prog.primitives[first].kind(), d, k, chainSignature(first, count));
      };
    }
    // A fused chain's key among the cache's chain times: its fused kernel's, with the kernels
    // that read its output in the assignment `a` (tensors as they are now).
    const auto chainKey = [&](size_t first, size_t count, const BackendDescriptor& d,
                              const KernelCandidate& k, const search::Assignment& a) {
      return chainSessionKey(profileKey(d, chainSignature(first, count), k, threads),
                             prog.primitives, first + count - 1, a, descriptors,
                             [&](size_t r) { return signatureOf(r, m->descs_); });
    };
    request.chainEffect = [&](size_t first, size_t count, const BackendDescriptor& d,
                              const KernelCandidate& k,
                              const search::Assignment& a) -> std::optional<double> {
      const auto times = cache.chainSession(chainKey(first, count, d, k, a));
      if (!times) return std::nullopt;
      return times->first - times->second;
    };
    // Two kernels of a primitive timed against each other in a session.
    if (cache.kernelSessions() > 0)
      request.kernelsInSession =
          [&](size_t i, const std::vector<TensorDesc>& tensors, const BackendDescriptor& d,
              const KernelCandidate& a,
              const KernelCandidate& b) -> std::optional<std::pair<double, double>> {
        const std::string& signature = signatureOf(i, tensors);
        const auto times = cache.kernelSession(profileKey(d, signature, a, threads),
                                               profileKey(d, signature, b, threads));
        if (!times) return std::nullopt;
        return std::pair{times->first, times->second};
      };
    // The plan, the layouts it chose, then each primitive's kernel again for the tensors as laid
    // out (the times are those the plan weighed, so the choice stands; a kernel the backend
    // itself estimates best becomes its first choice, which it makes when prepared), the fused
    // forms against those kernels as the plan weighs them, all within the memory budgets.
    const auto chains = [&](search::ModelPlan* plan) -> Status {
      if (options.chains == ChainMode::Off || !options.fused.empty()) return Status::ok();
      TESSEL_ASSIGN_OR_RETURN(plan->chains, search::pickChains(request, plan, &plan->assignment,
                                                               options.chains == ChainMode::All));
      for (const search::ChainOption& c : plan->chains)
        if (c.fused) plan->predictedSeconds += c.seconds - c.unfusedSeconds;
      return Status::ok();
    };
    TESSEL_ASSIGN_OR_RETURN(search::ModelPlan plan,
                            search::planWithinBudgets(request, layOut, chains));
    // An option's candidate, as its backend named it.
    const auto candidateOf = [&](const search::PlanOption& o, const BackendDescriptor& d) {
      return KernelCandidate{o.choice, o.name.substr(std::min(o.name.size(), d.name().size() + 1))};
    };
    // With a profile cache: each chosen kernel's key there, for its time as a session's step
    // (PreparedModel::profileKeys).
    if (!profileCache.empty()) {
      m->profileKeys_.assign(prog.primitives.size(), std::string());
      m->sessionClasses_.assign(prog.primitives.size(), std::string());
      for (size_t i = 0; i < prog.primitives.size(); ++i) {
        const search::PlanOption& o = plan.options[i][static_cast<size_t>(plan.chosen[i])];
        if (o.backend == search::kNoBackend) continue;
        const BackendDescriptor& d = *descriptors[static_cast<size_t>(o.backend)];
        m->profileKeys_[i] = profileKey(d, signatureOf(i, m->descs_), candidateOf(o, d), threads);
        m->sessionClasses_[i] =
            sessionClassKey(d.name(), deviceOf(d), threads, prog.primitives[i].kind());
      }
    }
    // Measuring: the chains weighed without session times, for create to time there.
    if (search == PlanSearch::Measure) {
      m->chainKeys_.assign(plan.chains.size(), std::string());
      for (size_t c = 0; c < plan.chains.size(); ++c) {
        const search::ChainOption& o = plan.chains[c];
        if (o.inSession) continue;
        const BackendDescriptor& d = *descriptors[static_cast<size_t>(o.backend)];
        std::vector<const Primitive*> chain;
        for (size_t j = o.first; j < o.first + o.count; ++j)
          chain.push_back(&prog.primitives[j]);
        if (std::optional<KernelCandidate> k = d.chainCandidate(chain, m->descs_))
          m->chainKeys_[c] = chainKey(o.first, o.count, d, *k, plan.assignment);
      }
      // And the kernels chosen close to a rival, with no session times against it (a pair of
      // one key once: primitives alike share it).
      m->kernelRivals_.clear();
      for (const search::CloseKernels& c : search::closeKernels(plan, kCloseKernels)) {
        const std::vector<search::PlanOption>& options = plan.options[c.primitive];
        const search::PlanOption& o = options[static_cast<size_t>(plan.chosen[c.primitive])];
        const search::PlanOption& rival = options[static_cast<size_t>(c.rival)];
        const BackendDescriptor& d = *descriptors[static_cast<size_t>(o.backend)];
        const std::string& signature = signatureOf(c.primitive, m->descs_);
        KernelRival r{c.primitive, rival.choice,
                      profileKey(d, signature, candidateOf(o, d), threads),
                      profileKey(d, signature, candidateOf(rival, d), threads)};
        const bool listed = std::any_of(
            m->kernelRivals_.begin(), m->kernelRivals_.end(), [&](const KernelRival& k) {
              return std::minmax(k.chosenKey, k.rivalKey) == std::minmax(r.chosenKey, r.rivalKey);
            });
        if (!listed && !cache.kernelSession(r.chosenKey, r.rivalKey))
          m->kernelRivals_.push_back(std::move(r));
      }
    }
    plan.measurements = measurements;
    plan.cacheHits = hits;
    const int added = measurements + points + transfersMeasured + readsMeasured;
    if (changes) *changes += added;
    if (!shared && !profileCache.empty() && added > 0)
      TESSEL_RETURN_IF_ERROR(cache.save(profileCache));
    a = plan.assignment;
    m->searchPlan_ = std::make_unique<search::ModelPlan>(std::move(plan));
  } else {
    search::AssignRequest assign;
    assign.primitives = prog.primitives;
    assign.tensors = &m->descs_;
    assign.descriptors = descriptors;
    assign.preferred = preferred;
    assign.planned = prog.backends;
    assign.plannedKernels = prog.kernels;
    TESSEL_ASSIGN_OR_RETURN(a, search::assignBackends(assign));
    if (chooseLayouts) {
      TESSEL_ASSIGN_OR_RETURN(const std::vector<Layout> layouts, search::planLayouts(request, a));
      layOut(layouts);
    }
    // The fused forms: the artifact's where its plan chose them (filtered below, as given ones
    // are), else by the backends' estimates for the layouts chosen here.
    if (artifactGraph && options.chains == ChainMode::Auto && options.fused.empty()) {
      a.fused = prog.fused;
      a.fused.resize(prog.primitives.size(), 0);
    } else if (options.chains != ChainMode::Off && options.fused.empty()) {
      TESSEL_RETURN_IF_ERROR(
          search::pickChains(request, nullptr, &a, options.chains == ChainMode::All).status());
    }
  }
  if (!options.layouts.empty()) {
    for (size_t i = 0; i < prog.primitives.size(); ++i)
      if (a.backend[i] != search::kNoBackend &&
          !descriptors[static_cast<size_t>(a.backend[i])]->supports(prog.primitives[i], m->descs_))
        return invalidArgument(std::string(primitiveName(prog.primitives[i].kind())) + " '" +
                               prog.primitives[i].origin +
                               "': " + std::string(descriptors[a.backend[i]]->name()) +
                               " does not run it with the layouts given");
  }
  if (!options.fused.empty()) {
    if (options.fused.size() != prog.primitives.size())
      return invalidArgument("fused: " + std::to_string(options.fused.size()) + " entries for " +
                             std::to_string(prog.primitives.size()) + " primitives");
    a.fused = options.fused;
  }
  if (!options.fused.empty() || artifactGraph) {
    // Only what a backend could fuse, in chains of at most kMaxChain primitives.
    size_t run = 1;
    for (size_t i = 0; i < a.fused.size(); ++i) {
      if (a.fused[i] && (run >= search::kMaxChain || !search::chainable(request, a, i)))
        a.fused[i] = 0;
      run = a.fused[i] ? run + 1 : 1;
    }
  }

  m->steps_.resize(prog.primitives.size());
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    Bound& bound = m->steps_[i];
    bound.head = bound.last = static_cast<int32_t>(i);
    if (a.backend[i] == search::kNoBackend) continue; // a view reads its input's bytes in place
    bound.backend = registry.all()[a.backend[i]].get();
    bound.choice = a.kernel[i];
    auto device = bound.backend->device();
    if (!device.isOk()) return device.status().withContext(m->where(i));
    bound.device = std::move(device).value();
  }
  ConstantRelease release;
  release.plan(prog);
  for (size_t i = 0; i < prog.primitives.size(); ++i) {
    Bound& bound = m->steps_[i];
    if (!bound.backend) {
      release.prepared(prog, i, nullptr);
      continue;
    }
    if (i < a.fused.size() && a.fused[i]) {
      auto last = static_cast<int32_t>(i);
      while (static_cast<size_t>(last) < a.fused.size() && a.fused[last])
        ++last;
      auto chain = m->prepareChain(i, last);
      if (!chain.isOk()) return chain.status().withContext(m->where(i));
      if (*chain) {
        bound.kernel = std::move(chain).value();
        bound.last = last;
        ++m->chains_;
        int next = 0; // the chain kernel's input index of each primitive's inputs
        for (auto j = static_cast<int32_t>(i); j <= last; ++j) {
          m->steps_[j].head = static_cast<int32_t>(i);
          std::vector<int> input;
          for (size_t k = 0; k < prog.primitives[j].inputs.size(); ++k)
            input.push_back(j > static_cast<int32_t>(i) && k == 0 ? -1 : next++);
          release.prepared(prog, j, bound.kernel.get(), input);
        }
        i = static_cast<size_t>(last);
        continue;
      }
    }
    auto kernel = bound.backend->prepare(m->prepareArgs(i), *bound.device);
    if (!kernel.isOk()) return kernel.status().withContext(m->where(i));
    bound.kernel = std::move(kernel).value();
    release.prepared(prog, i, bound.kernel.get());
  }
  return m;
}

PrepareArgs PreparedModel::prepareArgs(size_t i) const {
  const Primitive& p = program_->primitives[i];
  PrepareArgs args;
  args.primitive = &p;
  args.tensors = &descs_;
  args.choice = steps_[i].choice;
  args.threads = threads_;
  args.precision = precision_;
  args.constants = constantsOf(i);
  return args;
}

std::string PreparedModel::where(size_t i) const {
  const Primitive& p = program_->primitives[i];
  return std::string(primitiveName(p.kind())) + " '" + p.origin + "' on " +
         std::string(steps_[i].backend->name());
}

// The fused kernel of the chain first..last the plan fuses (search::pickChains); null when the
// backend declines it after all (the primitives then run alone).
Result<std::unique_ptr<PreparedKernel>> PreparedModel::prepareChain(size_t first,
                                                                    int32_t last) const {
  std::vector<PrepareArgs> chain;
  for (auto j = static_cast<int32_t>(first); j <= last; ++j)
    chain.push_back(prepareArgs(static_cast<size_t>(j)));
  const Bound& head = steps_[first];
  return head.backend->prepareChain(chain, *head.device);
}

std::vector<int32_t> PreparedModel::stepInputs(size_t head) const {
  std::vector<int32_t> inputs;
  for (auto j = static_cast<int32_t>(head); j <= chainLast(head); ++j) {
    const std::vector<int32_t>& in = program_->primitives[j].inputs;
    inputs.insert(inputs.end(), in.begin() + (j > static_cast<int32_t>(head) ? 1 : 0), in.end());
  }
  return inputs;
}

// Constants whose every reader keeps its own copy (packed weights) release their mapped pages
// as soon as their last reader is prepared, so the raw and packed weights are not resident at
// once.
void PreparedModel::ConstantRelease::plan(const Program& prog) {
  enabled = prog.constantSource != nullptr;
  lastUse.assign(prog.tensors.size(), -1);
  stillRead.assign(prog.tensors.size(), false);
  for (size_t i = 0; i < prog.primitives.size(); ++i)
    for (int32_t id : prog.primitives[i].inputs)
      if (prog.tensors[id].data) lastUse[id] = static_cast<int64_t>(i);
  for (int32_t id : prog.outputs)
    stillRead[id] = true;
}

void PreparedModel::ConstantRelease::prepared(const Program& prog, size_t i,
                                              const PreparedKernel* kernel,
                                              const std::vector<int>& input) {
  if (!enabled) return;
  const Primitive& p = prog.primitives[i];
  for (size_t k = 0; k < p.inputs.size(); ++k) {
    const int32_t id = p.inputs[k];
    if (!prog.tensors[id].data) continue;
    const size_t at = input.empty() ? k : static_cast<size_t>(input[k]);
    if (!kernel || kernel->readsConstant(at)) stillRead[id] = true;
    if (lastUse[id] == static_cast<int64_t>(i) && !stillRead[id]) {
      prog.constantSource->release(prog.tensors[id].data, prog.tensors[id].desc.byteSize());
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
