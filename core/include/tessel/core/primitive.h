// Primitive: one raster or atomic operation over tensors named by id. The in-memory form shared by
// the decomposition rules, the MLIR passes (through attributes), the artifact and the backends.
#pragma once

#include "tessel/core/region.h"
#include "tessel/core/tensor_desc.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tessel {

enum class PrimitiveKind : uint8_t {
#define TESSEL_PRIMITIVE(name, mnemonic) name,
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE
};

enum class UnaryKind : uint8_t {
#define TESSEL_UNARY(name, str) name,
#include "tessel/core/unary.def"
#undef TESSEL_UNARY
};

enum class BinaryKind : uint8_t {
#define TESSEL_BINARY(name, str) name,
#include "tessel/core/binary.def"
#undef TESSEL_BINARY
};

inline constexpr int kUnaryKindCount = 0
#define TESSEL_UNARY(name, str) +1
#include "tessel/core/unary.def"
#undef TESSEL_UNARY
    ;
inline constexpr int kBinaryKindCount = 0
#define TESSEL_BINARY(name, str) +1
#include "tessel/core/binary.def"
#undef TESSEL_BINARY
    ;

enum class ReduceKind : uint8_t { Sum, Mean, Max, Min };
enum class PoolKind : uint8_t { Max, Avg };

std::string_view primitiveName(PrimitiveKind k);
std::string_view unaryName(UnaryKind k);
std::string_view binaryName(BinaryKind k);
std::string_view reduceName(ReduceKind k);
std::string_view poolName(PoolKind k);
std::optional<PrimitiveKind> primitiveFromName(std::string_view s);
std::optional<UnaryKind> unaryFromName(std::string_view s);
std::optional<BinaryKind> binaryFromName(std::string_view s);
std::optional<ReduceKind> reduceFromName(std::string_view s);
std::optional<PoolKind> poolFromName(std::string_view s);

// Inputs: one or more sources (Region::source indexes them). Output elements no region writes are
// set to `fill` when present; a raster without fill must cover its output.
struct RasterParams {
  std::vector<Region> regions;
  std::optional<double> fill;
  bool operator==(const RasterParams&) const = default;
};

// Input and output have the same element count; the output is the input's bytes, reshaped.
struct ViewParams {
  bool operator==(const ViewParams&) const = default;
};

// Elementwise over dense tensors of equal element count.
struct UnaryParams {
  UnaryKind kind = UnaryKind::Identity;
  float alpha = 0.f;
  float beta = 0.f;
  bool operator==(const UnaryParams&) const = default;
};

// out[idx] = lhs[idx . lhsStrides] op rhs[idx . rhsStrides], idx over the output's shape; a zero
// stride broadcasts.
struct BinaryParams {
  BinaryKind kind = BinaryKind::Add;
  std::vector<int64_t> lhsStrides;
  std::vector<int64_t> rhsStrides;
  bool operator==(const BinaryParams&) const = default;
};

// The input viewed as [outer, extent, inner] reduces its middle dim into [outer, inner].
struct ReduceParams {
  ReduceKind kind = ReduceKind::Sum;
  int64_t outer = 1;
  int64_t extent = 1;
  int64_t inner = 1;
  bool operator==(const ReduceParams&) const = default;
};

// out[b, m, n] = sum_k a[b*as0 + m*as1 + k*as2] * b[b*bs0 + k*bs1 + n*bs2] (+ bias[m*cs0 + n*cs1]);
// out is dense [batch, m, n]. Inputs: a, b and optionally bias.
struct MatMulParams {
  int64_t batch = 1, m = 1, n = 1, k = 1;
  std::array<int64_t, 3> aStrides{};
  std::array<int64_t, 3> bStrides{};
  bool hasBias = false;
  std::array<int64_t, 2> biasStrides{};
  bool operator==(const MatMulParams&) const = default;
};

enum class Activation : uint8_t { None, Relu, Clip };

// NCHW input, OIHW weight (I = C / group), optional bias [O], NCHW output. The activation is
// applied after the bias; Clip bounds to [actMin, actMax].
struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 4> pads{}; // top, left, bottom, right
  std::array<int64_t, 2> dilation{1, 1};
  int64_t group = 1;
  bool hasBias = false;
  Activation activation = Activation::None;
  float actMin = 0.f;
  float actMax = 0.f;
  bool operator==(const Conv2dParams&) const = default;
};

// NCHW pooling; padded elements are ignored by max and, unless countIncludePad, by avg.
struct PoolParams {
  PoolKind kind = PoolKind::Max;
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 4> pads{};
  bool countIncludePad = false;
  bool operator==(const PoolParams&) const = default;
};

using PrimitiveParams = std::variant<
#define TESSEL_PRIMITIVE(name, mnemonic) name##Params,
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE
    std::monostate>;

struct Primitive {
  PrimitiveParams params;
  std::vector<int32_t> inputs;  // tensor ids
  std::vector<int32_t> outputs; // tensor ids
  std::string origin;           // the model node it came from, for error messages

  PrimitiveKind kind() const { return static_cast<PrimitiveKind>(params.index()); }
  template <typename P> const P& as() const { return std::get<P>(params); }
};

// Checks a primitive's params against its tensors' descriptions: counts, ranks, shapes, strides
// and region bounds. Every consumer of untrusted primitives calls this before running them.
Status validatePrimitive(const Primitive& p, const std::vector<TensorDesc>& tensors);

} // namespace tessel
