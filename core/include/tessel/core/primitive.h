// Primitive: one raster or atomic operation over tensors named by id. The in-memory form shared by
// the decomposition rules, the MLIR passes (through attributes), the artifact and the backends.
#pragma once

#include "tessel/core/region.h"
#include "tessel/core/status.h"
#include "tessel/core/tensor_desc.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
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

enum class ReduceKind : uint8_t {
#define TESSEL_REDUCE(name, str) name,
#include "tessel/core/reduce.def"
#undef TESSEL_REDUCE
};

enum class PoolKind : uint8_t {
#define TESSEL_POOL(name, str) name,
#include "tessel/core/pool.def"
#undef TESSEL_POOL
};

enum class Broadcast : uint8_t {
#define TESSEL_BROADCAST(name, str) name,
#include "tessel/core/broadcast.def"
#undef TESSEL_BROADCAST
};

// Names of every kind enum, in enum order (from the .def files): the text form in MLIR, the
// bound a reader checks raw bytes against.
template <typename E> std::span<const std::string_view> enumNames();
template <typename E> int enumCount() {
  return static_cast<int>(enumNames<E>().size());
}
template <typename E> std::string_view enumName(E e) {
  const auto names = enumNames<E>();
  const auto i = static_cast<size_t>(e);
  return i < names.size() ? names[i] : std::string_view("?");
}
template <typename E> std::optional<E> enumFromName(std::string_view s) {
  const auto names = enumNames<E>();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

inline std::string_view primitiveName(PrimitiveKind k) {
  return enumName(k);
}
inline std::string_view unaryName(UnaryKind k) {
  return enumName(k);
}
inline std::string_view binaryName(BinaryKind k) {
  return enumName(k);
}
inline std::string_view reduceName(ReduceKind k) {
  return enumName(k);
}
inline std::string_view poolName(PoolKind k) {
  return enumName(k);
}
inline std::optional<PrimitiveKind> primitiveFromName(std::string_view s) {
  return enumFromName<PrimitiveKind>(s);
}
inline std::optional<UnaryKind> unaryFromName(std::string_view s) {
  return enumFromName<UnaryKind>(s);
}
inline std::optional<BinaryKind> binaryFromName(std::string_view s) {
  return enumFromName<BinaryKind>(s);
}
inline std::optional<ReduceKind> reduceFromName(std::string_view s) {
  return enumFromName<ReduceKind>(s);
}
inline std::optional<PoolKind> poolFromName(std::string_view s) {
  return enumFromName<PoolKind>(s);
}

// Families of binary kinds (binary.def): the arithmetic kinds up to Pow are the ones a post-op
// may carry; remainders are arithmetic too; comparisons give bools; logic takes and gives bools.
constexpr bool binaryInPostOps(BinaryKind k) {
  return k <= BinaryKind::Pow;
}
constexpr bool binaryIsComparison(BinaryKind k) {
  return k >= BinaryKind::Equal && k <= BinaryKind::GreaterOrEqual;
}
constexpr bool binaryIsLogic(BinaryKind k) {
  return k >= BinaryKind::And && k <= BinaryKind::Xor;
}
// Bit shifts: unsigned integers only.
constexpr bool binaryIsShift(BinaryKind k) {
  return k == BinaryKind::ShiftLeft || k == BinaryKind::ShiftRight;
}
// Reduce kinds whose result is an i64 index into the extent (argmax, argmin).
constexpr bool reduceGivesIndex(ReduceKind k) {
  return k == ReduceKind::ArgMax || k == ReduceKind::ArgMin;
}

// One step applied to every element v of a result, in list order: v = unary(v; alpha, beta), or
// v = v op x (x op v when operandFirst), x read from input `operand` as `broadcast` says. What
// "channel" means is the primitive's (conv2d: C of the output; matmul: n; elementwise: its
// channels field).
struct PostOp {
  bool isBinary = false;
  UnaryKind unary = UnaryKind::Identity;
  float alpha = 0.f;
  float beta = 0.f;
  BinaryKind binary = BinaryKind::Add;
  Broadcast broadcast = Broadcast::Scalar;
  int32_t operand = 0;
  bool operandFirst = false;
  bool operator==(const PostOp&) const = default;

  static PostOp makeUnary(UnaryKind k, float a = 0.f, float b = 0.f) {
    PostOp p;
    p.unary = k;
    p.alpha = a;
    p.beta = b;
    return p;
  }
  static PostOp makeBinary(BinaryKind k, Broadcast how, int32_t operand, bool first = false) {
    PostOp p;
    p.isBinary = true;
    p.binary = k;
    p.broadcast = how;
    p.operand = operand;
    p.operandFirst = first;
    return p;
  }
};

// Text form (MLIR attribute, reports): "relu", "clip 0 6", "add channel 2", "sub full 3 first".
std::string formatPostOp(const PostOp& op);
Result<PostOp> parsePostOp(std::string_view text);

// Field types of primitives.def.
using I64 = int64_t;
using F32 = float;
using Bool = bool;
using I64x2 = std::array<int64_t, 2>;
using I64x3 = std::array<int64_t, 3>;
using I64x4 = std::array<int64_t, 4>;
using I64List = Shape; // per-dim strides: rank-bounded, kept inline
using Regions = std::vector<Region>;
using OptF64 = std::optional<double>;
using PostOps = std::vector<PostOp>;

// One struct per primitive, NameParams, generated from primitives.def (semantics there).
#define TESSEL_PRIMITIVE(name, mnemonic) struct name##Params {
#define TESSEL_FIELD(prim, type, name, snake, ...) type name{__VA_ARGS__};
#define TESSEL_PRIMITIVE_END(name)                                                                 \
  bool operator==(const name##Params&) const = default;                                            \
  }                                                                                                \
  ;
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE

// visitFields(params, f) calls f("snake_name", field) for each field in table order: generic
// conversions (MLIR attributes) are written once over it.
#define TESSEL_PRIMITIVE(name, mnemonic)                                                           \
  template <typename F> void visitFields(name##Params& p, F&& f) {                                 \
    (void)p;                                                                                       \
    (void)f;
#define TESSEL_FIELD(prim, type, name, snake, ...) f(#snake, p.name);
#define TESSEL_PRIMITIVE_END(name) }
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE
#define TESSEL_PRIMITIVE(name, mnemonic)                                                           \
  template <typename F> void visitFields(const name##Params& p, F&& f) {                           \
    (void)p;                                                                                       \
    (void)f;
#define TESSEL_FIELD(prim, type, name, snake, ...) f(#snake, p.name);
#define TESSEL_PRIMITIVE_END(name) }
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE

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

// The post-op list of a conv2d, matmul or elementwise primitive (null for the others), and the
// number of inputs before the post-op operands.
const PostOps* postOpsOf(const Primitive& p);
PostOps* postOpsOf(Primitive& p);
size_t baseInputCount(const Primitive& p);
// Whether a reduce takes its input x as a 4-D tensor whose planes it reduces (a global pooling:
// outer N * C, extent H * W), so a blocked x reduces block by block to the same result.
bool reducesPlanes(const ReduceParams& r, const TensorDesc& x);

// How a raster that moves only whole, contiguous runs can share storage instead of copying
// (the session's planAliases): Slice, one contiguous run of its source fills its whole output
// (the output reads the source in place); Concat, each source whole and contiguous, once each,
// into disjoint ranges of its output (each source is written in place). Geometry only: whether
// storage is shared also depends on who else reads the tensors and where they are stored.
enum class RasterAlias { None, Slice, Concat };
RasterAlias rasterAlias(const RasterParams& r, std::span<const TensorDesc* const> sources,
                        const TensorDesc& out);

// Floating-point operations of one run (a multiply-add counts two); elementwise work counts one
// per output element and post-op; pure data movement counts none.
double primitiveFlops(const Primitive& p, const std::vector<TensorDesc>& tensors);

// The row of `extent` a gather index names (negative counts from the end), or an
// invalid-argument error naming the index (indices are data: a run can meet a bad one).
Result<int64_t> gatherRow(int64_t index, int64_t extent);
// Index j of a gather's i32 or i64 index tensor, as int64.
inline int64_t gatherIndexAt(const void* indices, bool wide, int64_t j) {
  return wide ? static_cast<const int64_t*>(indices)[j] : static_cast<const int32_t*>(indices)[j];
}

// Checks a primitive's params against its tensors' descriptions: counts, ranks, shapes, strides
// and region bounds. Every consumer of untrusted primitives calls this before running them.
Status validatePrimitive(const Primitive& p, const std::vector<TensorDesc>& tensors);
// The same over tensors described elsewhere: `count` of them, tensors[i] pointing at i's
// description (a program's tensors, checked without copying their descriptions).
Status validatePrimitive(const Primitive& p, std::span<const TensorDesc* const> tensors);

} // namespace tessel
