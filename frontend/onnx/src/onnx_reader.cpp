#include "tessel/core/file.h"
#include "tessel/frontend/onnx_model.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx-data.pb.h>
#include <onnx/onnx_pb.h>
#include <set>

namespace tessel::frontend {

std::string onnxTypeName(int code) {
  if (!onnx::TensorProto::DataType_IsValid(code)) return "code " + std::to_string(code);
  std::string name =
      onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(code));
  for (char& c : name)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

namespace {

template <typename Src, typename Dst>
void copyTyped(const google::protobuf::RepeatedField<Src>& from, std::vector<uint8_t>* out) {
  out->resize(from.size() * sizeof(Dst));
  auto* d = reinterpret_cast<Dst*>(out->data());
  for (int i = 0; i < from.size(); ++i)
    d[i] = static_cast<Dst>(from.Get(i));
}

Result<OnnxTensor> convertTensor(const onnx::TensorProto& t) {
  OnnxTensor out;
  out.name = t.name();
  auto dt = dtypeFromOnnx(t.data_type());
  if (!dt)
    return unsupported("tensor '" + t.name() + "' has unsupported element type " +
                       onnxTypeName(t.data_type()));
  out.desc.dtype = *dt;
  for (int64_t d : t.dims())
    out.desc.shape.push_back(d);
  auto count = elementCount(out.desc.shape);
  if (!count.isOk()) return count.status().withContext("tensor '" + t.name() + "'");
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return unsupported("tensor '" + t.name() + "' stores its data externally");
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  const size_t want = static_cast<size_t>(*count) * dtypeSize(*dt);
  if (t.has_raw_data()) {
    bytes->assign(t.raw_data().begin(), t.raw_data().end());
  } else {
    switch (*dt) {
    case DType::F32: copyTyped<float, float>(t.float_data(), bytes.get()); break;
    case DType::F64: copyTyped<double, double>(t.double_data(), bytes.get()); break;
    case DType::I64: copyTyped<int64_t, int64_t>(t.int64_data(), bytes.get()); break;
    case DType::I32: copyTyped<int32_t, int32_t>(t.int32_data(), bytes.get()); break;
    case DType::I8: copyTyped<int32_t, int8_t>(t.int32_data(), bytes.get()); break;
    case DType::U8: copyTyped<int32_t, uint8_t>(t.int32_data(), bytes.get()); break;
    case DType::Bool: copyTyped<int32_t, bool>(t.int32_data(), bytes.get()); break;
    // 16-bit types (f16 and bf16 as their bits) sit in int32_data, u32 and u64 in uint64_data.
    case DType::I16: copyTyped<int32_t, int16_t>(t.int32_data(), bytes.get()); break;
    case DType::U16:
    case DType::F16:
    case DType::BF16: copyTyped<int32_t, uint16_t>(t.int32_data(), bytes.get()); break;
    case DType::U32: copyTyped<uint64_t, uint32_t>(t.uint64_data(), bytes.get()); break;
    case DType::U64: copyTyped<uint64_t, uint64_t>(t.uint64_data(), bytes.get()); break;
    case DType::Undefined: break;
    }
  }
  // Bools are one byte each, 0 or 1 everywhere in Tessel: raw bytes other than 0 read as true.
  if (*dt == DType::Bool)
    for (uint8_t& b : *bytes)
      b = b != 0;
  if (bytes->size() != want)
    return corrupt("tensor '" + t.name() + "' holds " + std::to_string(bytes->size()) +
                   " bytes, its shape " + shapeToString(out.desc.shape) + " needs " +
                   std::to_string(want));
  out.bytes = std::move(bytes);
  return out;
}

Status parseGraph(const onnx::GraphProto& g, int depth, OnnxGraph* out);

Status convertAttribute(const onnx::NodeProto& n, const onnx::AttributeProto& a, int depth,
                        OnnxNode* out) {
  using A = onnx::AttributeProto;
  switch (a.type()) {
  case A::INT: out->attrs[a.name()] = static_cast<int64_t>(a.i()); return Status::ok();
  case A::FLOAT: out->attrs[a.name()] = static_cast<double>(a.f()); return Status::ok();
  case A::STRING: out->attrs[a.name()] = a.s(); return Status::ok();
  case A::INTS:
    out->attrs[a.name()] = std::vector<int64_t>(a.ints().begin(), a.ints().end());
    return Status::ok();
  case A::FLOATS:
    out->attrs[a.name()] = std::vector<double>(a.floats().begin(), a.floats().end());
    return Status::ok();
  case A::TENSOR: {
    TESSEL_ASSIGN_OR_RETURN(OnnxTensor t, convertTensor(a.t()));
    out->tensorAttrs[a.name()] = std::move(t);
    return Status::ok();
  }
  case A::TYPE_PROTO:
    // Optional's element type: an optional without a value is an empty list while the plan is
    // made, whatever its type.
    if (n.op_type() == "Optional") return Status::ok();
    break;
  case A::GRAPH: {
    constexpr int kMaxDepth = 16;
    if (depth >= kMaxDepth)
      return unsupported(n.op_type() + " '" + n.name() + "': subgraphs nested more than " +
                         std::to_string(kMaxDepth) + " deep");
    auto sub = std::make_shared<OnnxGraph>();
    TESSEL_RETURN_IF_ERROR(
        parseGraph(a.g(), depth + 1, sub.get())
            .withContext(n.op_type() + " '" + n.name() + "' attribute '" + a.name() + "'"));
    out->graphs[a.name()] = std::move(sub);
    return Status::ok();
  }
  default: break;
  }
  return unsupported(n.op_type() + " '" + n.name() + "': attribute '" + a.name() + "' of type " +
                     A::AttributeType_Name(a.type()));
}

// role: "graph input" or "graph output", for messages. In a subgraph a value may leave its type
// to the node running it (dtype Undefined, no shape).
Result<OnnxValueInfo> convertValueInfo(const onnx::ValueInfoProto& v, const std::string& role,
                                       bool subgraph = false) {
  OnnxValueInfo info;
  info.name = v.name();
  if (subgraph && !v.type().has_tensor_type()) { // untyped, or a sequence the body passes on
    info.hasShape = false;
    return info;
  }
  // Sequences and optionals of tensors (an optional of a sequence of tensors too): lists.
  const onnx::TypeProto* type = &v.type();
  if (type->has_optional_type()) {
    type = &type->optional_type().elem_type();
    info.kind = type->has_sequence_type() ? 3 : 2;
  }
  if (type->has_sequence_type()) {
    type = &type->sequence_type().elem_type();
    info.kind = info.kind == 3 ? 3 : 1;
  }
  if (!type->has_tensor_type())
    return unsupported(role + " '" + v.name() +
                       "' is not a tensor, nor a sequence or optional of tensors");
  const auto& tt = type->tensor_type();
  auto dt = dtypeFromOnnx(tt.elem_type());
  if (!dt)
    return unsupported(role + " '" + v.name() + "' has unsupported element type " +
                       onnxTypeName(tt.elem_type()));
  info.dtype = *dt;
  info.hasShape = tt.has_shape();
  for (const auto& d : tt.shape().dim())
    info.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return info;
}

} // namespace

Result<OnnxModel> parseOnnxModel(const void* data, size_t size) {
  onnx::ModelProto proto;
  if (size > static_cast<size_t>(INT32_MAX) || !proto.ParseFromArray(data, static_cast<int>(size)))
    return corrupt("not a valid ONNX model (protobuf parse failed)");
  if (!proto.has_graph()) return corrupt("ONNX model has no graph");
  // The ONNX checker (libonnx): names defined once (no value, input or initializer twice),
  // every node's required attributes present and no unknown ones, the IR version and each
  // opset ones libonnx knows, types of attributes and initializers.
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    return corrupt("not a valid ONNX model (the ONNX checker: " + why + ")");
  }
  OnnxModel model;
  for (const auto& op : proto.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx")
      model.opset = static_cast<int>(op.version());
  if (model.opset <= 0) return corrupt("ONNX model declares no default-domain opset");
  // Operators of a newer opset may mean something else: refused, not guessed (the checker
  // lets unknown opset versions through).
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  const auto onnxRange = ranges.find(onnx::ONNX_DOMAIN);
  if (onnxRange != ranges.end() && model.opset > onnxRange->second.second)
    return unsupported("ONNX opset " + std::to_string(model.opset) +
                       " is newer than the newest this build knows (" +
                       std::to_string(onnxRange->second.second) + ")");
  TESSEL_RETURN_IF_ERROR(parseGraph(proto.graph(), 0, &model));
  if (model.outputs.empty()) return corrupt("ONNX graph has no outputs");
  return model;
}

namespace {

// A graph (depth 0) or a subgraph of a node's attribute (depth > 0, nesting bounded).
Status parseGraph(const onnx::GraphProto& g, int depth, OnnxGraph* out) {
  OnnxGraph& model = *out;
  const bool subgraph = depth > 0;
  for (const auto& init : g.initializer()) {
    TESSEL_ASSIGN_OR_RETURN(OnnxTensor t, convertTensor(init));
    model.initializers.push_back(std::move(t));
  }
  std::set<std::string> initNames;
  for (const auto& t : model.initializers)
    initNames.insert(t.name);
  for (const auto& in : g.input()) {
    if (initNames.count(in.name())) continue;
    TESSEL_ASSIGN_OR_RETURN(OnnxValueInfo info, convertValueInfo(in, "graph input", subgraph));
    model.inputs.push_back(std::move(info));
  }
  for (const auto& o : g.output()) {
    model.outputs.push_back(o.name());
    TESSEL_ASSIGN_OR_RETURN(OnnxValueInfo info, convertValueInfo(o, "graph output", subgraph));
    model.outputInfo.push_back(std::move(info));
  }
  for (const auto& n : g.node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      return unsupported("operator '" + n.op_type() + "' (node '" + n.name() + "') of domain '" +
                         n.domain() + "' is not supported");
    OnnxNode node;
    node.opType = n.op_type();
    node.name =
        n.name().empty() ? n.op_type() + "_" + std::to_string(model.nodes.size()) : n.name();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    for (const auto& a : n.attribute())
      TESSEL_RETURN_IF_ERROR(convertAttribute(n, a, depth, &node));
    model.nodes.push_back(std::move(node));
  }
  return Status::ok();
}

} // namespace

Result<std::vector<uint8_t>> readFileBytes(const std::string& path) {
  // Protobuf messages stop at 2 GiB; a larger file is refused before it is read.
  return readRegularFile(path, std::numeric_limits<int32_t>::max());
}

Result<OnnxModel> readOnnxModel(const std::string& path) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, readFileBytes(path));
  auto model = parseOnnxModel(bytes.data(), bytes.size());
  if (!model.isOk()) return model.status().withContext("'" + path + "'");
  return model;
}

