// The execution plan of a Session (internal): steps, tensor placement and aliasing, arenas.
#pragma once

#include "tessel/runtime/session.h"

#include <map>

namespace tessel {

namespace detail {
enum class StepKind { Kernel, Upload, Download };
struct PlanStep {
  StepKind kind = StepKind::Kernel;
  int32_t primitive = -1;      // kernels
  std::vector<int32_t> inputs; // kernels: session tensor ids; copies: the source
  int32_t output = -1;
  int workspace = -1; // kernels: lifetime index in the step's space
  int space = 0;      // kernels: where it runs; copies: the device side
  bool skip = false;  // a raster made unnecessary by aliasing (planAliases)
  // Bound once allocate() has placed the arenas (Plan::bind): the buffers never move after.
  std::vector<TensorArg> args; // per input
  TensorArg out;
};
} // namespace detail

struct Session::Plan {
  struct Space {
    std::string name;
    std::shared_ptr<Device> device;
    std::unique_ptr<Stream> stream;
    std::vector<Lifetime> lifetimes;
    std::vector<int64_t> offsets; // per lifetime
    BufferRef arena;
    bool allocated = false;
  };
  struct Tensor {
    const TensorDesc* desc = nullptr;
    int space = 0;
    int32_t aliasOf = -1;    // the tensor whose storage this one uses (-1: its own)
    int64_t aliasOffset = 0; // bytes from that tensor's start
    const void* constant = nullptr;
    int lifetime = -1; // index into its space's lifetimes (storage roots only)
  };
  using StepKind = detail::StepKind;
  using Step = detail::PlanStep;

  std::vector<Space> spaces; // [0] is the host
  std::vector<Tensor> tensors;
  std::vector<std::unique_ptr<TensorDesc>> copyDescs;
  std::vector<Step> preload, steps;
  std::vector<int32_t> outputs; // per program output: a host tensor

  int spaceOf(const std::shared_ptr<Device>& device) {
    for (size_t i = 0; i < spaces.size(); ++i)
      if (spaces[i].name == device->memorySpace()) return static_cast<int>(i);
    spaces.push_back({std::string(device->memorySpace()), device, nullptr, {}, {}, {}, false});
    return static_cast<int>(spaces.size() - 1);
  }
  int inPlace = 0; // outputs written over a dying input (planAliases)

  // The tensor owning id's storage, and id's byte offset in it.
  int32_t rootOf(int32_t id, int64_t* offset = nullptr) const {
    int64_t off = 0;
    while (tensors[id].aliasOf >= 0) {
      off += tensors[id].aliasOffset;
      id = tensors[id].aliasOf;
    }
    if (offset) *offset = off;
    return id;
  }
  bool isConstant(int32_t id) const { return tensors[rootOf(id)].constant != nullptr; }
  BufferRef ref(int32_t id) const {
    int64_t off = 0;
    const Tensor& r = tensors[rootOf(id, &off)];
    if (r.constant) return {const_cast<uint8_t*>(static_cast<const uint8_t*>(r.constant)), off};
    const Space& s = spaces[r.space];
    return {s.arena.handle, s.arena.offset + s.offsets[r.lifetime] + off};
  }
  // Resolves every step's tensors to buffers once, so a run walks no alias chains.
  void bind() {
    for (std::vector<Step>* list : {&preload, &steps})
      for (Step& s : *list) {
        if (s.skip) continue;
        s.args.clear();
        s.args.reserve(s.inputs.size());
        for (int32_t id : s.inputs)
          s.args.push_back({tensors[id].desc, ref(id)});
        s.out = {tensors[s.output].desc, ref(s.output)};
      }
  }
};

// Lets tensors share storage where no copy is needed: rasters that only gather whole tensors
// into a concat (their producers write in place) or cut one contiguous slice; outputs written
// over an input that dies at that step (PreparedKernel::inPlaceInput). Marks skipped rasters.
void planAliases(Session::Plan& plan, const PreparedModel& model);

} // namespace tessel
