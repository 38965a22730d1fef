#include "artifact_generated.h"
#include "checksum.h"
#include "fnv.h"
#include "tessel/runtime/artifact.h"

#include <cstring>

namespace tessel {
namespace {

namespace fb = tessel::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

template <typename A> Offset<flatbuffers::Vector<int64_t>> longs(FlatBufferBuilder& b, const A& a) {
  return b.CreateVector(std::vector<int64_t>(a.begin(), a.end()));
}

// One converter per field type of primitives.def, into flatc's object-API structs.
template <typename T> void toFb(const T& v, T* out) {
  *out = v;
}
void toFb(const I64List& v, std::vector<int64_t>* out) {
  out->assign(v.begin(), v.end());
}
template <size_t N> void toFb(const std::array<int64_t, N>& v, std::vector<int64_t>* out) {
  out->assign(v.begin(), v.end());
}
template <typename E>
requires std::is_enum_v<E>
void toFb(E v, uint8_t* out) {
  *out = static_cast<uint8_t>(v);
}
void toFb(const OptF64& v, flatbuffers::Optional<double>* out) {
  *out = v ? flatbuffers::Optional<double>(*v) : flatbuffers::nullopt;
}
void toFb(const Regions& v, std::vector<fb::Region>* out) {
  for (const Region& r : v)
    out->emplace_back(r.source, r.src.offset, r.src.stride[0], r.src.stride[1], r.src.stride[2],
                      r.dst.offset, r.dst.stride[0], r.dst.stride[1], r.dst.stride[2], r.size[0],
                      r.size[1], r.size[2]);
}
void toFb(const PostOps& v, std::vector<fb::PostOp>* out) {
  for (const PostOp& p : v)
    out->emplace_back(p.isBinary ? 1 : 0,
                      p.isBinary ? static_cast<uint8_t>(p.binary) : static_cast<uint8_t>(p.unary),
                      static_cast<uint8_t>(p.broadcast), p.operandFirst, p.operand, p.alpha,
                      p.beta);
}

// params(builder, NameParams): one per primitive, generated from primitives.def.
#define TESSEL_PRIMITIVE(name, mnemonic)                                                           \
  Offset<void> params(FlatBufferBuilder& b, const name##Params& p) {                               \
    (void)p;                                                                                       \
    fb::name##ParamsT t;
#define TESSEL_FIELD(prim, type, name, snake, ...) toFb(p.name, &t.snake);
#define TESSEL_PRIMITIVE_END(name)                                                                 \
  return fb::Create##name##Params(b, &t).Union();                                                  \
  }
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE
Offset<void> params(FlatBufferBuilder&, const std::monostate&) {
  return 0;
}

} // namespace

std::vector<uint8_t> writeArtifact(const Program& program, const std::string& producer,
                                   ArtifactExtension* graph) {
  FlatBufferBuilder b(1 << 16);
  // Constants first, packed 64-byte aligned into one blob.
  std::vector<uint8_t> blob;
  std::vector<uint64_t> offsets(program.tensors.size(), 0);
  for (size_t i = 0; i < program.tensors.size(); ++i) {
    const ProgramTensor& t = program.tensors[i];
    if (!t.data) continue;
    blob.resize((blob.size() + 63) / 64 * 64);
    offsets[i] = blob.size();
    const auto* p = static_cast<const uint8_t*>(t.data);
    blob.insert(blob.end(), p, p + t.desc.byteSize());
  }
  if (graph) graph->appendData(&blob);
  b.ForceVectorAlignment(blob.size(), 1, 64);
  auto data = b.CreateVector(blob);

  std::vector<Offset<fb::Tensor>> tensors;
  for (size_t i = 0; i < program.tensors.size(); ++i) {
    const ProgramTensor& t = program.tensors[i];
    fb::TensorRole role = fb::TensorRole_Intermediate;
    for (int32_t id : program.inputs)
      if (id == static_cast<int32_t>(i)) role = fb::TensorRole_Input;
    for (int32_t id : program.outputs)
      if (id == static_cast<int32_t>(i)) role = fb::TensorRole_Output;
    if (t.data) role = fb::TensorRole_Constant;
    const std::vector<int64_t> shape = t.desc.shape.vec();
    tensors.push_back(fb::CreateTensorDirect(
        b, t.name.c_str(), static_cast<uint8_t>(t.desc.dtype), &shape, role, offsets[i],
        t.data ? t.desc.byteSize() : 0, static_cast<uint8_t>(t.desc.layout)));
  }
  std::vector<Offset<fb::Primitive>> prims;
  for (size_t i = 0; i < program.primitives.size(); ++i) {
    const Primitive& p = program.primitives[i];
    auto par = std::visit([&](const auto& v) { return params(b, v); }, p.params);
    const std::string& backend = program.backends.empty() ? std::string() : program.backends[i];
    const KernelChoice kernel = program.kernels.empty() ? KernelChoice{} : program.kernels[i];
    prims.push_back(fb::CreatePrimitiveDirect(b, static_cast<fb::Params>(p.params.index() + 1), par,
                                              &p.inputs, &p.outputs, p.origin.c_str(),
                                              backend.c_str(), kernel.id, &kernel.params,
                                              i < program.fused.size() && program.fused[i] != 0));
  }
  auto producerStr = b.CreateString(producer);
  auto tensorVec = b.CreateVector(tensors);
  auto primVec = b.CreateVector(prims);
  auto inputVec = b.CreateVector(program.inputs);
  auto outputVec = b.CreateVector(program.outputs);
  auto target = fb::CreateTargetDirect(b, program.target.isa.c_str(), program.target.block,
                                       program.target.threads, program.target.costModelVersion);
  const Offset<fb::Graph> graphTable(graph ? graph->build(b) : 0);
  auto model =
      fb::CreateModel(b, kArtifactFormatVersion, producerStr, tensorVec, primVec, inputVec,
                      outputVec, data, fnv1a64(blob.data(), blob.size()), target, graphTable);
  fb::FinishSizePrefixedModelBuffer(b, model);
  std::vector<uint8_t> out(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  // The trailer: XXH3-64 of every byte before it, little-endian.
  const uint64_t hash = artifactChecksum(out.data(), out.size());
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<uint8_t>(hash >> (8 * i)));
  return out;
}

} // namespace tessel
