// graph/: specialization to run-time shapes and values, lowering into one program, and dynamic
// sessions that plan per input signature. Graphs are built here directly (no ONNX, no MLIR).
#include "tessel/backends/reference.h"
#include "tessel/graph/artifact.h"
#include "tessel/graph/dynamic_session.h"
#include "tessel/graph/fuse.h"
#include "tessel/graph/simplify.h"
#include "tessel/runtime/artifact.h"
#include "tessel/tessel.h"
#include "test_util.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <map>

using namespace tessel;
using namespace tessel::graph;

namespace {

// x: f32 [-1, 4] (a symbolic first dim), s: i64 [2]; y = Reshape(Relu(x), s).
std::shared_ptr<const Graph> reluReshape() {
  auto g = std::make_shared<Graph>();
  g->opset = 13;
  g->values = {{"x", {DType::F32, {-1, 4}}, nullptr},
               {"s", {DType::I64, {2}}, nullptr},
               {"r", {}, nullptr},
               {"y", {}, nullptr}};
  g->inputs = {0, 1};
  g->outputs = {3};
  Node relu;
  relu.node.opType = "Relu";
  relu.node.name = "relu";
  relu.inputs = {0};
  relu.outputs = {2};
  Node reshape;
  reshape.node.opType = "Reshape";
  reshape.node.name = "reshape";
  reshape.inputs = {2, 1};
  reshape.outputs = {3};
  g->nodes = {relu, reshape};
  return g;
}

std::vector<float> ramp(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(i % 7) - 3.f;
  return v;
}

// Runs x [rows, 4] reshaped to `shape`; checks the output's shape and values.
void runAndCheck(DynamicSession& s, int64_t rows, std::vector<int64_t> shape) {
  const std::vector<float> x = ramp(rows * 4);
  REQUIRE(s.run({{{DType::F32, {rows, 4}}, x.data()}, {{DType::I64, {2}}, shape.data()}}).isOk());
  REQUIRE(s.outputDesc(0).shape == Shape{shape[0], shape[1]});
  std::vector<float> y(x.size());
  std::memcpy(y.data(), s.outputData(0), y.size() * 4);
  for (size_t i = 0; i < x.size(); ++i)
    REQUIRE(y[i] == std::max(x[i], 0.f));
}

} // namespace

TEST_CASE("specialize fixes input shapes and names the input whose value a node needs") {
  const auto g = reluReshape();
  Wanted wanted;
  Specialization spec;
  spec.shapes["x"] = {3, 4};
  auto noValue = specialize(*g, spec, &wanted);
  REQUIRE_FALSE(noValue.isOk());
  CHECK(wanted.input == "s");
  CHECK(wanted.values.empty());
  CHECK_THAT(noValue.status().message(), Catch::Contains("'reshape'"));
  const std::vector<int64_t> s{6, 2};
  spec.values["s"] = std::make_shared<const std::vector<uint8_t>>(
      reinterpret_cast<const uint8_t*>(s.data()), reinterpret_cast<const uint8_t*>(s.data() + 2));
  auto specialized = specialize(*g, spec);
  REQUIRE(specialized.isOk());
  CHECK(specialized->values[3].desc.shape == Shape{6, 2});
  auto prog = lowerToProgram(*specialized);
  REQUIRE(prog.isOk());
  CHECK((*prog)->inputs.size() == 1); // s became a constant
  // Shapes are checked against the declared dims; a symbolic dim needs a shape.
  spec.shapes["x"] = {3, 5};
  CHECK_THAT(specialize(*g, spec).status().message(), Catch::Contains("fixed dim 1"));
  spec.shapes.erase("x");
  CHECK_THAT(specialize(*g, spec).status().message(), Catch::Contains("symbolic dim"));
  spec.shapes["x"] = {3, 4};
  spec.values["s"] = std::make_shared<const std::vector<uint8_t>>(3, 0);
  CHECK_THAT(specialize(*g, spec).status().message(), Catch::Contains("holds 3 bytes"));
}

