// OnnxModel: what the frontend keeps of an ONNX file, parsed from untrusted protobuf into plain
// structs (no protobuf or MLIR types leak out of the reader).
#pragma once

#include "tessel/decompose/node.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessel::frontend {

struct OnnxTensor {
  std::string name;
  TensorDesc desc;
  std::shared_ptr<const std::vector<uint8_t>> bytes; // dense little-endian, desc.byteSize() long
};

struct OnnxGraph;

struct OnnxNode {
  std::string opType;
  std::string name;
  std::vector<std::string> inputs; // "" marks an absent optional input
  std::vector<std::string> outputs;
  decompose::Attrs::Map attrs;
  std::map<std::string, OnnxTensor> tensorAttrs;
  std::map<std::string, std::shared_ptr<const OnnxGraph>> graphs; // If's branches, Loop's body
};

struct OnnxValueInfo {
  std::string name;
  // 0 a tensor; 1 a sequence, 2 an optional, 3 an optional sequence (of tensors of dtype; dims
  // are then the elements' where declared): graph::ValueKind's values.
  int kind = 0;
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims; // -1 where the dim is symbolic or unknown
  bool hasShape = true;      // false: no shape declared (any rank)
};

// A graph: the model's, or a subgraph (whose inputs and outputs may leave their types to the
// node that runs it: dtype Undefined, no shape; whose nodes may read values of enclosing graphs).
struct OnnxGraph {
  std::vector<OnnxNode> nodes;
  std::vector<OnnxTensor> initializers;
  std::vector<OnnxValueInfo> inputs; // graph inputs that are not initializers
  std::vector<std::string> outputs;
  std::vector<OnnxValueInfo> outputInfo; // per output: what the model declares (checked at import)
};

struct OnnxModel : OnnxGraph {
  int opset = 0;
};

Result<OnnxModel> parseOnnxModel(const void* data, size_t size);
Result<OnnxModel> readOnnxModel(const std::string& path);

// ONNX value files (test_data_set_*/input_0.pb): a tensor, or a list of them (SequenceProto;
// OptionalProto, whose fields the same bytes hold: its tensor, its sequence's tensors, or none).
struct OnnxValueFile {
  bool list = false;
  bool present = true; // an optional holding nothing: false
  OnnxTensor tensor;
  std::vector<OnnxTensor> items;
};
Result<OnnxValueFile> readValueProtoFile(const std::string& path);
Status writeTensorProtoFile(const std::string& path, const std::string& name,
                            const TensorDesc& desc, const void* data);

Result<std::vector<uint8_t>> readFileBytes(const std::string& path);

// An ONNX element type by its name in the standard (float16, string, ...), lowercased like
// Tessel's own names; a code the standard does not define by its number.
std::string onnxTypeName(int code);

} // namespace tessel::frontend
