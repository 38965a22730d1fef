#include "artifact_generated.h"
#include "checksum.h"
#include "tessel/core/file.h"
#include "tessel/runtime/artifact.h"
#include "tessel/runtime/large_buffer.h"

#include <cstring>
#include <fcntl.h>
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

// One reader per field type of primitives.def; the generated switch below calls them by field.
template <typename T> Status readField(T v, T* out, const char*) {
  *out = v;
  return Status::ok();
}
template <size_t N>
Status readField(const flatbuffers::Vector<int64_t>* v, std::array<int64_t, N>* out,
                 const char* what) {
  TESSEL_ASSIGN_OR_RETURN(*out, fixed<N>(v, what));
  return Status::ok();
}
Status readField(const flatbuffers::Vector<int64_t>* v, I64List* out, const char* what) {
  auto r = longs(v);
  if (!r.isOk()) return r.status().withContext(what);
  *out = std::move(r).value();
  return Status::ok();
}
template <typename E>
requires std::is_enum_v<E> Status enumField(uint8_t raw, E* out, const char* what) {
  if (raw >= enumCount<E>())
    return corrupt(std::string(what) + " " + std::to_string(raw) + " is unknown");
  *out = static_cast<E>(raw);
  return Status::ok();
}
Status readField(uint8_t raw, UnaryKind* out, const char* what) {
  return enumField(raw, out, what);
}
Status readField(uint8_t raw, BinaryKind* out, const char* what) {
  return enumField(raw, out, what);
}
Status readField(uint8_t raw, ReduceKind* out, const char* what) {
  return enumField(raw, out, what);
}
Status readField(uint8_t raw, PoolKind* out, const char* what) {
  return enumField(raw, out, what);
}
Status readField(flatbuffers::Optional<double> v, OptF64* out, const char*) {
  if (v.has_value()) *out = *v;
  return Status::ok();
}
Status readField(const flatbuffers::Vector<const fb::Region*>* v, Regions* out, const char* what) {
  if (!v) return Status::ok();
  if (v->size() > 0 && !aligned8(v->data())) return corrupt(std::string(what) + " is misaligned");
  out->reserve(v->size());
  for (const fb::Region* g : *v)
    out->push_back({g->source(),
                    {g->src_offset(), {g->src_s0(), g->src_s1(), g->src_s2()}},
                    {g->dst_offset(), {g->dst_s0(), g->dst_s1(), g->dst_s2()}},
                    {g->size0(), g->size1(), g->size2()}});
  return Status::ok();
}
Status readField(const flatbuffers::Vector<const fb::PostOp*>* v, PostOps* out, const char* what) {
  if (!v) return Status::ok();
  for (const fb::PostOp* f : *v) {
    PostOp op;
    if (f->kind() > 1) return corrupt(std::string(what) + ": unknown post-op kind");
    op.isBinary = f->kind() == 1;
    TESSEL_RETURN_IF_ERROR(op.isBinary ? enumField(f->op(), &op.binary, what)
                                       : enumField(f->op(), &op.unary, what));
    TESSEL_RETURN_IF_ERROR(enumField(f->broadcast(), &op.broadcast, what));
    op.operandFirst = f->operand_first();
    op.operand = f->operand();
    op.alpha = f->alpha();
    op.beta = f->beta();
    out->push_back(op);
  }
  return Status::ok();
}

