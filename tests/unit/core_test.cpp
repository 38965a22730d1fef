#include "tessel/core/primitive.h"

#include <catch2/catch.hpp>

using namespace tessel;

TEST_CASE("elementCount rejects negative dims and overflow") {
  CHECK(elementCount({2, 3, 4}).value() == 24);
  CHECK(elementCount({}).value() == 1);
  CHECK(elementCount({5, 0, 7}).value() == 0);
  // Empty, yet its strides would overflow: refused (an artifact fuzzer finding).
  CHECK_FALSE(elementCount({0, int64_t{1} << 62, int64_t{1} << 62}).isOk());
  CHECK(elementCount({int64_t{1} << 40, 0, 1 << 8}).value() == 0);
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

TEST_CASE("a raster without fill must write every output element") {
  // A 2x3 output from a 3x2 input: the transpose (one region), then damaged covers.
  std::vector<TensorDesc> t = {{DType::F32, {3, 2}}, {DType::F32, {2, 3}}};
  RasterParams r;
  r.regions = {Region{0, {0, {0, 1, 2}}, {0, {0, 3, 1}}, {1, 2, 3}}};
  Primitive p{r, {0}, {1}, "transpose"};
  CHECK(validatePrimitive(p, t).isOk());
  // One element short: the last column of the second row.
  p.params = RasterParams{{Region{0, {0, {0, 1, 2}}, {0, {0, 3, 1}}, {1, 2, 2}},
                           Region{0, {4, {0, 0, 1}}, {2, {0, 0, 1}}, {1, 1, 1}}},
                          std::nullopt};
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("writes at most 5 of its 6"));
  // Six writes, one element twice and one never.
  p.params = RasterParams{{Region{0, {0, {0, 1, 2}}, {0, {0, 3, 1}}, {1, 2, 2}},
                           Region{0, {4, {0, 0, 1}}, {2, {0, 0, 1}}, {1, 1, 1}},
                           Region{0, {5, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 1}}},
                          std::nullopt};
  CHECK_THAT(validatePrimitive(p, t).message(),
             Catch::Contains("leaves output element 5 unwritten"));
  // No regions at all; with a fill the same raster is fine.
  p.params = RasterParams{};
  CHECK_FALSE(validatePrimitive(p, t).isOk());
  p.params = RasterParams{{}, 0.0};
  CHECK(validatePrimitive(p, t).isOk());
  // Writing the output many times over is refused (a run would do that work).
  std::vector<Region> many(50, Region{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 6}});
  p.params = RasterParams{many, std::nullopt};
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("more than 8 times"));
}

TEST_CASE("raster cover past the bitmap limit: dense disjoint regions only") {
  const int64_t n = kCoverBitmapLimit + 10, half = n / 2;
  const Region lo{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, half}};
  const Region hi{0, {0, {0, 0, 1}}, {half, {0, 0, 1}}, {1, 1, n - half}};
  CHECK(checkRegionsCover({hi, lo}, n).isOk());
  Region gap = hi;
  gap.dst.offset += 1;
  gap.size[2] -= 1;
  CHECK_FALSE(checkRegionsCover({lo, gap}, n).isOk());
  // Two rows of a strided region (not dense) cannot be verified this way.
  const Region strided{0, {0, {0, 0, 1}}, {0, {0, 2, 1}}, {1, 2, 1}};
  const Status s = checkRegionsCover({lo, hi, strided}, n);
  CHECK(s.code() == StatusCode::kUnsupported);
}

TEST_CASE("matmul: k must walk its operands") {
  std::vector<TensorDesc> t = {{DType::F32, {2, 5}}, {DType::F32, {5, 3}}, {DType::F32, {2, 3}}};
  MatMulParams m;
  m.m = 2, m.n = 3, m.k = 5;
  m.aStrides = {0, 5, 1};
  m.bStrides = {0, 3, 1};
  Primitive p{m, {0, 1}, {2}, "gemm"};
  CHECK(validatePrimitive(p, t).isOk());
  m.aStrides = {0, 5, 0}; // the same element of a k times
  p.params = m;
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("zero stride along k"));
}

TEST_CASE("gather: index dtype, dims and layouts are checked against its tensors") {
  std::vector<TensorDesc> t = {{DType::U8, {4, 5, 3}},
                               {DType::I32, {2, 7}},
                               {DType::U8, {4, 14, 3}},
                               {DType::F32, {14}},
                               {DType::F32, {4, 14, 3}}};
  Primitive p{GatherParams{4, 5, 3}, {0, 1}, {2}, "g"};
  CHECK(validatePrimitive(p, t).isOk());
  p.params = GatherParams{4, 15, 1}; // the same element count, another reading
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("gather dims do not match"));
  p.params = GatherParams{4, 5, 3};
  p.inputs = {0, 3};
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("gather indices are f32"));
  p.inputs = {0, 1};
  p.outputs = {4};
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("changes the dtype"));
  p.outputs = {2};
  p.inputs = {0};
  CHECK_FALSE(validatePrimitive(p, t).isOk());
  p.inputs = {0, 1};
  t[0].layout = Layout::NCHWc8;
  CHECK_FALSE(validatePrimitive(p, t).isOk());
  t[0].layout = Layout::Plain;
  p.params = GatherParams{-4, -5, 3};
  CHECK_FALSE(validatePrimitive(p, t).isOk());
  CHECK(gatherRow(-5, 5).value() == 0);
  CHECK(gatherRow(4, 5).value() == 4);
  CHECK(gatherRow(5, 5).status().code() == StatusCode::kInvalidArgument);
  CHECK(gatherRow(-6, 5).status().code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(gatherRow(0, 0).isOk());
}

TEST_CASE("reduce: argmax/argmin give i64 over a non-empty extent; others keep the dtype") {
  std::vector<TensorDesc> t = {{DType::F32, {2, 5, 3}},
                               {DType::I64, {2, 1, 3}},
                               {DType::F32, {2, 1, 3}},
                               {DType::F32, {2, 0, 3}},
                               {DType::I64, {2, 3}}};
  Primitive p{ReduceParams{ReduceKind::ArgMax, 2, 5, 3}, {0}, {1}, "argmax"};
  CHECK(validatePrimitive(p, t).isOk());
  p.outputs = {2};
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("argmax/argmin give i64"));
  p.params = ReduceParams{ReduceKind::Max, 2, 5, 3};
  CHECK(validatePrimitive(p, t).isOk());
  p.outputs = {1};
  CHECK_THAT(validatePrimitive(p, t).message(), Catch::Contains("reduce changes the dtype"));
  p.params = ReduceParams{ReduceKind::ArgMin, 2, 0, 3}; // no element to point at
  p.inputs = {3};
  p.outputs = {4};
  CHECK_FALSE(validatePrimitive(p, t).isOk());
}
