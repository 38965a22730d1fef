// Layout assignment: which tensors between kernels are stored blocked (nchwc8 or nchwc16) instead
// of plain NCHW. Kernels with the channels in the vector lanes (convolutions, depthwise, pooling)
// then hand each other their results without transposing them in and out of NCHW. One function
// for the runtime (PreparedModel, after backend assignment) and, with the search issue, the
// compiler; it sees descriptors only.
#pragma once

#include "tessel/search/assign.h"

namespace tessel::search {

struct LayoutRequest {
  std::span<const Primitive> primitives;
  std::vector<const BackendDescriptor*> descriptors;
  const Assignment* assignment = nullptr; // per primitive: the descriptor and kernel that run it
  std::vector<bool> pinned;               // per tensor: graph inputs and outputs, constants
  std::vector<bool> constant;             // per tensor: bytes known at load (weights)
  int threads = 1;                        // for the backends' estimates
};

// Makes tensors blocked in `tensors` (all plain on entry) where that is safe and every primitive
// touching them runs so, trying nchwc8 then nchwc16 (a backend takes the block that suits its
// vectors):
// - the tensor is 4-D fp32, not pinned, padded by at most half its channels, written by a
//   conv2d, pooling or channel-run raster primitive and read only by conv2d (as its input or as
//   a Full post-op operand), pooling, channel-run raster and plane-reducing (global pooling)
//   reduce primitives, each with constant weights when a convolution. A channel-run raster moves
//   contiguous runs between tensors of batch 1 and one plane size (a concat or slice along the
//   channels); it is kept only under a block size that makes every channel count and run whole
//   blocks, where its regions move the same bytes blocked as plain;
// - tensors tied together (a conv2d's output and its Full post-op operands, a pooling's input
//   and output: the kernels address them alike; a channel-run raster's sources and output)
//   change together;
// - the backend assigned to each primitive that writes or reads one still supports it with the
//   new layouts, and their estimated time (BackendDescriptor::estimateSeconds, at the assigned
//   kernels: infinite for a kernel that does not take the layouts) drops; otherwise
//   the group stays plain. Groups left plain are tried once more after the first pass (their
//   neighbours' layouts change their estimates).
// Returns how many tensors became blocked.
int assignLayouts(const LayoutRequest& request, std::vector<TensorDesc>* tensors);

} // namespace tessel::search
