#include "tessel/runtime/program.h"

#include "checksum.h"
#include "tessel/core/file.h"

#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace tessel {

std::vector<TensorDesc> Program::descs() const {
  std::vector<TensorDesc> d;
  d.reserve(tensors.size());
  for (const ProgramTensor& t : tensors)
    d.push_back(t.desc);
  return d;
}

std::vector<bool> Program::constants() const {
  std::vector<bool> c(tensors.size());
  for (size_t id = 0; id < tensors.size(); ++id)
    c[id] = tensors[id].data != nullptr;
  return c;
}

std::vector<bool> Program::pinned() const {
  std::vector<bool> p = constants();
  for (int32_t id : inputs)
    p[static_cast<size_t>(id)] = true;
  for (int32_t id : outputs)
    p[static_cast<size_t>(id)] = true;
  return p;
}

Status validateProgram(const Program& program) {
  const size_t count = program.tensors.size();
  for (const ProgramTensor& t : program.tensors) {
    if (dtypeSize(t.desc.dtype) == 0) return corrupt("tensor '" + t.name + "' has no valid dtype");
    if (static_cast<int>(t.desc.layout) >= kLayoutCount ||
        (t.desc.layout != Layout::Plain && t.desc.rank() != 4))
      return corrupt("tensor '" + t.name + "' has layout " +
                     std::to_string(static_cast<int>(t.desc.layout)) + ", which needs a 4-D shape");
    auto n = t.desc.layout == Layout::Plain ? elementCount(t.desc.shape)
                                            : elementCount(t.desc.storageShape());
    if (!n.isOk()) return n.status().withContext("tensor '" + t.name + "'");
  }
  std::vector<bool> ready(count, false);
  for (size_t i = 0; i < count; ++i)
    ready[i] = program.tensors[i].data != nullptr;
  for (int32_t id : program.inputs) {
    if (id < 0 || static_cast<size_t>(id) >= count) return corrupt("input id out of range");
    if (ready[id])
      return corrupt("input '" + program.tensors[id].name + "' is also a constant or repeated");
    ready[id] = true;
  }
  if (!program.backends.empty() && program.backends.size() != program.primitives.size())
    return corrupt("plan length differs from the primitive count");
  if (!program.kernels.empty() && program.kernels.size() != program.primitives.size())
    return corrupt("kernel plan length differs from the primitive count");
  std::vector<const TensorDesc*> descs;
  descs.reserve(count);
  for (const ProgramTensor& t : program.tensors)
    descs.push_back(&t.desc);
  for (const Primitive& p : program.primitives) {
    TESSEL_RETURN_IF_ERROR(validatePrimitive(p, descs));
    for (int32_t id : p.inputs)
      if (!ready[id])
        return corrupt(std::string(primitiveName(p.kind())) + " '" + p.origin + "' reads tensor '" +
                       program.tensors[id].name + "' before it is written");
    int32_t out = p.outputs[0];
    if (ready[out])
      return corrupt(std::string(primitiveName(p.kind())) + " '" + p.origin +
                     "' overwrites tensor '" + program.tensors[out].name + "'");
    ready[out] = true;
  }
  for (int32_t id : program.outputs) {
    if (id < 0 || static_cast<size_t>(id) >= count) return corrupt("output id out of range");
    if (!ready[id]) return corrupt("output '" + program.tensors[id].name + "' is never written");
  }
  return Status::ok();
}

ConstantSource::~ConstantSource() {
  ::close(fd_);
}

void ConstantSource::release(const void* data, int64_t size) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t end = begin + static_cast<uintptr_t>(size);
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last <= first) return;
  std::lock_guard<std::mutex> lock(mutex_);
  // Private anonymous pages: given back now, zero if read before restore().
  madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  released_.emplace_back(first - reinterpret_cast<uintptr_t>(bytes_), last - first);
}

Status ConstantSource::restore() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (released_.empty()) return Status::ok();
  // The whole file again (through the descriptor kept open: renamed or unlinked, it is still
  // the file loaded), checked against the checksum the loaded bytes were verified with (the
  // trailer is never released): only unchanged bytes may refill the released pages.
  std::vector<uint8_t> again(size_);
  const bool same = readExactly(fd_, again.data(), size_, path_).isOk() && size_ >= 20 &&
                    std::memcmp(again.data() + size_ - 8, bytes_ + size_ - 8, 8) == 0 &&
                    artifactChecksum(again.data(), size_ - 8) == storedChecksum(bytes_, size_);
  if (!same)
    return ioError("'" + path_ +
                   "' changed on disk since it was loaded: constants this model "
                   "gave back after preparing cannot be read again (load it again)");
  // Only the released pages: the others may be read by running sessions.
  for (const auto& [offset, length] : released_)
    std::memcpy(bytes_ + offset, again.data() + offset, length);
  released_.clear();
  return Status::ok();
}

} // namespace tessel
