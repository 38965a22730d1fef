#include "tessel/core/primitive.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

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

// Shape keeps up to kInlineDims dims in place and moves to the heap past them: every operation
// is checked against std::vector across that line, both ways.
TEST_CASE("Shape behaves as std::vector<int64_t> inline and on the heap") {
  const auto same = [](const Shape& s, const std::vector<int64_t>& v) {
    return s.size() == v.size() && std::equal(s.begin(), s.end(), v.begin());
  };
  for (size_t n = 0; n <= 2 * Shape::kInlineDims + 1; ++n) {
    std::vector<int64_t> v;
    Shape s;
    for (size_t i = 0; i < n; ++i) {
      v.push_back(static_cast<int64_t>(i * 7 + 1));
      s.push_back(static_cast<int64_t>(i * 7 + 1));
    }
    REQUIRE(same(s, v));
    // Copies and moves between inline and heap shapes, in both directions.
    Shape copy = s;
    CHECK(same(copy, v));
    Shape small{9}, big(3 * Shape::kInlineDims, 4);
    small = s;
    big = s;
    CHECK((same(small, v) && same(big, v)));
    Shape moved = std::move(copy);
    CHECK(same(moved, v));
    CHECK(copy.empty()); // NOLINT: moved-from is empty, and usable
    copy.push_back(5);
    CHECK(copy == Shape{5});
    Shape target(2 * Shape::kInlineDims, 1);
    target = std::move(moved);
    CHECK(same(target, v));
    swap(target, small);
    CHECK(same(small, v));
    // Inserts at the front, the middle and the end, from its own dims too; erases.
    std::vector<int64_t> w = v;
    Shape t = s;
    w.insert(w.begin(), 2, -1);
    t.insert(t.begin(), 2, -1);
    w.insert(w.begin() + static_cast<int64_t>(w.size() / 2), {8, 9});
    t.insert(t.begin() + static_cast<int64_t>(t.size() / 2), {8, 9});
    const std::vector<int64_t> head(w.begin(), w.begin() + static_cast<int64_t>(n));
    w.insert(w.end(), head.begin(), head.end());
    t.insert(t.end(), t.begin(), t.begin() + static_cast<int64_t>(n)); // its own first n dims
    CHECK(same(t, w));
    w.erase(w.begin() + 1, w.begin() + 3);
    t.erase(t.begin() + 1, t.begin() + 3);
    w.erase(w.begin());
    t.erase(t.begin());
    CHECK(same(t, w));
    w.resize(n / 2);
    t.resize(n / 2);
    CHECK(same(t, w));
    w.resize(n + 3, 6);
    t.resize(n + 3, 6);
    CHECK(same(t, w));
    CHECK(same(Shape(v), v));
    CHECK(same(Shape(std::span<const int64_t>(v)), v));
    CHECK(std::vector<int64_t>(s.vec()) == v);
    CHECK(s == v);
  }
  CHECK(Shape{1, 2} < Shape{1, 3});
  CHECK(Shape{1, 2} < Shape{1, 2, 0});
  CHECK_FALSE(Shape{2} < Shape{1, 9});
  CHECK(Shape(3, 7) == Shape{7, 7, 7});
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
  CHECK(dtypeFromOnnx(16) == DType::BF16);
  CHECK_FALSE(dtypeFromOnnx(8).has_value()); // string
}

