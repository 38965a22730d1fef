#include "artifact_generated.h"
#include "fnv.h"
#include "tessel/runtime/artifact.h"

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tessel {
namespace {

namespace fb = tessel::fb;

static_assert(static_cast<int>(fb::Params_MAX) == std::variant_size_v<PrimitiveParams> - 1,
              "artifact.fbs Params union and primitives.def disagree");

// The flatbuffers verifier checks a vector's length field, not its 8-byte elements' alignment.
// Empty vectors may sit at any 4-byte position: nothing is read from them.
bool aligned8(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 8 == 0;
}

template <size_t N>
Result<std::array<int64_t, N>> fixed(const flatbuffers::Vector<int64_t>* v, const char* what) {
  if (!v || v->size() != N)
    return corrupt(std::string(what) + " must have " + std::to_string(N) + " values");
  if (!aligned8(v->data())) return corrupt(std::string(what) + " is misaligned");
  std::array<int64_t, N> a{};
  for (size_t i = 0; i < N; ++i)
    a[i] = v->Get(static_cast<flatbuffers::uoffset_t>(i));
  return a;
}

Result<std::vector<int64_t>> longs(const flatbuffers::Vector<int64_t>* v) {
  if (!v) return std::vector<int64_t>{};
  if (v->size() > 0 && !aligned8(v->data())) return corrupt("misaligned integer vector");
  return std::vector<int64_t>(v->begin(), v->end());
}

template <typename E> Result<E> enumValue(uint8_t raw, uint8_t count, const char* what) {
  if (raw >= count) return corrupt(std::string("unknown ") + what + " " + std::to_string(raw));
  return static_cast<E>(raw);
}

Result<PrimitiveParams> readParams(const fb::Primitive& p) {
  if (!p.params()) return corrupt("primitive has no params");
  switch (p.params_type()) {
  case fb::Params_RasterParams: {
    const auto* r = p.params_as_RasterParams();
    RasterParams out;
    if (r->regions() && r->regions()->size() > 0 && !aligned8(r->regions()->data()))
      return corrupt("misaligned regions");
    if (r->regions())
      for (const fb::Region* g : *r->regions())
        out.regions.push_back({g->source(),
                               {g->src_offset(), {g->src_s0(), g->src_s1(), g->src_s2()}},
                               {g->dst_offset(), {g->dst_s0(), g->dst_s1(), g->dst_s2()}},
                               {g->size0(), g->size1(), g->size2()}});
    if (r->has_fill()) out.fill = r->fill();
    return PrimitiveParams(out);
  }
  case fb::Params_ViewParams: return PrimitiveParams(ViewParams{});
  case fb::Params_UnaryParams: {
    const auto* u = p.params_as_UnaryParams();
    TESSEL_ASSIGN_OR_RETURN(UnaryKind k,
                            enumValue<UnaryKind>(u->kind(), kUnaryKindCount, "unary kind"));
    return PrimitiveParams(UnaryParams{k, u->alpha(), u->beta()});
  }
  case fb::Params_BinaryParams: {
    const auto* u = p.params_as_BinaryParams();
    TESSEL_ASSIGN_OR_RETURN(BinaryKind k,
                            enumValue<BinaryKind>(u->kind(), kBinaryKindCount, "binary kind"));
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> lhs, longs(u->lhs_strides()));
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> rhs, longs(u->rhs_strides()));
    return PrimitiveParams(BinaryParams{k, std::move(lhs), std::move(rhs)});
  }
  case fb::Params_ReduceParams: {
    const auto* u = p.params_as_ReduceParams();
    TESSEL_ASSIGN_OR_RETURN(ReduceKind k, enumValue<ReduceKind>(u->kind(), 4, "reduce kind"));
    return PrimitiveParams(ReduceParams{k, u->outer(), u->extent(), u->inner()});
  }
  case fb::Params_MatMulParams: {
    const auto* u = p.params_as_MatMulParams();
    MatMulParams m;
    m.batch = u->batch();
    m.m = u->m();
    m.n = u->n();
    m.k = u->k();
    TESSEL_ASSIGN_OR_RETURN(m.aStrides, fixed<3>(u->a_strides(), "matmul a strides"));
    TESSEL_ASSIGN_OR_RETURN(m.bStrides, fixed<3>(u->b_strides(), "matmul b strides"));
    m.hasBias = u->has_bias();
    TESSEL_ASSIGN_OR_RETURN(m.biasStrides, fixed<2>(u->bias_strides(), "matmul bias strides"));
    return PrimitiveParams(m);
  }
  case fb::Params_Conv2dParams: {
    const auto* u = p.params_as_Conv2dParams();
    Conv2dParams c;
    TESSEL_ASSIGN_OR_RETURN(c.stride, fixed<2>(u->stride(), "conv2d stride"));
    TESSEL_ASSIGN_OR_RETURN(c.pads, fixed<4>(u->pads(), "conv2d pads"));
    TESSEL_ASSIGN_OR_RETURN(c.dilation, fixed<2>(u->dilation(), "conv2d dilation"));
    c.group = u->group();
    c.hasBias = u->has_bias();
    TESSEL_ASSIGN_OR_RETURN(c.activation, enumValue<Activation>(u->activation(), 3, "activation"));
    c.actMin = u->act_min();
    c.actMax = u->act_max();
    return PrimitiveParams(c);
  }
  case fb::Params_PoolParams: {
    const auto* u = p.params_as_PoolParams();
    PoolParams c;
    TESSEL_ASSIGN_OR_RETURN(c.kind, enumValue<PoolKind>(u->kind(), 2, "pool kind"));
    TESSEL_ASSIGN_OR_RETURN(c.kernel, fixed<2>(u->kernel(), "pool kernel"));
    TESSEL_ASSIGN_OR_RETURN(c.stride, fixed<2>(u->stride(), "pool stride"));
    TESSEL_ASSIGN_OR_RETURN(c.pads, fixed<4>(u->pads(), "pool pads"));
    c.countIncludePad = u->count_include_pad();
    return PrimitiveParams(c);
  }
  default: break;
  }
  return corrupt("primitive has no params");
}

