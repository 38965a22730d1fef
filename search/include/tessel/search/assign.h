// Backend assignment: which backend and kernel run each primitive. One planner for the compiler
// (tessel-emit writes its answer into the artifact) and the runtime (a session re-plans when a
// backend is preferred or the artifact's choice is unavailable here). It sees descriptors only.
#pragma once

#include "tessel/runtime/backend.h"

#include <span>
#include <string>
#include <vector>

namespace tessel::search {

struct AssignRequest {
  std::span<const Primitive> primitives;
  const std::vector<TensorDesc>* tensors = nullptr;
  // Candidates in priority order: the first that supports a primitive wins, unless one below
  // applies first.
  std::vector<const BackendDescriptor*> descriptors;
  std::string preferred;            // takes every primitive it supports ("" = none)
  std::vector<std::string> planned; // per primitive, the artifact's backend (empty = no plan)
  std::vector<KernelChoice> plannedKernels; // per primitive, the artifact's kernel
  int threads = 1;
};

inline constexpr int kNoBackend = -1; // views: no kernel, they alias their input

struct Assignment {
  std::vector<int> backend;         // per primitive: index into descriptors, or kNoBackend
  std::vector<KernelChoice> kernel; // per primitive
  // Per primitive: it runs in one kernel with the next (a fused form, pickChains); empty when
  // nothing is fused.
  std::vector<uint8_t> fused;
};

// Fails naming the first primitive no descriptor supports, or an unknown preferred backend.
Result<Assignment> assignBackends(const AssignRequest& request);

} // namespace tessel::search
