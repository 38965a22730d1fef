// Program: a loaded, validated model in memory: tensors, constants, primitives in execution order.
// Built by the artifact loader, by the convert-time constant folder and by tests.
#pragma once

#include "tessel/core/primitive.h"
#include "tessel/runtime/backend.h"

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tessel {

struct ProgramTensor {
  std::string name;
  TensorDesc desc;
  const void* data = nullptr; // constants only: desc.byteSize() bytes kept alive by the Program
};

// What the plan was made for (the artifact's target table). Empty/0 fields mean "any".
// isa: the named target (BackendDescriptor::target, `tessel convert --target`: "x86-64-avx512");
// threads: the thread count its estimates were for; costModelVersion: 0 for a first-fit plan,
// else the cost model's version; block: the channel block of the blocked layouts the plan chose
// (0: none). A cost-model plan for a target no backend here has is planned again when loaded
// (PreparedModel::create). From version kGraphPlanVersion on, the plan also chose the program's
// layouts and fused chains (`ProgramTensor::desc.layout`, `Program::fused`): a runtime that
// keeps the plan keeps them, one that plans again sets the layouts plain and chooses anew.
inline constexpr uint32_t kGraphPlanVersion = 2;

struct TargetInfo {
  std::string isa;
  int32_t block = 0;
  int32_t threads = 0;
  uint32_t costModelVersion = 0;
};

// Where a file-loaded program's bytes came from, and which of its constants' pages were given
// back (PreparedModel releases them; restore() reads them back after checking the file).
class ConstantSource {
public:
  // Keeps `fd` open (closed by the destructor): a restore reads the same file even after it is
  // renamed or unlinked.
  ConstantSource(int fd, std::string path, uint8_t* bytes, size_t size)
      : fd_(fd), path_(std::move(path)), bytes_(bytes), size_(size) {}
  ~ConstantSource();
  ConstantSource(const ConstantSource&) = delete;
  ConstantSource& operator=(const ConstantSource&) = delete;
  // Gives back the whole pages inside [data, data + size) (they read as zeros until restored).
  void release(const void* data, int64_t size);
  // Reads every released page back from the file, if its bytes are still those loaded (same
  // checksum); an error otherwise.
  Status restore();

private:
  mutable std::mutex mutex_;
  int fd_;
  std::string path_;
  uint8_t* bytes_;
  size_t size_;
  std::vector<std::pair<size_t, size_t>> released_; // byte offset, length (whole pages)
};

struct Program {
  std::vector<ProgramTensor> tensors;
  std::vector<Primitive> primitives;
  std::vector<std::string> backends; // the plan: backend per primitive ("" = any)
  std::vector<KernelChoice> kernels; // the plan: kernel per primitive (empty = defaults)
  // The plan: per primitive, whether it runs in one kernel with the next (a fused chain, as
  // search::Assignment::fused); empty = none. Kept only from a plan of kGraphPlanVersion on.
  std::vector<uint8_t> fused;
  TargetInfo target;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  std::shared_ptr<const void> storage; // owns whatever constant data points into
  // Set for a program read from a file into memory it owns (loadArtifactFile): constants that
  // every reader packs may have their pages given back after preparing, and a later prepare
  // that needs them again restores them from the file, which must still hold the same bytes.
  // Null otherwise (the caller's bytes are never released).
  std::shared_ptr<ConstantSource> constantSource;

  // Set by the artifact loader: the verified artifact (its flatbuffer, size prefix included),
  // readable while `storage` (or a borrowing caller's bytes) lives, for the parts of the file
  // another library reads (the graph table: tessel/graph/artifact.h).
  const uint8_t* artifact = nullptr;
  size_t artifactSize = 0;
  // The artifact carries a graph and no program: its plan depends on input shapes or values
  // known only at run time, so it runs through a dynamic session (libtessel_graph), not a
  // Session.
  bool plansAtRunTime = false;

  std::vector<TensorDesc> descs() const;
  bool isConstant(int32_t id) const { return tensors[id].data != nullptr; }
  // Per tensor: a constant; pinned, a constant or a program input or output (what the layout
  // rules keep plain, search/layouts.h).
  std::vector<bool> constants() const;
  std::vector<bool> pinned() const;
};

// Checks ids, shapes, every primitive's params, that each non-constant, non-input tensor is
// written by exactly one primitive before it is read, and that outputs are produced.
Status validateProgram(const Program& program);

} // namespace tessel