std::vector<int32_t> ids(const flatbuffers::Vector<int32_t>* v) {
  return v ? std::vector<int32_t>(v->begin(), v->end()) : std::vector<int32_t>{};
}

Result<std::shared_ptr<Program>> buildProgram(const uint8_t* bytes, size_t size) {
  // Layout: 4-byte little-endian size of the rest, then the flatbuffer; the size catches
  // truncation that would otherwise cut only trailing padding.
  if (size < 12 || !flatbuffers::BufferHasIdentifier(bytes + 4, fb::ModelIdentifier()))
    return corrupt("not a Tessel artifact (missing TSL1 identifier)");
  const uint32_t declared = flatbuffers::ReadScalar<uint32_t>(bytes);
  if (declared != size - 4)
    return corrupt("artifact is " + std::to_string(size) + " bytes, its header says " +
                   std::to_string(static_cast<uint64_t>(declared) + 4) + " (truncated or padded)");
  flatbuffers::Verifier verifier(bytes, size, /*max_depth=*/16, /*max_tables=*/10'000'000);
  if (!fb::VerifySizePrefixedModelBuffer(verifier))
    return corrupt("artifact failed flatbuffer verification");
  const fb::Model* m = fb::GetSizePrefixedModel(bytes);
  if (m->format_version() != kArtifactFormatVersion)
    return corrupt("artifact format version " + std::to_string(m->format_version()) +
                   " (this runtime reads " + std::to_string(kArtifactFormatVersion) + ")");
  const auto* data = m->data();
  const uint8_t* blob = data ? data->data() : nullptr;
  const size_t blobSize = data ? data->size() : 0;
  if (fnv1a64(blob, blobSize) != m->data_hash())
    return corrupt("artifact constant data checksum mismatch");

  auto prog = std::make_shared<Program>();
  if (!m->tensors() || !m->primitives()) return corrupt("artifact has no tensors or primitives");
  for (const fb::Tensor* t : *m->tensors()) {
    ProgramTensor pt;
    pt.name = t->name() ? t->name()->str() : std::string();
    if (t->dtype() == 0 || dtypeSize(static_cast<DType>(t->dtype())) == 0)
      return corrupt("tensor '" + pt.name + "' has unknown dtype " + std::to_string(t->dtype()));
    pt.desc.dtype = static_cast<DType>(t->dtype());
    TESSEL_ASSIGN_OR_RETURN(pt.desc.shape, longs(t->shape()));
    auto n = elementCount(pt.desc.shape);
    if (!n.isOk()) return corrupt("tensor '" + pt.name + "': " + n.status().message());
    if (t->role() == fb::TensorRole_Constant) {
      const uint64_t want = static_cast<uint64_t>(pt.desc.byteSize());
      if (t->data_size() != want || t->data_offset() > blobSize ||
          blobSize - t->data_offset() < want)
        return corrupt("constant '" + pt.name + "' lies outside the data section");
      if (reinterpret_cast<uintptr_t>(blob + t->data_offset()) % 64 != 0)
        return corrupt("constant '" + pt.name + "' is not 64-byte aligned");
      pt.data = blob + t->data_offset();
    }
    prog->tensors.push_back(std::move(pt));
  }
  for (const fb::Primitive* p : *m->primitives()) {
    Primitive prim;
    TESSEL_ASSIGN_OR_RETURN(prim.params, readParams(*p));
    prim.inputs = ids(p->inputs());
    prim.outputs = ids(p->outputs());
    prim.origin = p->origin() ? p->origin()->str() : std::string();
    prog->backends.push_back(p->backend() ? p->backend()->str() : std::string());
    prog->primitives.push_back(std::move(prim));
  }
  prog->inputs = ids(m->inputs());
  prog->outputs = ids(m->outputs());
  TESSEL_RETURN_IF_ERROR(validateProgram(*prog));
  return prog;
}

} // namespace