TEST_CASE("a dynamic session plans once per signature and keeps the recent plans") {
  DynamicOptions options;
  options.cachedPlans = 2;
  options.session.threads = 1;
  auto created = DynamicSession::create(reluReshape(), options);
  REQUIRE(created.isOk());
  DynamicSession& s = **created;
  runAndCheck(s, 3, {4, 3});
  CHECK(s.plansBuilt() == 1);
  CHECK(s.valueInputs() == std::vector<size_t>{1}); // the shape input's value was needed
  runAndCheck(s, 3, {2, 6});                        // same shapes, another value: another plan
  CHECK(s.plansBuilt() == 2);
  runAndCheck(s, 3, {4, 3}); // seen: no planning
  CHECK(s.plansBuilt() == 2);
  CHECK_FALSE(s.lastRunPlanned());
  runAndCheck(s, 5, {10, 2}); // a new batch size: a third plan, the least recent dropped
  CHECK(s.plansBuilt() == 3);
  runAndCheck(s, 3, {2, 6}); // dropped: planned again
  CHECK(s.plansBuilt() == 4);
  CHECK(s.lastRunPlanned());
  // Inputs that do not fit are errors naming them; a value the rule refuses names the node; the
  // session stays usable.
  const std::vector<float> x = ramp(12);
  const std::vector<int64_t> bad{5, 5};
  auto r = s.run({{{DType::F32, {3, 4}}, x.data()}, {{DType::I64, {2}}, bad.data()}});
  CHECK_THAT(r.message(), Catch::Contains("'reshape'"));
  const std::vector<int64_t> shape{12, 1};
  CHECK_THAT(s.run({{{DType::I64, {3, 4}}, x.data()}, {{DType::I64, {2}}, shape.data()}}).message(),
             Catch::Contains("input 'x' is f32, given i64"));
  CHECK_THAT(s.run({{{DType::F32, {4, 3}}, x.data()}, {{DType::I64, {2}}, shape.data()}}).message(),
             Catch::Contains("input 'x' has shape [4,3]"));
  CHECK_THAT(s.run({{{DType::F32, {3, 4}}, x.data()}}).message(),
             Catch::Contains("2 inputs, 1 given"));
  runAndCheck(s, 3, {12, 1});
}

namespace {

// x: f32 [-1]; r = Relu(x); nz = NonZero(r) (its size decided by r's values); n = Neg(r).
std::shared_ptr<const Graph> reluNonZero() {
  auto g = std::make_shared<Graph>();
  g->opset = 13;
  g->values = {{"x", {DType::F32, {-1}}, nullptr},
               {"r", {}, nullptr},
               {"nz", {}, nullptr},
               {"n", {}, nullptr}};
  g->inputs = {0};
  g->outputs = {2, 3};
  Node relu, nonzero, neg;
  relu.node.opType = "Relu";
  relu.inputs = {0};
  relu.outputs = {1};
  nonzero.node.opType = "NonZero";
  nonzero.node.name = "nonzero";
  nonzero.inputs = {1};
  nonzero.outputs = {2};
  neg.node.opType = "Neg";
  neg.inputs = {1};
  neg.outputs = {3};
  g->nodes = {relu, nonzero, neg};
  return g;
}

// Runs reluNonZero on x; checks both outputs.
void runNonZero(DynamicSession& s, const std::vector<float>& x) {
  const Status ran = s.run({{{DType::F32, {static_cast<int64_t>(x.size())}}, x.data()}});
  INFO(ran.message());
  REQUIRE(ran.isOk());
  std::vector<int64_t> expected;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i] > 0) expected.push_back(static_cast<int64_t>(i));
  const auto count = static_cast<int64_t>(expected.size());
  REQUIRE(s.outputDesc(0) == TensorDesc{DType::I64, {1, count}});
  const auto* nz = static_cast<const int64_t*>(s.outputData(0));
  CHECK(std::vector<int64_t>(nz, nz + count) == expected);
  REQUIRE(s.outputDesc(1) == TensorDesc{DType::F32, {static_cast<int64_t>(x.size())}});
  const auto* n = static_cast<const float*>(s.outputData(1));
  for (size_t i = 0; i < x.size(); ++i)
    REQUIRE(n[i] == -std::max(x[i], 0.f));
}

} // namespace

TEST_CASE("a rule that needs a value computed from the run's data plans the graph in stages") {
  DynamicOptions options;
  options.session.threads = 1;
  auto created = DynamicSession::create(reluNonZero(), options);
  REQUIRE(created.isOk());
  {
    // A small input: its value keys one plan, the whole graph folds into tables.
    DynamicSession& s = **created;
    runNonZero(s, {1.f, -2.f, 0.f, 3.f});
    CHECK(s.stages() == 1);
    CHECK(s.valueInputs() == std::vector<size_t>{0});
  }
  // A large one (in a session that has not keyed on x's value): Relu runs first, NonZero is
  // planned once r is known, Neg reads r as an input of the second stage.
  created = DynamicSession::create(reluNonZero(), options);
  REQUIRE(created.isOk());
  DynamicSession& s = **created;
  std::vector<float> x = ramp(3001);
  runNonZero(s, x);
  CHECK(s.valueInputs().empty());
  CHECK(s.stages() == 2);
  CHECK(s.lastRunPlanned());
  const int built = s.plansBuilt();
  x[5] = 10.f; // new data of the same shape: the second stage plans again, the first is reused
  runNonZero(s, x);
  CHECK(s.stages() == 2);
  CHECK(s.plansBuilt() == built);
  CHECK(s.lastRunPlanned());
  runNonZero(s, std::vector<float>(2000, -1.f)); // nothing selected: an empty [1, 0]
}

