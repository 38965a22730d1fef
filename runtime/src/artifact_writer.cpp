#include "artifact_generated.h"
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

fb::Region toFb(const Region& r) {
  return fb::Region(r.source, r.src.offset, r.src.stride[0], r.src.stride[1], r.src.stride[2],
                    r.dst.offset, r.dst.stride[0], r.dst.stride[1], r.dst.stride[2], r.size[0],
                    r.size[1], r.size[2]);
}

// One overload per params struct; the union tag follows primitives.def order.
Offset<void> params(FlatBufferBuilder& b, const RasterParams& p) {
  std::vector<fb::Region> regions;
  for (const Region& r : p.regions)
    regions.push_back(toFb(r));
  return fb::CreateRasterParamsDirect(b, &regions, p.fill.has_value(), p.fill.value_or(0)).Union();
}
Offset<void> params(FlatBufferBuilder& b, const ViewParams&) {
  return fb::CreateViewParams(b).Union();
}
Offset<void> params(FlatBufferBuilder& b, const UnaryParams& p) {
  return fb::CreateUnaryParams(b, static_cast<uint8_t>(p.kind), p.alpha, p.beta).Union();
}
Offset<void> params(FlatBufferBuilder& b, const BinaryParams& p) {
  auto l = longs(b, p.lhsStrides), r = longs(b, p.rhsStrides);
  return fb::CreateBinaryParams(b, static_cast<uint8_t>(p.kind), l, r).Union();
}
Offset<void> params(FlatBufferBuilder& b, const ReduceParams& p) {
  return fb::CreateReduceParams(b, static_cast<uint8_t>(p.kind), p.outer, p.extent, p.inner)
      .Union();
}
Offset<void> params(FlatBufferBuilder& b, const MatMulParams& p) {
  auto as = longs(b, p.aStrides), bs = longs(b, p.bStrides), cs = longs(b, p.biasStrides);
  return fb::CreateMatMulParams(b, p.batch, p.m, p.n, p.k, as, bs, p.hasBias, cs).Union();
}
Offset<void> params(FlatBufferBuilder& b, const Conv2dParams& p) {
  auto s = longs(b, p.stride), pd = longs(b, p.pads), d = longs(b, p.dilation);
  return fb::CreateConv2dParams(b, s, pd, d, p.group, p.hasBias, static_cast<uint8_t>(p.activation),
                                p.actMin, p.actMax)
      .Union();
}
Offset<void> params(FlatBufferBuilder& b, const PoolParams& p) {
  auto k = longs(b, p.kernel), s = longs(b, p.stride), pd = longs(b, p.pads);
  return fb::CreatePoolParams(b, static_cast<uint8_t>(p.kind), k, s, pd, p.countIncludePad).Union();
}
Offset<void> params(FlatBufferBuilder&, const std::monostate&) {
  return 0;
}

} // namespace

std::vector<uint8_t> writeArtifact(const Program& program, const std::string& producer) {
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
    tensors.push_back(fb::CreateTensorDirect(b, t.name.c_str(), static_cast<uint8_t>(t.desc.dtype),
                                             &t.desc.shape, role, offsets[i],
                                             t.data ? t.desc.byteSize() : 0));
  }
  std::vector<Offset<fb::Primitive>> prims;
  for (size_t i = 0; i < program.primitives.size(); ++i) {
    const Primitive& p = program.primitives[i];
    auto par = std::visit([&](const auto& v) { return params(b, v); }, p.params);
    const std::string& backend = program.backends.empty() ? std::string() : program.backends[i];
    prims.push_back(fb::CreatePrimitiveDirect(b, static_cast<fb::Params>(p.params.index() + 1), par,
                                              &p.inputs, &p.outputs, p.origin.c_str(),
                                              backend.c_str()));
  }
  auto producerStr = b.CreateString(producer);
  auto tensorVec = b.CreateVector(tensors);
  auto primVec = b.CreateVector(prims);
  auto inputVec = b.CreateVector(program.inputs);
  auto outputVec = b.CreateVector(program.outputs);
  auto model = fb::CreateModel(b, kArtifactFormatVersion, producerStr, tensorVec, primVec, inputVec,
                               outputVec, data, fnv1a64(blob.data(), blob.size()));
  fb::FinishSizePrefixedModelBuffer(b, model);
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

} // namespace tessel
