// Session: runs a Program: binds every primitive to a backend, allocates the planned arena,
// takes inputs, runs, exposes outputs.
#pragma once

#include "tessel/runtime/backend.h"
#include "tessel/runtime/memory_plan.h"
#include "tessel/runtime/program.h"

#include <memory>
#include <string>

namespace tessel {

struct SessionOptions {
  std::string backend; // prefer this backend where it supports a primitive ("" = the plan's)
};

class Session {
public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Program> program,
                                                 const BackendRegistry& registry,
                                                 const SessionOptions& options = {});

  const Program& program() const { return *program_; }
  // Copies bytes into input i; bytes must equal the input's byte size.
  Status setInput(size_t i, const void* data, size_t bytes);
  Status run();
  const void* tensorData(int32_t id) const;
  const void* outputData(size_t i) const { return tensorData(program_->outputs[i]); }
  const MemoryPlan& memoryPlan() const { return plan_; }
  const std::vector<Backend*>& assignment() const { return assigned_; }

private:
  Session() = default;
  std::shared_ptr<const Program> program_;
  std::vector<TensorDesc> descs_;
  MemoryPlan plan_;
  std::vector<Backend*> assigned_;
  std::unique_ptr<uint8_t[]> arena_;
  uint8_t* arenaBase_ = nullptr;
};

} // namespace tessel