TEST_CASE("f16 and bf16 convert from f32 rounding to nearest even") {
  // Exact values, the largest and smallest normal and subnormal halves.
  for (const float v : {0.f, -0.f, 1.f, -2.5f, 65504.f, 6.103515625e-5f, 5.9604644775390625e-8f})
    CHECK(halfToFloat(floatToHalf(v)) == v);
  CHECK(floatToHalf(1.f) == 0x3c00);
  CHECK(floatToHalf(-0.f) == 0x8000);
  // Ties: 1 + 2^-11 lies halfway between 1 and the next half up; even (1) wins; 1 + 3 * 2^-11
  // rounds up to the even 1 + 2^-9.
  CHECK(floatToHalf(1.f + 0x1p-11f) == 0x3c00);
  CHECK(floatToHalf(1.f + 3 * 0x1p-11f) == 0x3c02);
  CHECK(floatToHalf(1.f + 0x1p-11f + 0x1p-20f) == 0x3c01); // past the tie
  // Overflow: 65520 is the tie above 65504 and rounds to infinity; below it to 65504.
  CHECK(floatToHalf(65519.f) == 0x7bff);
  CHECK(floatToHalf(65520.f) == 0x7c00);
  CHECK(floatToHalf(-1e10f) == 0xfc00);
  CHECK(std::isinf(halfToFloat(0x7c00)));
  // Subnormals: 2^-25 is the tie between 0 and the smallest subnormal (0 is even); 3 * 2^-25
  // rounds to 2 units.
  CHECK(floatToHalf(0x1p-25f) == 0x0000);
  CHECK(floatToHalf(3 * 0x1p-25f) == 0x0002);
  CHECK(floatToHalf(0x1p-14f - 0x1p-26f) == 0x0400); // rounds up into the normals
  CHECK(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
  CHECK(halfToFloat(0x3555) == Approx(0.33325195f).epsilon(0));
  // bf16: the upper half of an f32, rounded to nearest even.
  CHECK(floatToBfloat16(1.f) == 0x3f80);
  CHECK(floatToBfloat16(1.f + 0x1p-8f) == 0x3f80);     // tie to even
  CHECK(floatToBfloat16(1.f + 3 * 0x1p-8f) == 0x3f82); // tie to even, up
  CHECK(bfloat16ToFloat(0x4049) == 3.140625f);
  CHECK(std::isnan(bfloat16ToFloat(floatToBfloat16(std::nanf("")))));
  CHECK(floatToBfloat16(3.4e38f) == 0x7f80); // rounds past the largest: infinity
}

TEST_CASE("castElement: floats saturate into integers, integers wrap, doubles round once") {
  const auto cast = [](DType from, const auto& v, DType to) {
    uint64_t out = 0;
    castElement(from, &v, to, &out);
    return out;
  };
  CHECK(cast(DType::F32, 300.f, DType::U8) == 255);
  CHECK(cast(DType::F32, -5.7f, DType::U8) == 0);
  CHECK(cast(DType::F32, std::nanf(""), DType::I32) == 0);
  CHECK(static_cast<int16_t>(cast(DType::F64, -1e9, DType::I16)) == INT16_MIN);
  CHECK(cast(DType::F64, 1e30, DType::U64) == UINT64_MAX);
  CHECK(cast(DType::I64, int64_t{-1}, DType::U16) == 0xffff); // the low bits
  CHECK(cast(DType::I32, int32_t{70000}, DType::I16) == static_cast<uint16_t>(4464));
  CHECK(cast(DType::U64, UINT64_MAX, DType::I8) == 0xff);
  CHECK(cast(DType::I8, int8_t{-3}, DType::I64) == static_cast<uint64_t>(-3));
  CHECK(cast(DType::U32, uint32_t{2}, DType::Bool) == 1);
  CHECK(cast(DType::F32, -0.f, DType::Bool) == 0);
  double d = 0;
  uint64_t bits = cast(DType::U64, UINT64_MAX, DType::F64);
  std::memcpy(&d, &bits, 8);
  CHECK(d == 18446744073709551615.0);
  // f64 -> f16 in one rounding: 1 + 2^-11 + 2^-40 is just past the tie, so it rounds up,
  // where a detour through f32 (which rounds it to the tie itself) would give 1.
  CHECK(cast(DType::F64, 1.0 + 0x1p-11 + 0x1p-40, DType::F16) == 0x3c01);
  CHECK(cast(DType::F64, 1.0 + 0x1p-8 + 0x1p-40, DType::BF16) == 0x3f81);
  CHECK(cast(DType::F16, uint16_t{0xc500}, DType::I32) == static_cast<uint32_t>(-5));
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

TEST_CASE("rasters that can share storage instead of copying (rasterAlias)") {
  const TensorDesc a{DType::F32, {1, 2, 3}}, b{DType::F32, {1, 2, 3}}, ab{DType::F32, {1, 4, 3}};
  const TensorDesc* two[] = {&a, &b};
  const auto run = [](int32_t source, int64_t src, int64_t dst, int64_t n) {
    return Region{source, {src, {0, 0, 1}}, {dst, {0, 0, 1}}, {1, 1, n}};
  };
  RasterParams concat{{run(0, 0, 0, 6), run(1, 0, 6, 6)}, std::nullopt};
  CHECK(rasterAlias(concat, two, ab) == RasterAlias::Concat);
  // Ranges that overlap, a source twice, part of a source, a fill: copies.
  CHECK(rasterAlias({{run(0, 0, 0, 6), run(1, 0, 3, 6)}, std::nullopt}, two, ab) ==
        RasterAlias::None);
  CHECK(rasterAlias({{run(0, 0, 0, 6), run(0, 0, 6, 6)}, std::nullopt}, two, ab) ==
        RasterAlias::None);
  CHECK(rasterAlias({{run(0, 0, 0, 3), run(1, 0, 6, 6)}, std::nullopt}, two, ab) ==
        RasterAlias::None);
  CHECK(rasterAlias({concat.regions, 0.0}, two, ab) == RasterAlias::None);
  // A contiguous slice filling the output: read in place; a strided one (a transpose) is not.
  const TensorDesc* whole[] = {&ab};
  CHECK(rasterAlias({{run(0, 6, 0, 6)}, std::nullopt}, whole, a) == RasterAlias::Slice);
  const Region transpose{0, {0, {0, 1, 3}}, {0, {0, 2, 1}}, {1, 3, 2}};
  CHECK(rasterAlias({{transpose}, std::nullopt}, two, a) == RasterAlias::None);
  // A region naming a source that is not there.
  CHECK(rasterAlias({{run(2, 0, 0, 6), run(1, 0, 6, 6)}, std::nullopt}, two, ab) ==
        RasterAlias::None);
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
  // Many regions of different sizes (a concat of 80 inputs): past the groups the check keeps,
  // each is a block of its own.
  std::vector<Region> pieces;
  int64_t at = 0;
  for (int64_t k = 1; k < 80; ++k) {
    pieces.push_back(Region{0, {0, {0, 0, 1}}, {at, {0, 0, 1}}, {1, 1, k}});
    at += k;
  }
  pieces.push_back(Region{0, {0, {0, 0, 1}}, {at, {0, 0, 1}}, {1, 1, n - at}});
  CHECK(checkRegionsCover(pieces, n).isOk());
  pieces.back().dst.offset += 1;
  pieces.back().size[2] -= 1;
  CHECK_FALSE(checkRegionsCover(pieces, n).isOk());
  // Two rows of a strided region (not dense) cannot be verified this way.
  const Region strided{0, {0, {0, 0, 1}}, {0, {0, 2, 1}}, {1, 2, 1}};
  const Status s = checkRegionsCover({lo, hi, strided}, n);
  CHECK(s.code() == StatusCode::kUnsupported);
}

TEST_CASE("raster cover past the bitmap limit: phases that interleave into one dense block") {
  // A nearest 2x upsample of c planes of 128x128: four phases at offsets {0, 1, 256, 257}, the
  // block {0, 1} + {0, 256} of strides 1 and 256 inside each phase's walk; one reversed.
  const int64_t c = (kCoverBitmapLimit >> 16) + 1, plane = 256 * 256, n = c * plane;
  std::vector<Region> phases;
  for (int64_t offset : {0, 1, 256, 257})
    phases.push_back(Region{0, {0, {0, 0, 0}}, {offset, {plane, 512, 2}}, {c, 128, 128}});
  CHECK(checkRegionsCover(phases, n).isOk());
  std::vector<Region> reversed = phases;
  reversed[2].dst = {256 + 127 * 2, {plane, 512, -2}};
  CHECK(checkRegionsCover(reversed, n).isOk());
  // A phase shifted by one (not a product of progressions) or written twice cannot be verified.
  std::vector<Region> shifted = phases;
  shifted[3].dst.offset = 258;
  CHECK(checkRegionsCover(shifted, n).code() == StatusCode::kUnsupported);
  std::vector<Region> twice = phases;
  twice[3].dst.offset = 256;
  CHECK(checkRegionsCover(twice, n).code() == StatusCode::kUnsupported);
  // The same blocks show that no element is written twice; a repeated or overlapping phase, or
  // one block overlapping another, does not (false says nothing either way).
  CHECK(regionsWriteOnceDense(phases));
  CHECK(regionsWriteOnceDense(reversed));
  const Region head{0, {0, {0, 0, 1}}, {0, {0, 0, 1}}, {1, 1, 10}};
  Region tail = head;
  tail.dst.offset = 20;
  CHECK(regionsWriteOnceDense({tail, head})); // elements 10 to 19 unwritten: still once
  CHECK_FALSE(regionsWriteOnceDense(twice));
  CHECK_FALSE(regionsWriteOnceDense(shifted));
  std::vector<Region> overlapping = phases;
  overlapping.push_back(Region{0, {0, {0, 0, 1}}, {n - 4, {0, 0, 1}}, {1, 1, 4}});
  CHECK_FALSE(regionsWriteOnceDense(overlapping));
  // Phases of stride 2 inside a 3x upsample (a third of each row never written): not dense.
  std::vector<Region> sparse = phases;
  for (Region& r : sparse)
    r.dst.stride[2] = 3;
  CHECK_FALSE(checkRegionsCover(sparse, n).isOk());
}

TEST_CASE("raster cover of interleaved strided regions is checked word by word and exactly") {
  // A nearest 2x upsample of rows of w: each output row written by two phases of stride 2, at
  // odd sizes and offsets that cross words; a reversed (negative-stride) phase too.
  for (int64_t w : {1, 3, 31, 32, 33, 100}) {
    for (int64_t stride : {2, 4, 3}) {
      const int64_t rows = 5, width = w * stride, n = rows * width;
      std::vector<Region> phases;
      for (int64_t p = 0; p < stride; ++p)
        phases.push_back(Region{0, {0, {0, 0, 0}}, {p, {0, width, stride}}, {1, rows, w}});
      CHECK(checkRegionsCover(phases, n).isOk());
      // Reversed: the same elements from the last one backwards.
      std::vector<Region> reversed = phases;
      reversed[0].dst = {(w - 1) * stride, {0, width, -stride}};
      CHECK(checkRegionsCover(reversed, n).isOk());
      // The last column of one phase missing (its rows written again at element 0 instead, so
      // the total stays): refused, naming an element.
      std::vector<Region> gap = phases;
      gap.back().size[2] -= 1;
      gap.push_back(Region{0, {0, {0, 0, 0}}, {0, {0, 0, 0}}, {1, 1, rows}});
      CHECK_THAT(checkRegionsCover(gap, n).message(), Catch::Contains("unwritten"));
    }
  }
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
