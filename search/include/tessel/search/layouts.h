// The layout rules: which tensors between kernels may be stored blocked (nchwc8 or nchwc16)
// instead of plain NCHW, and which must share a layout. Kernels with the channels in the vector
// lanes (convolutions, depthwise, pooling) then hand each other their results without
// transposing them in and out of NCHW. The rules say what is allowed; the plan (plan_model.h)
// chooses among the allowed layouts by cost, with the kernels, since a layout is part of a
// tensor's state there. They see primitives and tensors only, no backend: whether a backend runs
// a primitive with the layouts is its `supports`, and how fast its `estimateSeconds`.
#pragma once

#include "tessel/core/primitive.h"
#include "tessel/core/status.h"
#include "tessel/core/tensor_desc.h"

#include <cstdint>
#include <span>
#include <vector>

namespace tessel::search {

inline constexpr uint8_t layoutBit(Layout layout) {
  return static_cast<uint8_t>(1u << static_cast<unsigned>(layout));
}

// A tensor may be stored blocked (its bit set in `allowed`) when it is 4-D fp32, not pinned
// (a program input or output, a constant), padded by at most half its channels under the block,
// written by a conv2d (with constant weights), pooling or channel-run raster primitive and read
// only by such conv2d (as its input or as a Full post-op operand), pooling, channel-run raster
// and plane-reducing (global pooling) reduce primitives. A channel-run raster moves contiguous
// runs between tensors of batch 1 and one plane size (a concat or slice along the channels); it
// takes a blocked layout only when every channel count and run is whole blocks, where its regions
// move the same bytes blocked as plain. Views read and write plain tensors.
struct LayoutRules {
  std::vector<uint8_t> allowed;     // per tensor: layoutBit of each layout it may take
  std::vector<uint8_t> channelRuns; // per primitive: a channel-run raster
};

// `pinned` and `constant` are per tensor.
LayoutRules layoutRules(std::span<const Primitive> primitives, const std::vector<TensorDesc>& t,
                        const std::vector<bool>& pinned, const std::vector<bool>& constant);

// Every assignment of layouts to primitive i's operands (its inputs in order, then its output)
// that the rules allow, all plain first. Operands a kernel addresses alike share a layout: a
// conv2d's output and its Full post-op operands, a pooling's input and output, a channel-run
// raster's sources and output (and a tensor read twice).
std::vector<std::vector<Layout>> layoutVariants(const LayoutRules& rules,
                                                std::span<const Primitive> primitives, size_t i,
                                                const std::vector<TensorDesc>& t);

// Per tensor: its layout group (an id shared by the tensors that must share a layout, through the
// primitives that tie them) where it may be stored blocked, else -1. A group is what changes
// layout as one: a layout segment.
std::vector<int32_t> layoutGroups(const LayoutRules& rules, std::span<const Primitive> primitives);

// Whether the tensors' layouts, as set in `t`, keep the rules: each tensor in a layout it may
// take, each primitive's operands in one of its variants. Fails naming the first that is not.
Status checkLayouts(const LayoutRules& rules, std::span<const Primitive> primitives,
                    const std::vector<TensorDesc>& t);

} // namespace tessel::search