Result<PrimitiveParams> readParams(const fb::Primitive& p) {
  if (!p.params()) return corrupt("primitive has no params");
  switch (p.params_type()) {
#define TESSEL_PRIMITIVE(name, mnemonic)                                                           \
  case fb::Params_##name##Params: {                                                                \
    [[maybe_unused]] const auto* t = p.params_as_##name##Params();                                 \
    name##Params out;
#define TESSEL_FIELD(prim, type, name, snake, ...)                                                 \
  TESSEL_RETURN_IF_ERROR(readField(t->snake(), &out.name, #prim " " #snake));
#define TESSEL_PRIMITIVE_END(name)                                                                 \
  return PrimitiveParams(std::move(out));                                                          \
  }
#include "tessel/core/primitives.def"
#undef TESSEL_PRIMITIVE
  default: break;
  }
  return corrupt("primitive has no params");
}

std::vector<int32_t> ids(const flatbuffers::Vector<int32_t>* v) {
  return v ? std::vector<int32_t>(v->begin(), v->end()) : std::vector<int32_t>{};
}

Result<std::shared_ptr<Program>> buildProgram(const uint8_t* bytes, size_t size) {
  // Layout: 4-byte little-endian size of the flatbuffer, the flatbuffer, then an 8-byte
  // trailer, XXH3-64 of every byte before it: the size catches truncation that would
  // otherwise cut only trailing padding, the trailer any damage or edit anywhere (a changed
  // `k` runs as validly as the original).
  if (size < 20 || !flatbuffers::BufferHasIdentifier(bytes + 4, fb::ModelIdentifier()))
    return corrupt("not a Tessel artifact (missing TSL1 identifier)");
  const size_t flat = size - 8;
  const uint32_t declared = flatbuffers::ReadScalar<uint32_t>(bytes);
  if (declared != flat - 4)
    return corrupt("artifact is " + std::to_string(size) + " bytes, its header says " +
                   std::to_string(static_cast<uint64_t>(declared) + 12) + " (truncated or padded)");
  if (artifactChecksum(bytes, flat) != storedChecksum(bytes, size))
    return corrupt("artifact checksum mismatch (the file is damaged or was changed after it "
                   "was written)");
  flatbuffers::Verifier verifier(bytes, flat, /*max_depth=*/16, /*max_tables=*/10'000'000);
  if (!fb::VerifySizePrefixedModelBuffer(verifier))
    return corrupt("artifact failed flatbuffer verification");
  const fb::Model* m = fb::GetSizePrefixedModel(bytes);
  if (m->format_version() != kArtifactFormatVersion)
    return corrupt("artifact format version " + std::to_string(m->format_version()) +
                   " (this runtime reads " + std::to_string(kArtifactFormatVersion) + ")");
  const auto* data = m->data();
  const uint8_t* blob = data ? data->data() : nullptr;
  const size_t blobSize = data ? data->size() : 0;
  // data_hash (the constants alone) is covered by the trailer; not hashed twice.

  auto prog = std::make_shared<Program>();
  if (!m->tensors() || !m->primitives()) return corrupt("artifact has no tensors or primitives");
  for (const fb::Tensor* t : *m->tensors()) {
    ProgramTensor pt;
    pt.name = t->name() ? t->name()->str() : std::string();
    if (t->dtype() == 0 || dtypeSize(static_cast<DType>(t->dtype())) == 0)
      return corrupt("tensor '" + pt.name + "' has unknown dtype " + std::to_string(t->dtype()));
    pt.desc.dtype = static_cast<DType>(t->dtype());
    TESSEL_ASSIGN_OR_RETURN(pt.desc.shape, longs(t->shape()));
    if (t->layout() >= kLayoutCount || (t->layout() != 0 && pt.desc.shape.size() != 4))
      return corrupt("tensor '" + pt.name + "' has layout " + std::to_string(t->layout()) +
                     " (a blocked layout needs 4 dims)");
    pt.desc.layout = static_cast<Layout>(t->layout());
    auto n = elementCount(pt.desc.storageShape());
    if (!n.isOk()) return corrupt("tensor '" + pt.name + "': " + n.status().message());
    if (t->role() == fb::TensorRole_Constant) {
      const uint64_t want = static_cast<uint64_t>(pt.desc.byteSize());
      if (t->data_size() != want || t->data_offset() > blobSize ||
          blobSize - t->data_offset() < want)
        return corrupt("constant '" + pt.name + "' lies outside the data section");
      if (reinterpret_cast<uintptr_t>(blob + t->data_offset()) % 64 != 0)
        return corrupt("constant '" + pt.name + "' is not 64-byte aligned");
      pt.data = blob + t->data_offset();
      // A bool is the byte 0 or 1 (kernels compute on it as such); the converter writes no other.
      if (pt.desc.dtype == DType::Bool)
        for (uint64_t i = 0; i < want; ++i)
          if (blob[t->data_offset() + i] > 1)
            return corrupt("bool constant '" + pt.name + "' holds the byte " +
                           std::to_string(blob[t->data_offset() + i]) + " at element " +
                           std::to_string(i) + " (bools are 0 or 1)");
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
    KernelChoice kernel;
    kernel.id = p->kernel_id();
    TESSEL_ASSIGN_OR_RETURN(kernel.params, longs(p->kernel_params()));
    prog->kernels.push_back(std::move(kernel));
    prog->fused.push_back(p->fused() ? 1 : 0);
    prog->primitives.push_back(std::move(prim));
  }
  if (const fb::Target* t = m->target()) {
    prog->target.isa = t->isa() ? t->isa()->str() : std::string();
    prog->target.block = t->block();
    prog->target.threads = t->threads();
    prog->target.costModelVersion = t->cost_model_version();
  }
  prog->inputs = ids(m->inputs());
  prog->outputs = ids(m->outputs());
  TESSEL_RETURN_IF_ERROR(validateProgram(*prog));
  prog->artifact = bytes;
  prog->artifactSize = flat;
  prog->plansAtRunTime = m->graph() != nullptr && prog->primitives.empty();
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
  int64_t fileSize = 0;
  TESSEL_ASSIGN_OR_RETURN(int fd, openRegularFile(path, &fileSize));
  const auto size = static_cast<size_t>(fileSize);
  if (size == 0) {
    ::close(fd);
    return corrupt("'" + path + "' is empty");
  }
  // Read, not mapped: the loaded model owns its bytes, so truncating or rewriting the file
  // later can neither fault a running session (SIGBUS) nor change its weights. Anonymous pages
  // (64-byte aligned; huge ones for a large file: large_buffer.h) let constants that kernels
  // pack be given back (ConstantSource).
  void* mem = mapAnonymous(size);
  if (!mem) {
    ::close(fd);
    return resourceExhausted("cannot allocate " + std::to_string(size) + " bytes for '" + path +
                             "'");
  }
  std::shared_ptr<const void> owned(
      mem, [size](const void* p) { unmapAnonymous(const_cast<void*>(p), size); });
  auto* bytes = static_cast<uint8_t*>(mem);
  if (Status read = readExactly(fd, bytes, size, path); !read.isOk()) {
    ::close(fd);
    return read;
  }
  auto prog = buildProgram(bytes, size);
  if (!prog.isOk()) {
    ::close(fd);
    return prog.status().withContext("'" + path + "'");
  }
  prog.value()->storage = owned;
  prog.value()->constantSource = std::make_shared<ConstantSource>(fd, path, bytes, size);
  return std::shared_ptr<const Program>(std::move(prog).value());
}

} // namespace tessel