TEST_CASE("lowerToProgram copies outputs no primitive writes") {
  // y = x passed through; c = a constant output; z = Neg(x).
  auto g = std::make_shared<Graph>();
  g->opset = 13;
  const std::vector<float> cv{1.f, 2.f};
  g->values = {{"x", {DType::F32, {2}}, nullptr},
               {"c",
                {DType::F32, {2}},
                std::make_shared<const std::vector<uint8_t>>(
                    reinterpret_cast<const uint8_t*>(cv.data()),
                    reinterpret_cast<const uint8_t*>(cv.data() + 2))},
               {"z", {}, nullptr}};
  g->inputs = {0};
  g->outputs = {0, 1, 2, 2};
  Node neg;
  neg.node.opType = "Neg";
  neg.node.name = "neg";
  neg.inputs = {0};
  neg.outputs = {2};
  g->nodes = {neg};
  auto created = DynamicSession::create(g);
  REQUIRE(created.isOk());
  const std::vector<float> x{3.f, -4.f};
  REQUIRE((*created)->run({{{DType::F32, {2}}, x.data()}}).isOk());
  const std::vector<std::vector<float>> want{{3.f, -4.f}, {1.f, 2.f}, {-3.f, 4.f}, {-3.f, 4.f}};
  for (size_t i = 0; i < want.size(); ++i) {
    std::vector<float> got(2);
    std::memcpy(got.data(), (*created)->outputData(i), 8);
    CHECK(got == want[i]);
  }
}

namespace {

Bytes bytesOf(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return std::make_shared<const std::vector<uint8_t>>(b, b + n);
}

// reluReshape with a constant, every attribute kind on one node, and an absent optional input.
Graph richGraph() {
  Graph g = *reluReshape();
  const std::vector<float> lo{-1.f};
  g.values.push_back({"lo", {DType::F32, {}}, bytesOf(lo.data(), 4)});
  g.values.push_back({"z", {}, nullptr});
  Node clip;
  clip.node.opType = "Clip";
  clip.node.name = "clip";
  clip.node.opset = 13;
  clip.node.attrs = {{"i", int64_t{-3}},
                     {"f", 0.5},
                     {"s", std::string("text")},
                     {"ints", std::vector<int64_t>{1, -2, 3}},
                     {"floats", std::vector<double>{0.25, -8}}};
  clip.inputs = {3, 4, -1};
  clip.outputs = {5};
  g.nodes.push_back(clip);
  g.outputs = {5, 3};
  return g;
}

} // namespace

TEST_CASE("an artifact that plans at run time carries its graph; its session runs it") {
  const Graph g = richGraph();
  auto loaded = loadArtifact(writeGraphArtifact(g, "test"));
  REQUIRE(loaded.isOk());
  CHECK((*loaded)->plansAtRunTime);
  CHECK((*loaded)->primitives.empty());
  // A static session refuses it, pointing at the dynamic one.
  BackendRegistry registry;
  registerBuiltinBackends(registry);
  CHECK_THAT(Session::create(*loaded, registry).status().message(),
             Catch::Contains("plans at run time"));
  auto back = artifactGraph(**loaded);
  REQUIRE(back.isOk());
  REQUIRE(*back);
  const Graph& r = **back;
  REQUIRE(r.values.size() == g.values.size());
  for (size_t i = 0; i < g.values.size(); ++i) {
    CHECK(r.values[i].name == g.values[i].name);
    CHECK(r.values[i].desc == g.values[i].desc);
    CHECK((r.values[i].constant != nullptr) == (g.values[i].constant != nullptr));
    if (g.values[i].constant) CHECK(*r.values[i].constant == *g.values[i].constant);
  }
  REQUIRE(r.nodes.size() == 3);
  CHECK(r.nodes[2].node.attrs == g.nodes[2].node.attrs);
  CHECK(r.nodes[2].inputs == g.nodes[2].inputs);
  CHECK(r.nodes[2].node.opset == 13);
  CHECK(r.inputs == g.inputs);
  CHECK(r.outputs == g.outputs);
  // The graph read back runs: y = Reshape(Relu(x), s), z = Clip(y, -1).
  auto session = DynamicSession::create(*back);
  REQUIRE(session.isOk());
  const std::vector<float> x = ramp(8);
  const std::vector<int64_t> s{4, 2};
  REQUIRE(
      (*session)->run({{{DType::F32, {2, 4}}, x.data()}, {{DType::I64, {2}}, s.data()}}).isOk());
  CHECK((*session)->outputDesc(0).shape == Shape{4, 2});
  // A program loaded without a graph has none.
  Program plain;
  auto none = artifactGraph(plain);
  REQUIRE(none.isOk());
  CHECK_FALSE(*none);
}

