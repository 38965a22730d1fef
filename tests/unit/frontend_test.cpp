// The ONNX frontend on models built here: unsupported operators, damaged files, shape folding.
#include "tessel/frontend/graph.h"

#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

using namespace tessel;
using namespace tessel::frontend;

namespace {

// An opset-13 model with one f32 input "x"; a negative dim is symbolic ("batch").
onnx::ModelProto modelWithInput(const std::vector<int64_t>& dims) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  m.mutable_graph()->set_name("g");
  auto* tt = m.mutable_graph()->add_input()->mutable_type()->mutable_tensor_type();
  m.mutable_graph()->mutable_input(0)->set_name("x");
  tt->set_elem_type(1);
  for (int64_t d : dims) {
    if (d < 0)
      tt->mutable_shape()->add_dim()->set_dim_param("batch");
    else
      tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  return m;
}

// A graph output "name" of f32 with `dims` (negative: symbolic), as the ONNX checker wants it.
void addOutput(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims) {
  auto* y = g->add_output();
  y->set_name(name);
  auto* tt = y->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(1);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0)
      shape->add_dim()->set_dim_param("batch");
    else
      shape->add_dim()->set_dim_value(d);
  }
}

onnx::ModelProto modelWith(const std::string& op, int64_t n = 4) {
  onnx::ModelProto m = modelWithInput({n});
  auto* g = m.mutable_graph();
  auto* node = g->add_node();
  node->set_op_type(op);
  node->set_name("node_0");
  node->add_input("x");
  node->add_output("y");
  if (op == "Einsum") { // its required attribute (the ONNX checker runs first)
    auto* a = node->add_attribute();
    a->set_name("equation");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("i->i");
  }
  addOutput(g, "y", {n});
  return m;
}

Result<ImportedGraph> importBytes(const std::string& bytes, const ShapeOverrides& shapes = {}) {
  auto model = parseOnnxModel(bytes.data(), bytes.size());
  if (!model.isOk()) return model.status();
  return importGraph(*model, shapes);
}

} // namespace

TEST_CASE("an unsupported operator is an error naming it, the node and the opset") {
  auto g = importBytes(modelWith("RandomUniformLike").SerializeAsString());
  REQUIRE_FALSE(g.isOk());
  CHECK(g.status().message() ==
        "operator 'RandomUniformLike' (node 'node_0', opset 13) is not supported");
  CHECK(importBytes(modelWith("Relu").SerializeAsString()).isOk());
}

TEST_CASE("truncated or corrupt models are errors, never crashes") {
  onnx::ModelProto m = modelWith("Add");
  m.mutable_graph()->mutable_node(0)->add_input("w");
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  w->add_dims(4);
  for (int i = 0; i < 4; ++i)
    w->add_float_data(1.f + i);
  const std::string good = m.SerializeAsString();
  REQUIRE(importBytes(good).isOk());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto g = importBytes(good.substr(0, cut));
    CHECK_FALSE(g.isOk());
  }
  std::string flipped = good;
  for (size_t i = 0; i < flipped.size(); ++i) {
    flipped[i] ^= 0x5a;
    (void)importBytes(flipped); // any status is fine; no crash, no abort
    flipped[i] ^= 0x5a;
  }
  w->clear_float_data();
  w->add_float_data(1.f);
  auto g = importBytes(m.SerializeAsString());
  REQUIRE_FALSE(g.isOk());
  CHECK(g.status().message() == "tensor 'w' holds 4 bytes, its shape [4] needs 16");
}

TEST_CASE("shape subgraphs fold to constants at import") {
  // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))  ->  only the Reshape remains.
  onnx::ModelProto m = modelWithInput({-1, 3, 4});
  auto* g = m.mutable_graph();
  auto constI64 = [&](const std::string& name, std::vector<int64_t> v, bool scalar) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(7);
    if (!scalar) t->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t x : v)
      t->add_int64_data(x);
  };
  constI64("zero", {0}, true);
  constI64("axes", {0}, false);
  constI64("minus1", {-1}, false);
  auto add = [&](const std::string& op, std::vector<std::string> ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + out);
    for (auto& i : ins)
      n->add_input(i);
    n->add_output(out);
    return n;
  };
  add("Shape", {"x"}, "s");
  add("Gather", {"s", "zero"}, "b")->add_attribute()->set_name("axis");
  g->mutable_node(1)->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
  g->mutable_node(1)->mutable_attribute(0)->set_i(0);
  add("Unsqueeze", {"b", "axes"}, "bu");
  add("Concat", {"bu", "minus1"}, "shape")->add_attribute()->set_name("axis");
  g->mutable_node(3)->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
  g->mutable_node(3)->mutable_attribute(0)->set_i(0);
  add("Reshape", {"x", "shape"}, "y");
  addOutput(g, "y", {-1, 12});

  auto noShape = importBytes(m.SerializeAsString());
  REQUIRE_FALSE(noShape.isOk());
  CHECK(noShape.status().message() == "input 'x' has a symbolic dim; pass --shape x=DIMS");

  auto graph = importBytes(m.SerializeAsString(), {{"x", {2, 3, 4}}});
  REQUIRE(graph.isOk());
  REQUIRE(graph->nodes.size() == 1);
  CHECK(graph->nodes[0].node.opType == "Reshape");
  CHECK(graph->values[graph->outputs[0]].desc.shape == Shape{2, 12});

  auto contradict = importBytes(m.SerializeAsString(), {{"x", {2, 5, 4}}});
  REQUIRE_FALSE(contradict.isOk());
  CHECK(contradict.status().message() == "--shape x [2,5,4] contradicts the model's fixed dim 1");
}
