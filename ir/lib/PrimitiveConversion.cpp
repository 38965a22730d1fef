#include "tessel/ir/PrimitiveConversion.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cstring>

namespace tessel::ir {
namespace {

// One pair of converters per field type of primitives.def: attribute -> field (an absent
// attribute keeps the struct's default, which is also the ODS default) and field -> attribute.
Status badAttr(llvm::StringRef name, const char* want) {
  return corrupt("attribute '" + name.str() + "' is not " + want);
}

Status fromAttr(mlir::Attribute a, llvm::StringRef name, int64_t& out) {
  auto i = a.dyn_cast<mlir::IntegerAttr>();
  if (!i) return badAttr(name, "an integer");
  out = i.getInt();
  return Status::ok();
}
Status fromAttr(mlir::Attribute a, llvm::StringRef name, float& out) {
  auto f = a.dyn_cast<mlir::FloatAttr>();
  if (!f) return badAttr(name, "a float");
  out = static_cast<float>(f.getValueAsDouble());
  return Status::ok();
}
Status fromAttr(mlir::Attribute a, llvm::StringRef name, bool& out) {
  auto b = a.dyn_cast<mlir::BoolAttr>();
  if (!b) return badAttr(name, "a bool");
  out = b.getValue();
  return Status::ok();
}
Status fromAttr(mlir::Attribute a, llvm::StringRef name, I64List& out) {
  auto d = a.dyn_cast<mlir::DenseI64ArrayAttr>();
  if (!d) return badAttr(name, "an i64 array");
  out.assign(d.asArrayRef().begin(), d.asArrayRef().end());
  return Status::ok();
}
template <size_t N>
Status fromAttr(mlir::Attribute a, llvm::StringRef name, std::array<int64_t, N>& out) {
  I64List v;
  TESSEL_RETURN_IF_ERROR(fromAttr(a, name, v));
  if (v.size() != N)
    return corrupt("attribute '" + name.str() + "' must have " + std::to_string(N) + " values");
  std::copy(v.begin(), v.end(), out.begin());
  return Status::ok();
}
Status fromAttr(mlir::Attribute a, llvm::StringRef name, Regions& out) {
  I64List flat;
  TESSEL_RETURN_IF_ERROR(fromAttr(a, name, flat));
  TESSEL_ASSIGN_OR_RETURN(out, unflattenRegions(flat.vec()));
  return Status::ok();
}
Status fromAttr(mlir::Attribute a, llvm::StringRef name, OptF64& out) {
  auto f = a.dyn_cast<mlir::FloatAttr>();
  if (!f) return badAttr(name, "a float");
  out = f.getValueAsDouble();
  return Status::ok();
}
Status fromAttr(mlir::Attribute a, llvm::StringRef name, PostOps& out) {
  auto list = a.dyn_cast<mlir::ArrayAttr>();
  if (!list) return badAttr(name, "an array of strings");
  for (mlir::Attribute e : list) {
    auto str = e.dyn_cast<mlir::StringAttr>();
    if (!str) return badAttr(name, "an array of strings");
    TESSEL_ASSIGN_OR_RETURN(PostOp op, parsePostOp(str.getValue().str()));
    out.push_back(op);
  }
  return Status::ok();
}
template <typename E>
requires std::is_enum_v<E> Status fromAttr(mlir::Attribute a, llvm::StringRef name, E& out) {
  auto str = a.dyn_cast<mlir::StringAttr>();
  if (!str) return badAttr(name, "a string");
  auto v = enumFromName<E>(str.getValue().str());
  if (!v) return corrupt("unknown " + name.str() + " '" + str.getValue().str() + "'");
  out = *v;
  return Status::ok();
}

mlir::Attribute toAttr(mlir::Builder& b, int64_t v) {
  return b.getI64IntegerAttr(v);
}
mlir::Attribute toAttr(mlir::Builder& b, float v) {
  return b.getF32FloatAttr(v);
}
mlir::Attribute toAttr(mlir::Builder& b, bool v) {
  return b.getBoolAttr(v);
}
mlir::Attribute toAttr(mlir::Builder& b, const I64List& v) {
  return b.getDenseI64ArrayAttr(llvm::ArrayRef<int64_t>(v.data(), v.size()));
}
template <size_t N> mlir::Attribute toAttr(mlir::Builder& b, const std::array<int64_t, N>& v) {
  return b.getDenseI64ArrayAttr(llvm::ArrayRef<int64_t>(v.data(), N));
}
mlir::Attribute toAttr(mlir::Builder& b, const Regions& v) {
  return b.getDenseI64ArrayAttr(flattenRegions(v));
}
mlir::Attribute toAttr(mlir::Builder& b, const OptF64& v) {
  return v ? b.getF64FloatAttr(*v) : mlir::Attribute();
}
mlir::Attribute toAttr(mlir::Builder& b, const PostOps& v) {
  if (v.empty()) return {}; // the ODS default
  llvm::SmallVector<mlir::Attribute> items;
  for (const PostOp& op : v)
    items.push_back(b.getStringAttr(formatPostOp(op)));
  return b.getArrayAttr(items);
}
template <typename E>
requires std::is_enum_v<E> mlir::Attribute toAttr(mlir::Builder& b, E v) {
  return b.getStringAttr(enumName(v));
}

// A default-constructed params struct of the given kind.
PrimitiveParams defaultParams(PrimitiveKind kind) {
  switch (kind) {
#define TESSEL_PRIMITIVE(name, mnemonic)                                                           \
  case PrimitiveKind::name:                                                                        \
    return name##Params{};
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE
  }
  return std::monostate{};
}

std::optional<PrimitiveKind> kindOf(mlir::Operation* op) {
  if (op->getName().getDialectNamespace() != "tessel") return std::nullopt;
  return primitiveFromName(op->getName().stripDialect().str());
}

Result<PrimitiveParams> paramsOf(mlir::Operation* op) {
  auto kind = kindOf(op);
  if (!kind) return corrupt("'" + op->getName().getStringRef().str() + "' is not a primitive");
  PrimitiveParams params = defaultParams(*kind);
  Status status;
  std::visit(
      [&](auto& p) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(p)>, std::monostate>)
          visitFields(p, [&](const char* name, auto& field) {
            if (!status.isOk()) return;
            if (mlir::Attribute a = op->getAttr(name)) status = fromAttr(a, name, field);
          });
      },
      params);
  TESSEL_RETURN_IF_ERROR(status);
  return params;
}

} // namespace

