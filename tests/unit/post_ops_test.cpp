// Post-op lists (fused forms), their split back into plain primitives, blocked layouts and the
// artifact's plan fields.
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/session.h"
#include "tessel/runtime/split_fused.h"
#include "test_util.h"

#include <catch2/catch.hpp>
#include <cmath>

using namespace tessel;
using test::randomFloats;

TEST_CASE("post-op text form round-trips") {
  const PostOp ops[] = {
      PostOp::makeUnary(UnaryKind::Relu),
      PostOp::makeUnary(UnaryKind::Clip, -0.1f, 6.f),
      PostOp::makeUnary(UnaryKind::HardSigmoid, 1.f / 6.f, 0.5f),
      PostOp::makeBinary(BinaryKind::Add, Broadcast::Channel, 2),
      PostOp::makeBinary(BinaryKind::Div, Broadcast::Scalar, 4, true),
      PostOp::makeBinary(BinaryKind::Mul, Broadcast::Full, 3),
  };
  for (const PostOp& op : ops) {
    INFO(formatPostOp(op));
    auto back = parsePostOp(formatPostOp(op));
    REQUIRE(back.isOk());
    CHECK(*back == op);
  }
  CHECK(formatPostOp(ops[3]) == "add channel 2");
  CHECK(formatPostOp(ops[4]) == "div scalar 4 first");
  CHECK_FALSE(parsePostOp("").isOk());
  CHECK_FALSE(parsePostOp("relu 1").isOk());
  CHECK_FALSE(parsePostOp("add channel").isOk());
  CHECK_FALSE(parsePostOp("add channel -1").isOk());
  CHECK_FALSE(parsePostOp("frobnicate").isOk());
}

TEST_CASE("blocked layouts store padded channel blocks") {
  TensorDesc d{DType::F32, {2, 10, 3, 5}, Layout::NCHWc8};
  CHECK(d.numel() == 300);
  CHECK(d.storageShape() == Shape{2, 2, 3, 5, 8});
  CHECK(d.storageNumel() == 480);
  CHECK(d.byteSize() == 1920);
  CHECK(d.toString() == "f32[2,10,3,5]@nchwc8");
  d.layout = Layout::NCHWc16;
  CHECK(d.storageNumel() == 2 * 1 * 3 * 5 * 16);
}

namespace {

// conv2d(x, w, bias) with post-ops: + per-channel shift, * scalar, + residual, sigmoid, clip.
std::shared_ptr<Program> fusedProgram() {
  auto prog = std::make_shared<Program>();
  static const std::vector<float> w = randomFloats(4 * 3 * 3 * 3, 7);
  static const std::vector<float> bias = randomFloats(4, 8);
  static const std::vector<float> shift = randomFloats(4, 9);
  static const float scale[1] = {1.5f};
  prog->tensors = {{"x", {DType::F32, {1, 3, 6, 5}}, nullptr},
                   {"w", {DType::F32, {4, 3, 3, 3}}, w.data()},
                   {"b", {DType::F32, {4}}, bias.data()},
                   {"shift", {DType::F32, {1, 4, 1, 1}}, shift.data()},
                   {"scale", {DType::F32, {}}, scale},
                   {"res", {DType::F32, {1, 4, 6, 5}}, nullptr},
                   {"y", {DType::F32, {1, 4, 6, 5}}, nullptr}};
  Conv2dParams c;
  c.pads = {1, 1, 1, 1};
  c.hasBias = true;
  c.postOps = {PostOp::makeBinary(BinaryKind::Add, Broadcast::Channel, 3),
               PostOp::makeBinary(BinaryKind::Mul, Broadcast::Scalar, 4),
               PostOp::makeBinary(BinaryKind::Sub, Broadcast::Full, 5, true),
               PostOp::makeUnary(UnaryKind::Sigmoid),
               PostOp::makeUnary(UnaryKind::Clip, 0.2f, 0.7f)};
  prog->primitives = {{c, {0, 1, 2, 3, 4, 5}, {6}, "conv"}};
  prog->inputs = {0, 5};
  prog->outputs = {6};
  return prog;
}

std::vector<float> runProgram(std::shared_ptr<const Program> prog, const BackendRegistry& reg) {
  auto s = Session::create(std::move(prog), reg);
  REQUIRE(s.isOk());
  const auto x = randomFloats(90, 1);
  const auto r = randomFloats(120, 2);
  REQUIRE((*s)->setInput(0, x.data(), x.size() * 4).isOk());
  REQUIRE((*s)->setInput(1, r.data(), r.size() * 4).isOk());
  REQUIRE((*s)->run().isOk());
  const auto* y = static_cast<const float*>((*s)->outputData(0));
  return {y, y + 120};
}

// Declines every fused form, otherwise what the reference supports.
class PlainOnlyDescriptor final : public BackendDescriptor {
public:
  explicit PlainOnlyDescriptor(const BackendDescriptor& ref) : ref_(ref) {}
  std::string_view name() const override { return "plain"; }
  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    const PostOps* ops = postOpsOf(p);
    return (!ops || ops->empty()) && ref_.supports(p, t);
  }

private:
  const BackendDescriptor& ref_;
};