Result<std::shared_ptr<const Program>> loadArtifact(std::vector<uint8_t> bytes) {
  // Constants are 64-byte aligned relative to the buffer: give the buffer that alignment too.
  auto owned = std::shared_ptr<uint8_t[]>(new (std::nothrow) uint8_t[bytes.size() + 64]);
  if (!owned) return invalidArgument("cannot allocate " + std::to_string(bytes.size()) + " bytes");
  const auto base = reinterpret_cast<uintptr_t>(owned.get());
  uint8_t* aligned = owned.get() + (64 - base % 64) % 64;
  if (!bytes.empty()) std::memcpy(aligned, bytes.data(), bytes.size());
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Program> prog, buildProgram(aligned, bytes.size()));
  prog->storage = owned;
  return std::shared_ptr<const Program>(std::move(prog));
}

Result<std::shared_ptr<const Program>> loadArtifactBorrowed(const uint8_t* bytes, size_t size) {
  if (reinterpret_cast<uintptr_t>(bytes) % 64 != 0)
    return invalidArgument("borrowed artifact bytes must be 64-byte aligned");
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Program> prog, buildProgram(bytes, size));
  return std::shared_ptr<const Program>(std::move(prog));
}

Result<std::shared_ptr<const Program>> loadArtifactFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return ioError("'" + path + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return corrupt("'" + path + "' is empty");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return ioError("cannot map '" + path + "'");
  std::shared_ptr<const void> mapping(
      map, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  auto prog = buildProgram(static_cast<const uint8_t*>(map), size);
  if (!prog.isOk()) return prog.status().withContext("'" + path + "'");
  prog.value()->storage = mapping;
  return std::shared_ptr<const Program>(std::move(prog).value());
}

} // namespace tessel
