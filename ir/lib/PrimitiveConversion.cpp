#include "tessel/ir/PrimitiveConversion.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cstring>

namespace tessel::ir {
namespace {

std::vector<int64_t> vec(llvm::ArrayRef<int64_t> a) {
  return {a.begin(), a.end()};
}

template <size_t N>
Result<std::array<int64_t, N>> fixed(llvm::ArrayRef<int64_t> a, const char* what) {
  if (a.size() != N)
    return corrupt(std::string(what) + " must have " + std::to_string(N) + " values");
  std::array<int64_t, N> out{};
  std::copy(a.begin(), a.end(), out.begin());
  return out;
}

template <typename E> Result<E> named(std::optional<E> v, llvm::StringRef name, const char* what) {
  if (!v) return corrupt(std::string("unknown ") + what + " '" + name.str() + "'");
  return *v;
}

Result<Activation> activationFromName(llvm::StringRef s) {
  if (s == "none") return Activation::None;
  if (s == "relu") return Activation::Relu;
  if (s == "clip") return Activation::Clip;
  return corrupt("unknown activation '" + s.str() + "'");
}

const char* activationName(Activation a) {
  switch (a) {
  case Activation::None: return "none";
  case Activation::Relu: return "relu";
  case Activation::Clip: return "clip";
  }
  return "none";
}

Result<PrimitiveParams> paramsOf(mlir::Operation* op) {
  return llvm::TypeSwitch<mlir::Operation*, Result<PrimitiveParams>>(op)
      .Case<RasterOp>([](RasterOp r) -> Result<PrimitiveParams> {
        RasterParams p;
        TESSEL_ASSIGN_OR_RETURN(p.regions, unflattenRegions(vec(r.getRegions())));
        if (auto fill = r.getFill()) p.fill = fill->convertToDouble();
        return PrimitiveParams(p);
      })
      .Case<ViewOp>([](ViewOp) -> Result<PrimitiveParams> { return PrimitiveParams(ViewParams{}); })
      .Case<UnaryOp>([](UnaryOp u) -> Result<PrimitiveParams> {
        TESSEL_ASSIGN_OR_RETURN(UnaryKind k,
                                named(unaryFromName(u.getKind().str()), u.getKind(), "unary kind"));
        return PrimitiveParams(
            UnaryParams{k, u.getAlpha().convertToFloat(), u.getBeta().convertToFloat()});
      })
      .Case<BinaryOp>([](BinaryOp u) -> Result<PrimitiveParams> {
        TESSEL_ASSIGN_OR_RETURN(
            BinaryKind k, named(binaryFromName(u.getKind().str()), u.getKind(), "binary kind"));
        return PrimitiveParams(BinaryParams{k, vec(u.getLhsStrides()), vec(u.getRhsStrides())});
      })
      .Case<ReduceOp>([](ReduceOp u) -> Result<PrimitiveParams> {
        TESSEL_ASSIGN_OR_RETURN(
            ReduceKind k, named(reduceFromName(u.getKind().str()), u.getKind(), "reduce kind"));
        return PrimitiveParams(ReduceParams{k, static_cast<int64_t>(u.getOuter()),
                                            static_cast<int64_t>(u.getExtent()),
                                            static_cast<int64_t>(u.getInner())});
      })
      .Case<MatMulOp>([](MatMulOp u) -> Result<PrimitiveParams> {
        MatMulParams p;
        TESSEL_ASSIGN_OR_RETURN(auto dims, fixed<4>(u.getDims(), "matmul dims"));
        p.batch = dims[0];
        p.m = dims[1];
        p.n = dims[2];
        p.k = dims[3];
        TESSEL_ASSIGN_OR_RETURN(p.aStrides, fixed<3>(u.getAStrides(), "a_strides"));
        TESSEL_ASSIGN_OR_RETURN(p.bStrides, fixed<3>(u.getBStrides(), "b_strides"));
        TESSEL_ASSIGN_OR_RETURN(p.biasStrides, fixed<2>(u.getBiasStrides(), "bias_strides"));
        p.hasBias = static_cast<bool>(u.getBias());
        return PrimitiveParams(p);
      })
      .Case<Conv2dOp>([](Conv2dOp u) -> Result<PrimitiveParams> {
        Conv2dParams p;
        TESSEL_ASSIGN_OR_RETURN(p.stride, fixed<2>(u.getStrides(), "strides"));
        TESSEL_ASSIGN_OR_RETURN(p.pads, fixed<4>(u.getPads(), "pads"));
        TESSEL_ASSIGN_OR_RETURN(p.dilation, fixed<2>(u.getDilations(), "dilations"));
        p.group = static_cast<int64_t>(u.getGroup());
        p.hasBias = static_cast<bool>(u.getBias());
        TESSEL_ASSIGN_OR_RETURN(p.activation, activationFromName(u.getActivation()));
        p.actMin = u.getActMin().convertToFloat();
        p.actMax = u.getActMax().convertToFloat();
        return PrimitiveParams(p);
      })
      .Case<PoolOp>([](PoolOp u) -> Result<PrimitiveParams> {
        PoolParams p;
        TESSEL_ASSIGN_OR_RETURN(p.kind,
                                named(poolFromName(u.getKind().str()), u.getKind(), "pool kind"));
        TESSEL_ASSIGN_OR_RETURN(p.kernel, fixed<2>(u.getKernel(), "kernel"));
        TESSEL_ASSIGN_OR_RETURN(p.stride, fixed<2>(u.getStrides(), "strides"));
        TESSEL_ASSIGN_OR_RETURN(p.pads, fixed<4>(u.getPads(), "pads"));
        p.countIncludePad = u.getCountIncludePad();
        return PrimitiveParams(p);
      })
      .Default([](mlir::Operation* o) -> Result<PrimitiveParams> {
        return corrupt("'" + o->getName().getStringRef().str() + "' is not a primitive");
      });
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
  case DType::Undefined: return mlir::NoneType::get(ctx);
  }
  return mlir::RankedTensorType::get(desc.shape, elt);
}

Result<DType> dtypeFromElementType(mlir::Type t) {
  if (t.isF32()) return DType::F32;
  if (t.isF64()) return DType::F64;
  if (t.isInteger(1)) return DType::Bool;
  if (t.isUnsignedInteger(8)) return DType::U8;
  if (t.isSignlessInteger(8)) return DType::I8;
  if (t.isSignlessInteger(32)) return DType::I32;
  if (t.isSignlessInteger(64)) return DType::I64;
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
  return llvm::isa<RasterOp, ViewOp, UnaryOp, BinaryOp, ReduceOp, MatMulOp, Conv2dOp, PoolOp>(op);
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
  auto i64s = [&](const auto& a) {
    return b.getDenseI64ArrayAttr(std::vector<int64_t>(a.begin(), a.end()));
  };
  return std::visit(
      [&](const auto& p) -> mlir::Operation* {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, RasterParams>) {
          mlir::FloatAttr fill = p.fill ? b.getF64FloatAttr(*p.fill) : mlir::FloatAttr();
          return b.create<RasterOp>(loc, type, in, i64s(flattenRegions(p.regions)), fill);
        } else if constexpr (std::is_same_v<P, ViewParams>) {
          return b.create<ViewOp>(loc, type, in[0]);
        } else if constexpr (std::is_same_v<P, UnaryParams>) {
          return b.create<UnaryOp>(loc, type, in[0], b.getStringAttr(unaryName(p.kind)),
                                   b.getF32FloatAttr(p.alpha), b.getF32FloatAttr(p.beta));
        } else if constexpr (std::is_same_v<P, BinaryParams>) {
          return b.create<BinaryOp>(loc, type, in[0], in[1], b.getStringAttr(binaryName(p.kind)),
                                    i64s(p.lhsStrides), i64s(p.rhsStrides));
        } else if constexpr (std::is_same_v<P, ReduceParams>) {
          return b.create<ReduceOp>(loc, type, in[0], b.getStringAttr(reduceName(p.kind)),
                                    b.getI64IntegerAttr(p.outer), b.getI64IntegerAttr(p.extent),
                                    b.getI64IntegerAttr(p.inner));
        } else if constexpr (std::is_same_v<P, MatMulParams>) {
          mlir::Value bias = p.hasBias ? in[2] : mlir::Value();
          return b.create<MatMulOp>(loc, type, in[0], in[1], bias,
                                    i64s(std::array<int64_t, 4>{p.batch, p.m, p.n, p.k}),
                                    i64s(p.aStrides), i64s(p.bStrides), i64s(p.biasStrides));
        } else if constexpr (std::is_same_v<P, Conv2dParams>) {
          mlir::Value bias = p.hasBias ? in[2] : mlir::Value();
          return b.create<Conv2dOp>(loc, type, in[0], in[1], bias, i64s(p.stride), i64s(p.pads),
                                    i64s(p.dilation), b.getI64IntegerAttr(p.group),
                                    b.getStringAttr(activationName(p.activation)),
                                    b.getF32FloatAttr(p.actMin), b.getF32FloatAttr(p.actMax));
        } else if constexpr (std::is_same_v<P, PoolParams>) {
          return b.create<PoolOp>(loc, type, in[0], b.getStringAttr(poolName(p.kind)),
                                  i64s(p.kernel), i64s(p.stride), i64s(p.pads),
                                  b.getBoolAttr(p.countIncludePad));
        } else {
          return nullptr;
        }
      },
      prim.params);
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