Result<OnnxValueFile> readValueProtoFile(const std::string& path) {
  TESSEL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, readFileBytes(path));
  OnnxValueFile out;
  onnx::TensorProto t;
  Status asTensor = corrupt("'" + path + "' is not an ONNX TensorProto");
  if (t.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    auto tensor = convertTensor(t);
    if (tensor.isOk()) {
      out.tensor = std::move(*tensor);
      return out;
    }
    asTensor = tensor.status().withContext("'" + path + "'");
  }
  // SequenceProto and OptionalProto number their fields alike: name 1, element type 2 (none 0,
  // tensor 1, sequence 3), tensors 3 (one in an optional), a sequence 5. Bytes that read as
  // neither keep the tensor's error.
  onnx::SequenceProto seq;
  if (!seq.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      (seq.elem_type() != onnx::SequenceProto::UNDEFINED &&
       seq.elem_type() != onnx::SequenceProto::TENSOR &&
       seq.elem_type() != onnx::SequenceProto::SEQUENCE))
    return asTensor;
  const onnx::SequenceProto* list = &seq;
  if (seq.elem_type() == onnx::SequenceProto::SEQUENCE) {
    if (seq.sequence_values_size() != 1)
      return unsupported("'" + path + "' holds a sequence of sequences");
    list = &seq.sequence_values(0); // an optional holding a sequence
  }
  if (list->sparse_tensor_values_size() || list->map_values_size() ||
      list->optional_values_size() || (list != &seq && list->sequence_values_size()))
    return unsupported("'" + path + "' holds nested sequences, maps or sparse tensors");
  out.list = true;
  out.present = seq.elem_type() != onnx::SequenceProto::UNDEFINED;
  out.tensor.name = seq.name();
  for (const auto& item : list->tensor_values()) {
    auto tensor = convertTensor(item);
    if (!tensor.isOk()) return tensor.status().withContext("'" + path + "'");
    out.items.push_back(std::move(*tensor));
  }
  return out;
}

Status writeTensorProtoFile(const std::string& path, const std::string& name,
                            const TensorDesc& desc, const void* data) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(dtypeToOnnx(desc.dtype));
  for (int64_t d : desc.shape)
    t.add_dims(d);
  t.set_raw_data(data, static_cast<size_t>(desc.byteSize()));
  std::ofstream f(path, std::ios::binary);
  if (!f || !t.SerializeToOstream(&f)) return ioError("cannot write '" + path + "'");
  return Status::ok();
}

} // namespace tessel::frontend