TEST_CASE("a damaged graph table is refused, naming what is wrong") {
  struct Case {
    const char* why;
    void (*damage)(Graph&);
  };
  const Case cases[] = {
      {"names value 99", [](Graph& g) { g.nodes[0].inputs[0] = 99; }},
      {"before it is defined", [](Graph& g) { g.nodes[0].inputs[0] = 3; }},
      {"defined elsewhere", [](Graph& g) { g.nodes[1].outputs[0] = 2; }},
      {"never defined", [](Graph& g) { g.outputs.push_back(2), g.nodes.resize(0); }},
      {"outside the data section",
       [](Graph& g) { g.values[4].constant = std::make_shared<const std::vector<uint8_t>>(2, 0); }},
      {"bool constant holds the byte 2",
       [](Graph& g) {
         g.values[4].desc.dtype = DType::Bool;
         g.values[4].constant = std::make_shared<const std::vector<uint8_t>>(1, 2);
       }},
      {"is a constant, listed twice", [](Graph& g) { g.inputs.push_back(4); }},
      {"has dim -5", [](Graph& g) { g.values[0].desc.shape[0] = -5; }},
      {"has no operator", [](Graph& g) { g.nodes[0].node.opType.clear(); }},
      {"has no outputs", [](Graph& g) { g.nodes[2].outputs.clear(); }},
  };
  for (const Case& c : cases) {
    INFO(c.why);
    Graph g = richGraph();
    c.damage(g);
    auto loaded = loadArtifact(writeGraphArtifact(g, "test"));
    REQUIRE(loaded.isOk()); // the file is sound; its graph is not
    auto back = artifactGraph(**loaded);
    REQUIRE_FALSE(back.isOk());
    CHECK_THAT(back.status().message(), Catch::Contains(c.why));
  }
}

