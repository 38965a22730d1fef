// Planning at run time against running: for each input shape given, a model that plans at run
// time (docs/dynamic-shapes.md) is planned RUNS times from scratch (a fresh session each time:
// specialization, decomposition, session preparation; weights packed by a session still alive
// are shared, as within one session planning a new shape) and run RUNS times with the plan
// cached; min and median of both, and the median of each plan's share of the run timed next to
// it. Then planning's parts,
// min/median of RUNS each: the program (specializeToProgram: shape inference, folding,
// decomposition, fusion, validation) and Session::create (backends and layouts assigned, kernels
// prepared, memory planned), each after a run of the model (as in use, the caches hold the run's
// data, not the planner's); last, how many nodes the graph has and how many primitives its plan
// runs. With `parts` last, only the parts are timed (no session runs a model): the form to count
// planning's instructions with callgrind, which is steadier than this machine's clocks
// (docs/dynamic-shapes.md, "Planning time").
// Usage: tessel_replan MODEL.tsl INPUT DIMS[,DIMS...] [THREADS] [RUNS] [parts]
//        (DIMS: 1x3x640x640)
#include "tessel/graph/artifact.h"
#include "tessel/graph/dynamic_session.h"
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/backend.h"
#include "tessel/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace tessel;

namespace {

int fail(const std::string& why) {
  std::fprintf(stderr, "tessel_replan: %s\n", why.c_str());
  return 1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 4) return fail("usage: tessel_replan MODEL.tsl INPUT DIMS[,DIMS...] [THREADS] [RUNS]");
  const int threads = argc > 4 ? std::atoi(argv[4]) : 1;
  const int runs = argc > 5 ? std::max(1, std::atoi(argv[5])) : 5;
  const bool partsOnly = argc > 6 && std::string(argv[6]) == "parts";
  auto loaded = loadArtifactFile(argv[1]);
  if (!loaded.isOk()) return fail(loaded.status().message());
  auto source = graph::artifactGraph(**loaded);
  if (!source.isOk() || !*source) return fail("the artifact does not plan at run time");
  graph::DynamicOptions options;
  options.session.threads = threads;
  std::vector<Shape> shapes;
  std::stringstream list(argv[3]);
  for (std::string item; std::getline(list, item, ',');) {
    Shape s;
    std::stringstream dims(item);
    for (std::string d; std::getline(dims, d, 'x');)
      s.push_back(std::stoll(d));
    shapes.push_back(s);
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(0.f, 1.f);
  std::printf("%-16s %10s %10s %10s %10s %8s %11s %11s  %s\n", "shape", "plan min", "plan med",
              "run min", "run med", "plan/run", "program", "session", "planned");
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  for (const Shape& shape : shapes) {
    std::vector<graph::InputRef> inputs;
    std::vector<std::vector<float>> data;
    auto probe = graph::DynamicSession::create(*source, options);
    if (!probe.isOk()) return fail(probe.status().message());
    for (size_t i = 0; i < (*probe)->inputCount(); ++i) {
      if ((*probe)->input(i).name != argv[2]) return fail("inputs other than INPUT are not fed");
      data.emplace_back(static_cast<size_t>(TensorDesc{DType::F32, shape}.numel()));
      for (float& v : data.back())
        v = dist(rng);
      graph::InputRef in;
      in.desc = {DType::F32, shape};
      in.data = data.back().data();
      inputs.push_back(in);
    }
    // Each plan from a fresh session, while the one before lives on (as a long-lived session's
    // cached plans for other shapes do: what they prepared may be shared), then runs of it with
    // the plan cached, the second timed. Each plan is set against the run next to it (this
    // machine's speed drifts from minute to minute; a pair shares its minute).
    std::vector<double> plans, times, shares;
    std::unique_ptr<graph::DynamicSession> session;
    for (int r = 0; !partsOnly && r < runs; ++r) {
      auto fresh = graph::DynamicSession::create(*source, options);
      if (!fresh.isOk()) return fail(fresh.status().message());
      Status st = (*fresh)->run(inputs);
      if (!st.isOk()) return fail(st.message());
      plans.push_back((*fresh)->lastPlanSeconds() * 1e3);
      session = std::move(*fresh);
      st = session->run(inputs); // a first run's one-time costs (pages, caches) fall here
      if (!st.isOk()) return fail(st.message());
      const auto t0 = std::chrono::steady_clock::now();
      st = session->run(inputs);
      if (!st.isOk()) return fail(st.message());
      times.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      shares.push_back(plans.back() / times.back());
    }
    // The parts, for a graph that plans in one stage.
    std::vector<double> parts[2];
    std::string counts = "-";
    std::unique_ptr<Session> previous; // alive while the next is made: packed weights are shared
    graph::Specialization spec;
    spec.shapes[argv[2]] = shape;
    for (int r = 0; r < runs; ++r) {
      // As in use, a new shape comes after runs of another: the caches hold the run's data.
      if (session && !session->run(inputs).isOk()) return fail("the run failed");
      auto t0 = std::chrono::steady_clock::now();
      auto lap = [&](int part) {
        const auto t1 = std::chrono::steady_clock::now();
        parts[part].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        t0 = t1;
      };
      graph::Graph specialized;
      auto program = graph::specializeToProgram(**source, spec, nullptr, &specialized);
      if (!program.isOk()) break; // planned in stages: no parts
      lap(0);
      auto created = Session::create(*program, registry, options.session);
      if (!created.isOk()) return fail(created.status().message());
      lap(1);
      if (r == 0)
        counts = std::to_string((*source)->nodes.size()) + " nodes, " +
                 std::to_string((*program)->primitives.size()) + " primitives";
      previous = std::move(*created);
    }
    auto part = [&](int k) {
      char text[32];
      if (parts[k].empty()) return std::string("-");
      std::snprintf(text, sizeof text, "%.2f/%.2f",
                    *std::min_element(parts[k].begin(), parts[k].end()), median(parts[k]));
      return std::string(text);
    };
    const auto least = [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
    };
    const auto middle = [](const std::vector<double>& v) { return v.empty() ? 0.0 : median(v); };
    std::string label = shapeToString(shape);
    std::printf("%-16s %10.2f %10.2f %10.2f %10.2f %7.1f%% %11s %11s  %s\n", label.c_str(),
                least(plans), middle(plans), least(times), middle(times), 100 * middle(shares),
                part(0).c_str(), part(1).c_str(), counts.c_str());
  }
  return 0;
}
