#pragma once

#include "driver.h"
#include "tessel/runtime/large_buffer.h"

#include <functional>
#include <memory>
#include <vector>

namespace tessel::x86 {

// The cost model's rate: 2 * W lane-FMAs a cycle per thread at a nominal 3 GHz (what its work in
// lane-FMAs takes in seconds, and the family's FMA peak at half the FLOPs).
inline double laneFmasPerSecond(const KernelTable& t, int threads) {
  return 2.0 * t.vectorWidth * 3e9 * std::max(threads, 1);
}

// conv2d kernel ids (KernelChoice::id); 0 lets the cost model choose.
// GemmTransposed puts output channels in the vector lanes and output positions in the rows:
// for small outputs (7x7) whose positions fill few lanes. Winograd F(4,3) and Winograd2 F(2,3)
// are the same way round: channels in the lanes of the transforms and of the GEMMs, tiles in the
// rows. Direct reads the input (or a zero-padded copy) in place, no im2col packing, output
// channels in the lanes and output positions of a row in the rows: for any non-pointwise
// convolution, chosen where packing would cost more than the arithmetic (stems, strided
// convolutions).
enum class ConvVariant : uint32_t {
  Auto = 0,
  Gemm = 1,
  Winograd = 2,
  Depthwise = 3,
  GemmTransposed = 4,
  Winograd2 = 5,
  Direct = 6,
};

// Post-ops with vector forms; tensors plain, or blocked nchwc with the family's vector width as
// the block (input, output and the Full post-op operands, laid out as the output) where a
// variant with the channels in the lanes applies.
bool convSupported(const KernelTable& table, const Primitive& p,
                   const std::vector<TensorDesc>& tensors);
// The cost model's work for every variant that applies to the tensors' layouts (weights taken
// as constant), in lane-FMAs (a cycle is 2 * W of them): the kernel candidates the search weighs
// (through estimateSeconds). Id 0 (Auto) runs the cheapest.
struct ConvVariantCost {
  ConvVariant variant = ConvVariant::Auto;
  double laneFmas = 0;
};
std::vector<ConvVariantCost> convVariants(const KernelTable& table, const Primitive& p,
                                          const std::vector<TensorDesc>& tensors, int threads);
// The window kernel's work on one image of a depthwise convolution, in lane-FMAs (conv.cpp,
// depthwiseLaneFmas): the unfused convolution's, and the fused chain's (chain.cpp), whose
// expansion fills the strips in the lanes (plainInput false).
struct DepthwiseWork {
  int64_t channels = 0, h = 0, w = 0, paddedH = 0, paddedW = 0, oh = 0, ow = 0, taps = 0;
  bool plainInput = false, plainOutput = false;
};
double depthwiseLaneFmas(const KernelTable& table, const DepthwiseWork& work, int threads);
// The bytes of weights a variant keeps when prepared (packed panels, Winograd's transformed
// weights; 0 for the depthwise kernel, which reads them in place); Auto: the cheapest variant's at
// `threads`.
int64_t convPreparedBytes(const KernelTable& table, const Primitive& p,
                          const std::vector<TensorDesc>& tensors, ConvVariant variant, int threads);
// The scratch bytes a kernel prepared for `variant` (Auto: the cheapest at `prepareThreads`) needs
// per run at `threads` threads: its PreparedKernel::workspaceBytes, from the same code, without
// packing anything. 0 where the variant does not apply.
int64_t convWorkspaceBytes(const KernelTable& table, const Primitive& p,
                           const std::vector<TensorDesc>& tensors, ConvVariant variant,
                           bool constantWeights, int prepareThreads, int threads);
// Whether a convolution is pointwise (1x1, stride 1, no padding or dilation): its GEMMs read the
// input in place as their im2col matrix.
bool convIsPointwise(const Primitive& p, const std::vector<TensorDesc>& tensors);
// Whether the variant packs or transforms its weights when prepared (they must be constant).
bool convVariantNeedsConstantWeights(ConvVariant v);
std::unique_ptr<PreparedKernel> prepareConv(const KernelTable& table, const PrepareArgs& args);
// Weights [O, K] as the B panels of GEMMs with the output channels in the lanes:
// [o panel][k][nr], lanes past O zero.
LargeFloats packWeightPanels(const KernelTable& t, const float* w, int64_t o, int64_t k);
// packWeightPanels shared (sharedPacking below) by every kernel reading the same weights so: the
// transposed and direct forms, the pointwise-into-depthwise chain, in every plan.
std::shared_ptr<const LargeFloats> sharedWeightPanels(const KernelTable& t, const float* w,
                                                      int64_t o, int64_t k);
// The packing of constant `weight` that `key` (everything the packing depends on) names, made
// by pack() unless a live kernel already holds it: plans for new input shapes and sessions of
// one model share their packed weights.
std::shared_ptr<const LargeFloats> sharedPacking(const void* weight,
                                                 const std::vector<int64_t>& key,
                                                 const std::function<LargeFloats()>& pack);

} // namespace tessel::x86