TEST_CASE(
    "C API: run-time shapes on a model that plans at run time; fixed ones on compiled models") {
  const std::vector<uint8_t> bytes = writeGraphArtifact(*reluReshape(), "test");
  tessel_model* model = nullptr;
  REQUIRE(tessel_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  tessel_tensor_info info{};
  REQUIRE(tessel_model_input_info(model, 0, &info) == nullptr);
  CHECK(std::string(info.name) == "x");
  REQUIRE(info.rank == 2);
  CHECK(info.dims[0] == -1); // known only at run time
  CHECK(info.byte_size == 0);
  CHECK(tessel_model_output_count(model) == 1);
  tessel_session* session = nullptr;
  REQUIRE(tessel_session_create(model, nullptr, &session) == nullptr);
  const auto code = [](tessel_status s) {
    const tessel_status_code c = tessel_status_get_code(s);
    tessel_status_free(s);
    return c;
  };
  const std::vector<float> x = ramp(12);
  // x's first dim is not known: its bytes need a shape first; negative dims are refused.
  CHECK(code(tessel_session_set_input(session, 0, x.data(), 48)) == TESSEL_INVALID_ARGUMENT);
  const int64_t negative[2] = {-2, 4};
  CHECK(code(tessel_session_set_input_shape(session, 0, negative, 2)) == TESSEL_INVALID_ARGUMENT);
  const int64_t xDims[2] = {3, 4}, sDims[1] = {2};
  const std::vector<int64_t> shape{6, 2};
  REQUIRE(tessel_session_set_input_shape(session, 0, xDims, 2) == nullptr);
  CHECK(code(tessel_session_set_input(session, 0, x.data(), 44)) == TESSEL_INVALID_ARGUMENT);
  REQUIRE(tessel_session_set_input(session, 0, x.data(), 48) == nullptr);
  REQUIRE(tessel_session_set_input_shape(session, 1, sDims, 1) == nullptr); // as declared
  REQUIRE(tessel_session_set_input(session, 1, shape.data(), 16) == nullptr);
  size_t rank = 0;
  int64_t dims[1];
  CHECK(code(tessel_session_get_output_shape(session, 0, dims, 1, &rank)) ==
        TESSEL_INVALID_ARGUMENT); // no run yet
  REQUIRE(tessel_session_run(session) == nullptr);
  CHECK(code(tessel_session_get_output_shape(session, 0, dims, 1, &rank)) ==
        TESSEL_INVALID_ARGUMENT); // rank 2 does not fit in 1
  CHECK(rank == 2);
  int64_t out[2];
  REQUIRE(tessel_session_get_output_shape(session, 0, out, 2, &rank) == nullptr);
  CHECK((out[0] == 6 && out[1] == 2));
  const void* y = nullptr;
  size_t size = 0;
  REQUIRE(tessel_session_get_output(session, 0, &y, &size) == nullptr);
  CHECK(size == 48);
  // A new shape makes the old bytes stale: the run refuses until they are set again.
  const int64_t bigger[2] = {5, 4};
  REQUIRE(tessel_session_set_input_shape(session, 0, bigger, 2) == nullptr);
  CHECK(code(tessel_session_run(session)) == TESSEL_INVALID_ARGUMENT);
  CHECK(tessel_session_arena_bytes(session) > 0);
  CHECK(tessel_session_threads(session) > 0);
  tessel_session_release(session);
  tessel_model_release(model);
  // A compiled model (the same graph specialized and lowered ahead): only its fixed shape.
  Specialization spec;
  spec.shapes["x"] = {3, 4};
  spec.values["s"] = std::make_shared<const std::vector<uint8_t>>(
      reinterpret_cast<const uint8_t*>(shape.data()),
      reinterpret_cast<const uint8_t*>(shape.data() + 2));
  auto specialized = specialize(*reluReshape(), spec);
  REQUIRE(specialized.isOk());
  auto program = lowerToProgram(*specialized);
  REQUIRE(program.isOk());
  const std::vector<uint8_t> compiled = writeArtifact(**program, "test");
  REQUIRE(tessel_model_load_memory(compiled.data(), compiled.size(), &model) == nullptr);
  REQUIRE(tessel_session_create(model, nullptr, &session) == nullptr);
  CHECK(tessel_session_set_input_shape(session, 0, xDims, 2) == nullptr);
  CHECK(code(tessel_session_set_input_shape(session, 0, bigger, 2)) == TESSEL_INVALID_ARGUMENT);
  REQUIRE(tessel_session_set_input(session, 0, x.data(), 48) == nullptr);
  REQUIRE(tessel_session_run(session) == nullptr);
  REQUIRE(tessel_session_get_output_shape(session, 0, out, 2, &rank) == nullptr);
  CHECK((rank == 2 && out[0] == 6 && out[1] == 2));
  tessel_session_release(session);
  tessel_model_release(model);
}

TEST_CASE("sequence inputs and outputs: the elements given and returned as lists") {
  // s: a sequence of f32; c = ConcatFromSequence(s, axis 0); r = SequenceConstruct(c, c).
  auto g = std::make_shared<Graph>();
  g->opset = 13;
  Value s{"s", {DType::F32, {}}, nullptr};
  s.kind = ValueKind::Sequence;
  Value r{"r", {}, nullptr};
  r.kind = ValueKind::Sequence;
  g->values = {s, {"c", {}, nullptr}, r};
  g->inputs = {0};
  g->outputs = {1, 2};
  Node concat, construct;
  concat.node.opType = "ConcatFromSequence";
  concat.node.name = "concat";
  concat.node.attrs["axis"] = int64_t{0};
  concat.inputs = {0};
  concat.outputs = {1};
  construct.node.opType = "SequenceConstruct";
  construct.node.name = "construct";
  construct.node.numOutputs = 1;
  construct.inputs = {1, 1};
  construct.outputs = {2};
  g->nodes = {concat, construct};
  auto created = DynamicSession::create(g);
  REQUIRE(created.isOk());
  DynamicSession& session = **created;
  const std::vector<float> a{1, 2, 3}, b{4, 5};
  InputRef list;
  list.list = true;
  list.items = {{{DType::F32, {3}}, a.data()}, {{DType::F32, {2}}, b.data()}};
  const Status ran = session.run({list});
  INFO(ran.message());
  REQUIRE(ran.isOk());
  CHECK(session.outputItems(0) == -1);
  REQUIRE(session.outputDesc(0) == TensorDesc{DType::F32, {5}});
  CHECK(static_cast<const float*>(session.outputData(0))[3] == 4.f);
  REQUIRE(session.outputItems(1) == 2);
  CHECK(session.outputItemDesc(1, 1) == TensorDesc{DType::F32, {5}});
  CHECK(static_cast<const float*>(session.outputItemData(1, 1))[4] == 5.f);
  // A tensor where the model declares a sequence is refused by name.
  CHECK_THAT(session.run({{{DType::F32, {3}}, a.data()}}).message(),
             Catch::Contains("input 's' is a sequence"));
}

TEST_CASE("splitAt: the prefix computes the values and everything later nodes read of it") {
  // x -> a = Relu(x) -> b = Neg(a) (wanted) ; c = Abs(a) ; out: b2 = Identity(b), c, a.
  auto g = std::make_shared<Graph>();
  g->opset = 13;
  g->values = {{"x", {DType::F32, {4}}, nullptr},
               {"a", {}, nullptr},
               {"b", {}, nullptr},
               {"c", {}, nullptr},
               {"b2", {}, nullptr}};
  g->inputs = {0};
  g->outputs = {4, 3, 1};
  auto node = [](const char* op, int32_t in, int32_t out) {
    Node n;
    n.node.opType = op;
    n.node.name = op;
    n.inputs = {in};
    n.outputs = {out};
    return n;
  };
  g->nodes = {node("Relu", 0, 1), node("Neg", 1, 2), node("Abs", 1, 3), node("Identity", 2, 4)};
  std::vector<TensorDesc> described(g->values.size(), {DType::F32, {4}});
  auto stages = splitAt(*g, {2}, described);
  REQUIRE(stages.isOk());
  // The prefix: Relu and Neg; it outputs b first, then a (read by Abs and a graph output).
  REQUIRE(stages->prefix.nodes.size() == 2);
  CHECK(stages->prefix.outputs == std::vector<int32_t>{2, 1});
  CHECK(stages->prefixFrom == std::vector<int>{0});
  // The suffix: Abs and Identity, reading b and a as inputs (x no longer), any dims.
  REQUIRE(stages->suffix.nodes.size() == 2);
  CHECK(stages->suffix.inputs == std::vector<int32_t>{2, 1});
  CHECK(stages->suffixFrom == std::vector<int>{-1, -2});
  CHECK(stages->suffix.values[2].desc == TensorDesc{DType::F32, {-1}});
  CHECK(stages->suffix.outputs == g->outputs);
  // A value no node computes cannot be a cut.
  CHECK_FALSE(splitAt(*g, {0}, described).isOk());
}

TEST_CASE("control flow: an If on an input keys plans on it; a Loop unrolls into one plan") {
  // If(cond) then y = Relu(x) else y = Neg(x), x read from the enclosing graph.
  auto branch = [](const char* op) {
    auto b = std::make_shared<Graph>();
    b->values = {{"x", {}, nullptr}, {"r", {}, nullptr}};
    b->captured = {0};
    b->outputs = {1};
    Node n;
    n.node.opType = op;
    n.node.name = op;
    n.inputs = {0};
    n.outputs = {1};
    b->nodes = {n};
    return b;
  };
  auto g = std::make_shared<Graph>();
  g->opset = 13;
  g->values = {
      {"cond", {DType::Bool, {}}, nullptr}, {"x", {DType::F32, {3}}, nullptr}, {"y", {}, nullptr}};
  g->inputs = {0, 1};
  g->outputs = {2};
  Node iff;
  iff.node.opType = "If";
  iff.node.name = "if";
  iff.inputs = {0, 1};
  iff.capturedInputs = 1;
  iff.outputs = {2};
  iff.subgraphs = {{"then_branch", branch("Relu")}, {"else_branch", branch("Neg")}};
  g->nodes = {iff};
  auto created = DynamicSession::create(g);
  REQUIRE(created.isOk());
  DynamicSession& s = **created;
  const std::vector<float> x{-1, 2, -3};
  for (bool c : {true, false, true}) {
    const uint8_t cond = c;
    REQUIRE(s.run({{{DType::Bool, {}}, &cond}, {{DType::F32, {3}}, x.data()}}).isOk());
    const auto* y = static_cast<const float*>(s.outputData(0));
    for (size_t i = 0; i < 3; ++i)
      CHECK(y[i] == (c ? std::max(x[i], 0.f) : -x[i]));
  }
  CHECK(s.valueInputs() == std::vector<size_t>{0});
  CHECK(s.plansBuilt() == 2); // one per branch taken; the third run reused the first plan
  // A subgraph listing another count of enclosing values than its node is refused by name.
  iff.capturedInputs = 0;
  iff.inputs = {0};
  g->nodes = {iff};
  auto bad = DynamicSession::create(g);
  REQUIRE(bad.isOk());
  const uint8_t yes = 1;
  CHECK_THAT((*bad)->run({{{DType::Bool, {}}, &yes}, {{DType::F32, {3}}, x.data()}}).message(),
             Catch::Contains("outer values"));
}

namespace {

// conv(x) * 0.5 + per-channel c, then hardswish spelled out (h * clip(h + 3, 0, 6) / 6): one
// output. A second conv's result is an output itself, so the relu reading it stays apart.
struct FusionCase {
  std::vector<float> w = test::randomFloats(4 * 3 * 9, 1), bias = test::randomFloats(4, 2),
                     w2 = test::randomFloats(2 * 3, 3), channel = test::randomFloats(4, 4);
  float half = 0.5f, three = 3.f, six = 6.f;
  std::shared_ptr<Program> prog = std::make_shared<Program>();

  int32_t tensor(TensorDesc d, const void* data = nullptr) {
    prog->tensors.push_back({"t" + std::to_string(prog->tensors.size()), std::move(d), data});
    return static_cast<int32_t>(prog->tensors.size() - 1);
  }
  void add(PrimitiveParams params, std::vector<int32_t> in, int32_t out) {
    Primitive p;
    p.params = std::move(params);
    p.inputs = std::move(in);
    p.outputs = {out};
    p.origin = "n" + std::to_string(prog->primitives.size());
    prog->primitives.push_back(std::move(p));
  }
  BinaryParams binary(BinaryKind k, I64List lhs, I64List rhs) {
    BinaryParams b;
    b.kind = k;
    b.lhsStrides = std::move(lhs);
    b.rhsStrides = std::move(rhs);
    return b;
  }

  FusionCase() {
    const TensorDesc y{DType::F32, {1, 4, 5, 5}};
    const I64List dense{100, 25, 5, 1}, scalar{0, 0, 0, 0};
    const int32_t x = tensor({DType::F32, {1, 3, 5, 5}});
    prog->inputs = {x};
    Conv2dParams c;
    c.pads = {1, 1, 1, 1};
    c.hasBias = true;
    const int32_t conv = tensor(y);
    add(c,
        {x, tensor({DType::F32, {4, 3, 3, 3}}, w.data()), tensor({DType::F32, {4}}, bias.data())},
        conv);
    const int32_t scaled = tensor(y), shifted = tensor(y);
    add(binary(BinaryKind::Mul, dense, scalar), {conv, tensor({DType::F32, {1}}, &half)}, scaled);
    add(binary(BinaryKind::Add, dense, {0, 1, 0, 0}),
        {scaled, tensor({DType::F32, {4}}, channel.data())}, shifted);
    const int32_t plus3 = tensor(y), clipped = tensor(y), product = tensor(y), out = tensor(y);
    add(binary(BinaryKind::Add, dense, scalar), {shifted, tensor({DType::F32, {1}}, &three)},
        plus3);
    add(UnaryParams{UnaryKind::Clip, 0.f, 6.f}, {plus3}, clipped);
    add(binary(BinaryKind::Mul, dense, dense), {shifted, clipped}, product);
    add(binary(BinaryKind::Div, dense, scalar), {product, tensor({DType::F32, {1}}, &six)}, out);
    const int32_t conv2 = tensor({DType::F32, {1, 2, 5, 5}}),
                  relu = tensor({DType::F32, {1, 2, 5, 5}});
    add(Conv2dParams{}, {x, tensor({DType::F32, {2, 3, 1, 1}}, w2.data())}, conv2);
    add(UnaryParams{UnaryKind::Relu}, {conv2}, relu);
    prog->outputs = {out, conv2, relu};
  }
};

std::vector<std::vector<float>> runReference(std::shared_ptr<const Program> prog,
                                             const std::vector<float>& x) {
  BackendRegistry registry;
  registerReferenceBackend(registry);
  return test::runProgram(std::move(prog), registry, x);
}

} // namespace

TEST_CASE("run-time fusion: hardswish recognized, post-ops fused, leading affine folded") {
  FusionCase f;
  REQUIRE(validateProgram(*f.prog).isOk());
  const std::vector<float> x = test::randomFloats(75, 5);
  const auto before = runReference(f.prog, x);
  auto fused = std::make_shared<Program>(*f.prog);
  std::vector<Bytes> keep;
  fusePostOps(*fused, &keep);
  REQUIRE(validateProgram(*fused).isOk());
  // The first conv and everything after it in one primitive; the output conv and relu apart.
  REQUIRE(fused->primitives.size() == 3);
  const auto& c = fused->primitives[0].as<Conv2dParams>();
  REQUIRE(c.postOps.size() == 1); // the scale and shift folded into weights and bias
  CHECK(c.postOps[0] == PostOp::makeUnary(UnaryKind::HardSwish));
  CHECK(c.hasBias);
  CHECK(fused->primitives[0].outputs[0] == f.prog->outputs[0]);
  CHECK(fused->primitives[1].as<Conv2dParams>().postOps.empty());
  CHECK(fused->primitives[2].kind() == PrimitiveKind::Unary);
  CHECK(keep.size() == 2);
  const auto after = runReference(fused, x);
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    REQUIRE(after[i].size() == before[i].size());
    for (size_t k = 0; k < before[i].size(); ++k)
      CHECK(after[i][k] == Approx(before[i][k]).margin(1e-5));
  }
  // A second plan of the same constants gets the same folded bytes (so packings are shared).
  auto again = std::make_shared<Program>(*f.prog);
  std::vector<Bytes> keepAgain;
  fusePostOps(*again, &keepAgain);
  CHECK(keepAgain.at(0) == keep.at(0));
}