mlir::Type toMlirType(mlir::MLIRContext* ctx, const TensorDesc& desc) {
  mlir::Type elt;
  switch (desc.dtype) {
  case DType::F32: elt = mlir::Float32Type::get(ctx); break;
  case DType::F64: elt = mlir::Float64Type::get(ctx); break;
  case DType::I64: elt = mlir::IntegerType::get(ctx, 64); break;
  case DType::I32: elt = mlir::IntegerType::get(ctx, 32); break;
  case DType::I8: elt = mlir::IntegerType::get(ctx, 8); break;
  case DType::U8: elt = mlir::IntegerType::get(ctx, 8, mlir::IntegerType::Unsigned); break;
  case DType::Bool: elt = mlir::IntegerType::get(ctx, 1); break;
  case DType::F16: elt = mlir::Float16Type::get(ctx); break;
  case DType::BF16: elt = mlir::BFloat16Type::get(ctx); break;
  case DType::I16: elt = mlir::IntegerType::get(ctx, 16); break;
  case DType::U16: elt = mlir::IntegerType::get(ctx, 16, mlir::IntegerType::Unsigned); break;
  case DType::U32: elt = mlir::IntegerType::get(ctx, 32, mlir::IntegerType::Unsigned); break;
  case DType::U64: elt = mlir::IntegerType::get(ctx, 64, mlir::IntegerType::Unsigned); break;
  case DType::Undefined: return mlir::NoneType::get(ctx);
  }
  return mlir::RankedTensorType::get(llvm::ArrayRef(desc.shape.data(), desc.shape.size()), elt);
}

Result<DType> dtypeFromElementType(mlir::Type t) {
  if (t.isF32()) return DType::F32;
  if (t.isF64()) return DType::F64;
  if (t.isInteger(1)) return DType::Bool;
  if (t.isUnsignedInteger(8)) return DType::U8;
  if (t.isSignlessInteger(8)) return DType::I8;
  if (t.isSignlessInteger(32)) return DType::I32;
  if (t.isSignlessInteger(64)) return DType::I64;
  if (t.isF16()) return DType::F16;
  if (t.isBF16()) return DType::BF16;
  if (t.isSignlessInteger(16)) return DType::I16;
  if (t.isUnsignedInteger(16)) return DType::U16;
  if (t.isUnsignedInteger(32)) return DType::U32;
  if (t.isUnsignedInteger(64)) return DType::U64;
  return unsupported("element type is not one of Tessel's dtypes");
}

