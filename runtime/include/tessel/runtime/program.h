// Program: a loaded, validated model in memory: tensors, constants, primitives in execution order.
// Built by the artifact loader, by the convert-time constant folder and by tests.
#pragma once

#include "tessel/core/primitive.h"
#include "tessel/runtime/backend.h"

#include <memory>
#include <string>
#include <vector>

namespace tessel {

struct ProgramTensor {
  std::string name;
  TensorDesc desc;
  const void* data = nullptr; // constants only: desc.byteSize() bytes kept alive by the Program
};

// What the plan was made for (the artifact's target table); a runtime on another target may
// re-plan. Empty/0 fields mean "any".
struct TargetInfo {
  std::string isa;
  int32_t block = 0;
  int32_t threads = 0;
  uint32_t costModelVersion = 0;
};

struct Program {
  std::vector<ProgramTensor> tensors;
  std::vector<Primitive> primitives;
  std::vector<std::string> backends; // the plan: backend per primitive ("" = any)
  std::vector<KernelChoice> kernels; // the plan: kernel per primitive (empty = defaults)
  TargetInfo target;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  std::shared_ptr<const void> storage; // owns whatever constant data points into
  // Constant bytes live in a read-only file mapping: pages released with madvise come back from
  // the file when read again, so a kernel's packed copy lets the raw pages go.
  bool constantsReloadable = false;

  std::vector<TensorDesc> descs() const;
  bool isConstant(int32_t id) const { return tensors[id].data != nullptr; }
};

// Checks ids, shapes, every primitive's params, that each non-constant, non-input tensor is
// written by exactly one primitive before it is read, and that outputs are produced.
Status validateProgram(const Program& program);

} // namespace tessel