namespace {

// A graph builder for the source-graph rewrites: values by name, nodes in order.
struct SourceGraph {
  Graph g;
  std::map<std::string, int32_t> ids;

  SourceGraph() { g.opset = 13; }
  int32_t value(const std::string& name, TensorDesc desc = {}, Bytes constant = nullptr) {
    g.values.push_back({name, std::move(desc), std::move(constant)});
    return ids[name] = static_cast<int32_t>(g.values.size() - 1);
  }
  int32_t floats(const std::string& name, Shape shape, const std::vector<float>& v) {
    return value(name, {DType::F32, std::move(shape)}, bytesOf(v.data(), v.size() * 4));
  }
  void node(const std::string& op, std::vector<std::string> in, const std::string& out,
            decompose::Attrs attrs = {}) {
    Node n;
    n.node.opType = op;
    n.node.name = out;
    n.node.opset = g.opset;
    n.node.attrs = std::move(attrs);
    for (const std::string& name : in)
      n.inputs.push_back(ids.at(name));
    n.outputs = {ids.count(out) ? ids[out] : value(out)};
    g.nodes.push_back(std::move(n));
  }
};

// Runs graph g on x [1, 3, h, w]; every output's values.
std::vector<std::vector<float>> runSource(const Graph& g, int64_t h, int64_t w) {
  auto s = DynamicSession::create(std::make_shared<const Graph>(g));
  REQUIRE(s.isOk());
  const std::vector<float> x = test::randomFloats(3 * h * w, 11);
  const Status st = (*s)->run({{{DType::F32, {1, 3, h, w}}, x.data()}});
  INFO(st.message());
  REQUIRE(st.isOk());
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const auto* p = static_cast<const float*>((*s)->outputData(i));
    outs.emplace_back(p, p + (*s)->outputDesc(i).numel());
  }
  return outs;
}

} // namespace

