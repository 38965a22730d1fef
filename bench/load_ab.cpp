// Two load-time choices of one artifact timed run by run in one process, alternating, so both
// see the same machine (this one is shared: a neighbour moves a model's time by 30% within a
// minute, which separate runs cannot tell from a change): the minimum and median of each, and
// the median of the paired ratios B / A.
// Usage: tessel_load_ab MODEL.tsl CHOICE CHOICE [THREADS] [RUNS]
//   CHOICE: default | chains-off | chains-all | plain-layouts | OTHER.tsl (another artifact of
//   the same model, say one converted with another profile cache, loaded with the defaults)
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace tessel;

namespace {

int fail(const std::string& why) {
  std::fprintf(stderr, "tessel_load_ab: %s\n", why.c_str());
  return 1;
}

bool optionsFor(const char* choice, SessionOptions* o) {
  if (std::strcmp(choice, "chains-off") == 0)
    o->chains = tessel::ChainMode::Off;
  else if (std::strcmp(choice, "chains-all") == 0)
    o->chains = tessel::ChainMode::All;
  else if (std::strcmp(choice, "plain-layouts") == 0)
    o->blockedLayouts = false;
  else if (std::strcmp(choice, "default") != 0)
    return false;
  return true;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 4)
    return fail("usage: tessel_load_ab MODEL.tsl CHOICE CHOICE [THREADS] [RUNS] "
                "(CHOICE: default | chains-off | chains-all | plain-layouts)");
  const int threads = argc > 4 ? std::atoi(argv[4]) : 1;
  const int runs = argc > 5 ? std::max(1, std::atoi(argv[5])) : 100;
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  std::vector<std::unique_ptr<Session>> sessions;
  for (int k = 0; k < 2; ++k) {
    SessionOptions o;
    o.threads = threads;
    const std::string choice = argv[2 + k];
    const bool other = choice.size() > 4 && choice.substr(choice.size() - 4) == ".tsl";
    if (!other && !optionsFor(argv[2 + k], &o)) return fail("unknown choice " + choice);
    auto prog = loadArtifactFile(other ? choice : std::string(argv[1]));
    if (!prog.isOk()) return fail(prog.status().message());
    auto s = Session::create(*prog, registry, o);
    if (!s.isOk()) return fail(s.status().message());
    const Program& p = (*s)->program();
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    for (size_t i = 0; i < p.inputs.size(); ++i) {
      const TensorDesc& desc = p.tensors[p.inputs[i]].desc;
      if (desc.dtype != DType::F32) return fail("inputs other than f32 are not generated");
      std::vector<float> x(static_cast<size_t>(desc.numel()));
      for (float& v : x)
        v = d(rng);
      if (Status st = (*s)->setInput(i, x.data(), x.size() * 4); !st.isOk())
        return fail(st.message());
    }
    sessions.push_back(std::move(s).value());
  }
  std::vector<double> ms[2], ratio;
  for (int r = -3; r < runs; ++r) { // three warm-up pairs
    double t[2];
    for (int k = 0; k < 2; ++k) {
      const int which = (r & 1) ? 1 - k : k; // alternate which goes first
      const auto t0 = std::chrono::steady_clock::now();
      if (Status st = sessions[which]->run(); !st.isOk()) return fail(st.message());
      t[which] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    if (r < 0) continue;
    ms[0].push_back(t[0]);
    ms[1].push_back(t[1]);
    ratio.push_back(t[1] / t[0]);
  }
  for (int k = 0; k < 2; ++k)
    std::printf("%-14s min %8.3f ms  median %8.3f ms\n", argv[2 + k],
                *std::min_element(ms[k].begin(), ms[k].end()), median(ms[k]));
  std::printf("paired ratio %s / %s: median %.3f, ratio of minima %.3f (%d pairs, %d threads)\n",
              argv[3], argv[2], median(ratio),
              *std::min_element(ms[1].begin(), ms[1].end()) /
                  *std::min_element(ms[0].begin(), ms[0].end()),
              runs, threads);
  return 0;
}