// Runs the reference's kernels behind that descriptor: the runtime must split fused forms.
class PlainOnly final : public Backend {
public:
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override { return hostDevice(); }
  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& a, Device& d) const override {
    const PostOps* ops = postOpsOf(*a.primitive);
    if (ops && !ops->empty()) return internalError("plain-only backend handed a fused form");
    return reference().prepare(a, d);
  }

private:
  const Backend& reference() const { return *inner_.find("reference"); }
  BackendRegistry inner_ = [] {
    BackendRegistry r;
    registerBuiltinBackends(r);
    return r;
  }();
  PlainOnlyDescriptor descriptor_{inner_.find("reference")->descriptor()};
};

} // namespace

TEST_CASE("reference post-ops equal the split plain primitives") {
  BackendRegistry reg;
  registerBuiltinBackends(reg);
  auto fused = fusedProgram();
  REQUIRE(validateProgram(*fused).isOk());
  const std::vector<float> want = runProgram(fused, reg);

  auto split = splitPostOps(*fused, {true});
  REQUIRE(validateProgram(*split).isOk());
  CHECK(split->primitives.size() == 1 + 1 + 5 + 1); // conv, view, five post-ops, view
  const std::vector<float> got = runProgram(split, reg);
  for (size_t i = 0; i < want.size(); ++i)
    REQUIRE(got[i] == Approx(want[i]).epsilon(1e-6).margin(1e-7));
  // Clip to [0.2, 0.7] after a sigmoid: every value in range, some at each bound.
  CHECK(*std::min_element(want.begin(), want.end()) == 0.2f);
  CHECK(*std::max_element(want.begin(), want.end()) == 0.7f);

  // A registry whose only arithmetic backend lacks fused forms splits at load.
  BackendRegistry plain;
  plain.add(std::make_unique<PlainOnly>());
  const std::vector<float> viaPlain = runProgram(fused, plain);
  for (size_t i = 0; i < want.size(); ++i)
    REQUIRE(viaPlain[i] == Approx(want[i]).epsilon(1e-6).margin(1e-7));
}

TEST_CASE("artifact v2 keeps post-ops, layouts, the kernel plan, its fused chains and the target") {
  auto prog = fusedProgram();
  prog->backends = {"reference"};
  prog->kernels = {KernelChoice{0, {4, 16}}};
  prog->target = {"x86-64-avx2", 8, 2, 3};
  // y [1,4,6,5] into nchwc8 [1,1,6,5,8]: channel c of pixel p goes to p*8 + c; 4 zero channels.
  prog->tensors.push_back({"blocked", {DType::F32, {1, 4, 6, 5}, Layout::NCHWc8}, nullptr});
  RasterParams copy;
  copy.regions = {Region{0, {0, {0, 30, 1}}, {0, {0, 1, 8}}, {1, 4, 30}}};
  copy.fill = 0.0;
  prog->primitives.push_back({copy, {6}, {7}, "to_blocked"});
  prog->backends.push_back("");
  prog->kernels.emplace_back();
  prog->outputs.push_back(7);
  prog->fused = {1, 0}; // as a plan would mark a chain (the test reads it back only)
  REQUIRE(validateProgram(*prog).isOk());
  auto back = loadArtifact(writeArtifact(*prog, "test"));
  REQUIRE(back.isOk());
  const Program& b = **back;
  CHECK(b.primitives[0].params == prog->primitives[0].params);
  CHECK(b.primitives[1].params == prog->primitives[1].params);
  CHECK(b.kernels[0] == prog->kernels[0]);
  CHECK(b.fused == prog->fused);
  CHECK(b.target.isa == "x86-64-avx2");
  CHECK(b.target.block == 8);
  CHECK(b.target.threads == 2);
  CHECK(b.target.costModelVersion == 3);
  CHECK(b.tensors[7].desc.layout == Layout::NCHWc8);
  CHECK(b.tensors[7].desc.byteSize() == 6 * 5 * 8 * 4);
}

TEST_CASE("post-op validation names the operand and the reason") {
  auto prog = fusedProgram();
  auto& c = std::get<Conv2dParams>(prog->primitives[0].params);
  c.postOps[0].operand = 1; // the weight: not a post-op operand
  Status s = validateProgram(*prog);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.message() ==
        "conv2d 'conv': post-op 'add channel 1' names input 1 of 6 (post-op operands follow the "
        "first 3)");
  c.postOps[0].operand = 5; // the residual: too many elements for a per-channel operand
  s = validateProgram(*prog);
  CHECK(s.message() == "conv2d 'conv': post-op 'add channel 5' operand f32[1,4,6,5] does not hold "
                       "4 f32 elements");
  c.postOps[0].operand = 3;
  c.postOps[3] = PostOp::makeUnary(UnaryKind::Cast);
  CHECK_FALSE(validateProgram(*prog).isOk());
}