TEST_CASE("source-graph rewrites: scales and shifts folded into convs on either side, hardswish") {
  SourceGraph b;
  b.value("x", {DType::F32, {1, 3, -1, -1}});
  b.g.inputs = {b.ids["x"]};
  b.floats("w", {4, 3, 3, 3}, test::randomFloats(108, 1));
  b.floats("bias", {4}, test::randomFloats(4, 2));
  b.floats("half", {1}, {0.5f});
  b.floats("channel", {1, 4, 1, 1}, test::randomFloats(4, 3));
  b.floats("three", {}, {3.f});
  b.floats("zero", {}, {0.f});
  b.floats("six", {}, {6.f});
  b.floats("w2", {4, 3, 1, 1}, test::randomFloats(12, 4));
  b.floats("wide", {1, 4, 1, 1, 1}, test::randomFloats(4, 5));
  b.floats("pair", {2, 1, 1, 1}, test::randomFloats(2, 6));
  b.floats("inChannel", {1, 3, 1, 1}, test::randomFloats(3, 7));
  b.floats("inChannel3d", {3, 1, 1}, test::randomFloats(3, 8));
  b.floats("w5", {2, 3, 1, 1}, test::randomFloats(6, 9));
  b.floats("w6", {3, 1, 3, 3}, test::randomFloats(27, 10));
  b.floats("w7", {2, 3, 3, 3}, test::randomFloats(54, 12));
  // conv(x) * 0.5 + channel, then x * clip(x + 3, 0, 6) / 6.
  b.node("Conv", {"x", "w", "bias"}, "conv", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  b.node("Mul", {"half", "conv"}, "scaled");
  b.node("Add", {"scaled", "channel"}, "shifted");
  b.node("Add", {"shifted", "three"}, "plus3");
  b.node("Clip", {"plus3", "zero", "six"}, "clipped");
  b.node("Mul", {"shifted", "clipped"}, "product");
  b.node("Div", {"product", "six"}, "hswish");
  // conv2's result is an output too: nothing folds into it; relu(conv2) * hardsigmoid(relu).
  b.node("Conv", {"x", "w2"}, "conv2");
  b.node("Relu", {"conv2"}, "relu");
  b.node("HardSigmoid", {"relu"}, "gate", {{"alpha", 1.0 / 6}, {"beta", 0.5}});
  b.node("Mul", {"relu", "gate"}, "hswish2");
  // Constants that do not fold: one of higher rank than the result, one making two batches;
  // a hardsigmoid of another slope.
  b.node("Conv", {"x", "w2"}, "conv3");
  b.node("Mul", {"conv3", "wide"}, "raised");
  b.node("Conv", {"x", "w2"}, "conv4");
  b.node("Add", {"conv4", "pair"}, "batched");
  b.node("HardSigmoid", {"batched"}, "gate2", {{"alpha", 0.2}, {"beta", 0.5}});
  b.node("Mul", {"batched", "gate2"}, "notswish");
  // Scales and shifts feeding a conv: both fold where it pads nothing, a scale under padding (a
  // grouped conv's channels each), a shift under padding stays.
  b.node("Mul", {"x", "half"}, "pre1");
  b.node("Sub", {"pre1", "inChannel"}, "pre2");
  b.node("Conv", {"pre2", "w5"}, "pointwise");
  b.node("Mul", {"inChannel3d", "x"}, "pre3");
  b.node("Conv", {"pre3", "w6"}, "depthwise",
         {{"group", int64_t{3}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  b.node("Add", {"x", "half"}, "pre4");
  b.node("Conv", {"pre4", "w7"}, "shiftedPadded", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  // A scale then a shift under padding: one Add of shift / scale before the scaled conv.
  b.node("Mul", {"x", "inChannel"}, "pre5");
  b.node("Add", {"pre5", "half"}, "pre6");
  b.node("Conv", {"pre6", "w7"}, "scaledShiftedPadded",
         {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  for (const char* out : {"hswish", "conv2", "hswish2", "raised", "notswish", "pointwise",
                          "depthwise", "shiftedPadded", "scaledShiftedPadded"})
    b.g.outputs.push_back(b.ids[out]);
  const Graph before = b.g;
  Graph after = b.g;
  REQUIRE(simplifyGraph(after) == 10);
  std::vector<std::string> ops;
  for (const Node& n : after.nodes)
    ops.push_back(n.node.opType);
  CHECK(ops == std::vector<std::string>{"Conv", "HardSwish", "Conv", "Relu", "HardSwish", "Conv",
                                        "Mul", "Conv", "Add", "HardSigmoid", "Mul", "Conv", "Conv",
                                        "Add", "Conv", "Add", "Conv"});
  // The folded weights replace the originals, which nothing reads any more.
  for (const Value& v : after.values)
    CHECK(v.name != "w");
  for (const Node& n : after.nodes)
    for (int32_t v : n.inputs)
      REQUIRE(v < static_cast<int32_t>(after.values.size()));
  CHECK(simplifyGraph(after) == 0);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{5, 5}, {7, 3}}) {
    const auto want = runSource(before, h, w), got = runSource(after, h, w);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      REQUIRE(got[i].size() == want[i].size());
      for (size_t k = 0; k < want[i].size(); ++k)
        CHECK(got[i][k] == Approx(want[i][k]).margin(1e-5));
    }
  }
}
