#include "tessel/core/primitive.h"

#include <catch2/catch.hpp>

using namespace tessel;

TEST_CASE("elementCount rejects negative dims and overflow") {
  CHECK(elementCount({2, 3, 4}).value() == 24);
  CHECK(elementCount({}).value() == 1);
  CHECK(elementCount({5, 0, 7}).value() == 0);
  CHECK_FALSE(elementCount({2, -1}).isOk());
  CHECK_FALSE(elementCount({1 << 20, 1 << 20, 1 << 20}).isOk());
}

TEST_CASE("denseStrides are row-major") {
  CHECK(denseStrides({2, 3, 4}) == Shape{12, 4, 1});
  CHECK(denseStrides({}).empty());
}

TEST_CASE("region bounds cover negative strides and empty regions") {
  Region r;
  r.src = {5, {0, 0, -1}};
  r.dst = {0, {0, 0, 1}};
  r.size = {1, 1, 6};
  CHECK(checkRegionBounds(r, 6, 6).isOk()); // reads 5..0
  r.src.offset = 4;
  CHECK_FALSE(checkRegionBounds(r, 6, 6).isOk()); // would read -1
  r.size = {1, 0, 6};
  CHECK(checkRegionBounds(r, 0, 0).isOk()); // empty: touches nothing
  r.size = {1, 1, 7};
  r.src.offset = 6;
  CHECK_FALSE(checkRegionBounds(r, 7, 6).isOk()); // writes past 6
}

TEST_CASE("regions flatten and unflatten losslessly") {
  Region a{1, {3, {1, 2, 3}}, {4, {5, 6, 7}}, {2, 3, 4}};
  Region b{0, {0, {0, 0, -1}}, {9, {0, 1, 1}}, {1, 1, 1}};
  auto back = unflattenRegions(flattenRegions({a, b}));
  REQUIRE(back.isOk());
  CHECK(back.value() == std::vector<Region>{a, b});
  CHECK_FALSE(unflattenRegions({1, 2, 3}).isOk());
}

TEST_CASE("validatePrimitive names the fault") {
  std::vector<TensorDesc> t = {{DType::F32, {2, 3}}, {DType::F32, {3, 2}}, {DType::F32, {4}}};
  Primitive p;
  p.params = UnaryParams{UnaryKind::Relu};
  p.inputs = {0};
  p.outputs = {1};
  p.origin = "relu_1";
  CHECK(validatePrimitive(p, t).isOk());
  p.outputs = {2};
  Status s = validatePrimitive(p, t);
  CHECK_FALSE(s.isOk());
  CHECK(s.message() == "unary 'relu_1': unary changes the element count");
  p.outputs = {7};
  CHECK(validatePrimitive(p, t).message().find("out of range") != std::string::npos);

  Primitive b;
  b.params = BinaryParams{BinaryKind::Add, {3, 1}, {0, 2}}; // rhs walks past its 4 elements
  b.inputs = {0, 2};
  b.outputs = {0};
  CHECK(validatePrimitive(b, t).message().find("rhs strides reach outside") != std::string::npos);
}

TEST_CASE("names round-trip through the X-macro lists") {
  for (int k = 0; k < enumCount<UnaryKind>(); ++k) {
    auto kind = static_cast<UnaryKind>(k);
    CHECK(unaryFromName(unaryName(kind)) == kind);
  }
  for (int k = 0; k < enumCount<BinaryKind>(); ++k) {
    auto kind = static_cast<BinaryKind>(k);
    CHECK(binaryFromName(binaryName(kind)) == kind);
  }
  CHECK(primitiveFromName("conv2d") == PrimitiveKind::Conv2d);
  CHECK_FALSE(primitiveFromName("gemm").has_value());
  CHECK(dtypeFromOnnx(1) == DType::F32);
  CHECK(dtypeToOnnx(DType::I64) == 7);
  CHECK_FALSE(dtypeFromOnnx(16).has_value());
}