Result<TensorDesc> fromMlirType(mlir::Type type) {
  auto ranked = type.dyn_cast<mlir::RankedTensorType>();
  if (!ranked) return invalidArgument("expected a ranked tensor type");
  if (!ranked.hasStaticShape()) return unsupported("dynamic shapes are not supported yet");
  TESSEL_ASSIGN_OR_RETURN(DType dt, dtypeFromElementType(ranked.getElementType()));
  return TensorDesc{dt, Shape(ranked.getShape().begin(), ranked.getShape().end())};
}

bool isPrimitiveOp(mlir::Operation* op) {
  return kindOf(op).has_value();
}

Result<Primitive> primitiveFromOp(mlir::Operation* op) {
  Primitive p;
  TESSEL_ASSIGN_OR_RETURN(p.params, paramsOf(op));
  for (unsigned i = 0; i < op->getNumOperands(); ++i)
    p.inputs.push_back(static_cast<int32_t>(i));
  p.outputs = {static_cast<int32_t>(op->getNumOperands())};
  if (auto name = op->getLoc().dyn_cast<mlir::NameLoc>()) p.origin = name.getName().str();
  return p;
}

mlir::Operation* buildPrimitiveOp(mlir::OpBuilder& b, mlir::Location loc, const Primitive& prim,
                                  mlir::ValueRange in, mlir::Type type) {
  if (std::holds_alternative<std::monostate>(prim.params)) return nullptr;
  mlir::OperationState state(loc, "tessel." + std::string(primitiveName(prim.kind())));
  state.addOperands(in);
  state.addTypes(type);
  std::visit(
      [&](const auto& p) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(p)>, std::monostate>)
          visitFields(p, [&](const char* name, const auto& field) {
            if (mlir::Attribute a = toAttr(b, field)) state.addAttribute(name, a);
          });
      },
      prim.params);
  return b.create(state);
}

Result<const void*> constantData(ConstantOp op, std::vector<uint8_t>* scratch) {
  auto dense = op.getValue().dyn_cast<mlir::DenseElementsAttr>();
  if (!dense) return unsupported("constant is not dense");
  TESSEL_ASSIGN_OR_RETURN(TensorDesc desc, fromMlirType(dense.getType()));
  const size_t size = static_cast<size_t>(desc.byteSize());
  static const uint8_t kEmpty = 0;
  if (size == 0) return static_cast<const void*>(&kEmpty); // non-null: "known", just empty
  llvm::ArrayRef<char> raw = dense.getRawData();
  if (desc.dtype != DType::Bool && !dense.isSplat()) {
    if (raw.size() != size) return internalError("constant raw data size mismatch");
    return static_cast<const void*>(raw.data());
  }
  scratch->assign(size, 0);
  if (desc.dtype == DType::Bool) {
    size_t i = 0;
    for (bool v : dense.getValues<bool>())
      (*scratch)[i++] = v;
  } else {
    const size_t elem = dtypeSize(desc.dtype);
    for (size_t i = 0; i + elem <= size; i += elem)
      std::memcpy(scratch->data() + i, raw.data(), elem);
  }
  return static_cast<const void*>(scratch->data());
}

mlir::DenseElementsAttr makeDenseAttr(mlir::RankedTensorType type, const void* bytes) {
  const int64_t n = type.getNumElements();
  if (type.getElementType().isInteger(1)) {
    const auto* p = static_cast<const uint8_t*>(bytes);
    llvm::SmallVector<bool> v(p, p + n);
    return mlir::DenseElementsAttr::get(type, llvm::ArrayRef<bool>(v));
  }
  const size_t size = static_cast<size_t>(n) * type.getElementTypeBitWidth() / 8;
  return mlir::DenseElementsAttr::getFromRawBuffer(
      type, llvm::ArrayRef<char>(static_cast<const char*>(bytes), size));
}

} // namespace tessel::ir
