// The cpu_x86 backend: descriptor (what the planner sees) and executor (kernels of the family
// chosen from cpuid, or TESSEL_X86_ISA). Kernels: conv2d (packed GEMM or depthwise), matmul,
// and unary/binary/elementwise programs, all fp32 with post-ops fused; conv2d and pooling also
// on blocked nchwc tensors (nchwc8 with AVX2, nchwc16 with AVX-512).
#include "chain.h"
#include "conv.h"
#include "elementwise.h"
#include "matmul.h"
#include "movement.h"
#include "pool.h"
#include "tessel/backends/cpu_x86.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <unistd.h>

namespace tessel {
namespace {

using x86::KernelTable;

bool allF32(const Primitive& p, const std::vector<TensorDesc>& t) {
  for (int32_t id : p.inputs)
    if (t[id].dtype != DType::F32) return false;
  return t[p.outputs[0]].dtype == DType::F32;
}

bool allPlain(const Primitive& p, const std::vector<TensorDesc>& t) {
  for (int32_t id : p.inputs)
    if (t[id].layout != Layout::Plain) return false;
  return t[p.outputs[0]].layout == Layout::Plain;
}

// Pooling runs plain or blocked in blocks of the family's vector width, its input and output
// alike.
bool poolLayouts(const KernelTable& k, const Primitive& p, const std::vector<TensorDesc>& t) {
  const Layout l = t[p.inputs[0]].layout;
  return (l == Layout::Plain || layoutBlock(l) == k.vectorWidth) && t[p.outputs[0]].layout == l;
}

// Window ops' tiling arithmetic (strips, tiles, panels, padded copies) stays far inside int64
// for dimensions up to 2^24; a file with larger ones (valid, but no real model) runs on the
// reference backend, whose loops are checked element by element.
bool dimsFit(const Primitive& p, const std::vector<TensorDesc>& t) {
  constexpr int64_t kMax = int64_t{1} << 24;
  const auto fits = [&](int32_t id) {
    for (int64_t d : t[id].shape)
      if (d > kMax) return false;
    return true;
  };
  for (int32_t id : p.inputs)
    if (!fits(id)) return false;
  return fits(p.outputs[0]);
}

// Padding wider than the input plus the (dilated) window is valid ONNX but no real model's: the
// padded copies here are sized by the pads (a 2^20 pad on a 4x4 input asked 448 MiB of
// workspace), so such windows run on the reference backend, whose loops skip padding. Within
// the bound a padded plane is at most three times the input plus the window along each axis.
bool padsFit(const Primitive& p, const std::vector<TensorDesc>& t) {
  std::array<int64_t, 2> extent{};
  I64x4 pads{};
  if (p.kind() == PrimitiveKind::Conv2d) {
    const auto& c = p.as<Conv2dParams>();
    const Shape& w = t[p.inputs[1]].shape;
    extent = {(w[2] - 1) * c.dilation[0] + 1, (w[3] - 1) * c.dilation[1] + 1};
    pads = c.pads;
  } else {
    const auto& pp = p.as<PoolParams>();
    extent = pp.kernel;
    pads = pp.pads;
  }
  const Shape& x = t[p.inputs[0]].shape; // dimsFit: every term below is under 2^24
  const int64_t h = x[2] + extent[0], w = x[3] + extent[1];
  return pads[0] <= h && pads[2] <= h && pads[1] <= w && pads[3] <= w;
}

std::string_view variantName(x86::ConvVariant v) {
  switch (v) {
  case x86::ConvVariant::Gemm: return "gemm";
  case x86::ConvVariant::Winograd: return "winograd_f4";
  case x86::ConvVariant::Depthwise: return "depthwise";
  case x86::ConvVariant::GemmTransposed: return "gemm_transposed";
  case x86::ConvVariant::Winograd2: return "winograd_f2";
  case x86::ConvVariant::Direct: return "direct";
  case x86::ConvVariant::Auto: break;
  }
  return "auto";
}

class CpuX86Descriptor final : public BackendDescriptor {
public:
  // l2Bytes: a core's private cache (the host's, or the target's nominal one).
  CpuX86Descriptor(const KernelTable& t, int64_t l2Bytes) : table_(t), l2Bytes_(l2Bytes) {}
  std::string_view name() const override { return "cpu_x86"; }
  std::string_view target() const override {
    return table_.family == x86::IsaFamily::Avx512 ? "x86-64-avx512" : "x86-64-avx2";
  }

  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    if (p.kind() == PrimitiveKind::Raster) return true; // any dtype, any layout: bytes
    if (p.kind() == PrimitiveKind::Gather || p.kind() == PrimitiveKind::Select)
      return allPlain(p, t); // any dtype: bytes
    if (!allF32(p, t)) return false;
    switch (p.kind()) {
    case PrimitiveKind::Conv2d:
      return dimsFit(p, t) && padsFit(p, t) && x86::convSupported(table_, p, t);
    case PrimitiveKind::Pool: return dimsFit(p, t) && padsFit(p, t) && poolLayouts(table_, p, t);
    case PrimitiveKind::Reduce: // red::Kind
      return p.as<ReduceParams>().kind <= ReduceKind::Min && x86::reduceLayoutsFit(table_, p, t);
    default: break;
    }
    if (!allPlain(p, t)) return false;
    switch (p.kind()) {
    case PrimitiveKind::MatMul: return x86::matmulSupported(p.as<MatMulParams>());
    case PrimitiveKind::Unary:
    case PrimitiveKind::Binary:
    case PrimitiveKind::Elementwise: return x86::elementwiseSupported(p, t);
    default: return false;
    }
  }

  // A convolution's candidates are its variants that apply (x86::ConvVariant ids), cheapest
  // estimate at one thread first; every other primitive has one kernel, id 0.
  std::vector<KernelCandidate> candidates(const Primitive& p,
                                          const std::vector<TensorDesc>& t) const override {
    const std::string family(x86::familyName(table_.family));
    const std::string tile = std::to_string(table_.mr) + "x" + std::to_string(table_.nr);
    switch (p.kind()) {
    case PrimitiveKind::Conv2d: {
      std::vector<x86::ConvVariantCost> variants = x86::convVariants(table_, p, t, 1);
      std::stable_sort(variants.begin(), variants.end(),
                       [](const auto& a, const auto& b) { return a.laneFmas < b.laneFmas; });
      // The GEMMs of a pointwise convolution read its input in place; the others pack im2col
      // panels first. Named apart, so that a kernel's fitted line (profile_cache.h, kernelKey)
      // never carries from one to the other: fitted on pointwise GEMMs alone, the line priced
      // resnet18's 3x3 im2col GEMMs at a tenth of their time.
      const bool inPlace = x86::convIsPointwise(p, t);
      std::vector<KernelCandidate> all;
      for (const x86::ConvVariantCost& v : variants) {
        const bool gemm =
            v.variant == x86::ConvVariant::Gemm || v.variant == x86::ConvVariant::GemmTransposed;
        KernelCandidate k{{static_cast<uint32_t>(v.variant), {}},
                          "f32_conv2d_" + std::string(variantName(v.variant)) +
                              (gemm && inPlace ? "_pointwise" : "") + "_" + tile + "__" + family};
        if (x86::convVariantNeedsConstantWeights(v.variant)) k.constantInputs = 1u << 1;
        all.push_back(std::move(k));
      }
      return all;
    }
    case PrimitiveKind::MatMul: return {{{}, "f32_gemm_" + tile + "__" + family}};
    case PrimitiveKind::Pool: return {{{}, "f32_pool_window__" + family}};
    case PrimitiveKind::Raster: return {{{}, "raster_memcpy"}};
    case PrimitiveKind::Gather: return {{{}, "gather_rows"}};
    case PrimitiveKind::Select: return {{{}, "select_rows"}};
    case PrimitiveKind::Reduce: return {{{}, "f32_reduce__" + family}};
    default: return {{{}, "f32_elementwise__" + family}};
    }
  }

  // Id 0: a convolution's cheapest variant by the cost model below, picked when it is prepared
  // (at the session's thread count, knowing whether the weights are constant).
  KernelChoice firstChoice(const Primitive&, const std::vector<TensorDesc>&) const override {
    return {};
  }

  // Roofline at the family's nominal FMA rate: the search refines it with measurements.
  // Convolutions and pooling: the kernels' own cost model (the variant chosen, or the cheapest
  // for id 0: packing, transforms and transposes, with the tensors' layouts) at 2 * W lane-FMAs
  // a cycle; a variant that does not apply costs infinity. A convolution also pays the traffic
  // of an input or output larger than a core's private cache (spill). The rest: the longer of
  // streaming their tensors (streamSeconds) and their FLOPs at the family's peak.
  double estimateSeconds(const Primitive& p, const std::vector<TensorDesc>& t,
                         const KernelChoice& choice, int threads) const override {
    if (p.kind() == PrimitiveKind::Conv2d && supports(p, t)) {
      double best = std::numeric_limits<double>::infinity();
      for (const x86::ConvVariantCost& v : x86::convVariants(table_, p, t, std::max(threads, 1)))
        if (choice.id == 0 || static_cast<uint32_t>(v.variant) == choice.id)
          best = std::min(best, v.laneFmas);
      return best / laneRate(threads) + spill(t[static_cast<size_t>(p.inputs[0])]) +
             spill(t[static_cast<size_t>(p.outputs[0])]);
    }
    if (p.kind() == PrimitiveKind::Pool && supports(p, t))
      return x86::poolLaneFmas(table_, p, t) / laneRate(threads);
    return std::max(streamSeconds(p, t, threads), primitiveFlops(p, t) / (2 * laneRate(threads)));
  }

  // A convolution's packed or transformed weights (x86::convPreparedBytes); matmul's packed B
  // where it is constant is not counted (no plan chooses between forms of it).
  int64_t preparedBytes(const Primitive& p, const std::vector<TensorDesc>& t,
                        const KernelChoice& choice, int threads) const override {
    if (p.kind() != PrimitiveKind::Conv2d || !supports(p, t)) return 0;
    return x86::convPreparedBytes(table_, p, t, static_cast<x86::ConvVariant>(choice.id),
                                  std::max(threads, 1));
  }

  // A convolution's kept weights (x86::convPreparedBytes) past a core's private cache stream
  // from memory each run (a session's other steps evict them): resnet18's 512 -> 512 layers at
  // 7x7 keep 37.7 MB as Winograd F(4,3), 16.8 MB as F(2,3).
  int64_t streamedBytes(const Primitive& p, const std::vector<TensorDesc>& t,
                        const KernelChoice& choice, int threads) const override {
    const int64_t kept = preparedBytes(p, t, choice, threads);
    return kept > l2Bytes_ ? kept : 0;
  }

  // The scratch of the convolution, matmul and pooling kernels (the others need none), from the
  // kernels' own sizing code.
  int64_t workspaceBytes(const Primitive& p, const std::vector<TensorDesc>& t,
                         const KernelChoice& choice, uint32_t constantInputs,
                         int threads) const override {
    if (!supports(p, t)) return 0;
    threads = std::max(threads, 1);
    switch (p.kind()) {
    case PrimitiveKind::Conv2d:
      return x86::convWorkspaceBytes(table_, p, t, static_cast<x86::ConvVariant>(choice.id),
                                     (constantInputs & 2) != 0, threads, threads);
    case PrimitiveKind::MatMul:
      return x86::matmulWorkspaceBytes(table_, p.as<MatMulParams>(), (constantInputs & 2) != 0);
    case PrimitiveKind::Pool: return x86::poolWorkspaceBytes(table_, p, t, threads);
    default: return 0;
    }
  }

  std::optional<KernelCandidate> chainCandidate(std::span<const Primitive* const> chain,
                                                const std::vector<TensorDesc>& t) const override {
    for (const Primitive* p : chain)
      if (!supports(*p, t)) return std::nullopt;
    return x86::chainCandidate(table_, chain, t);
  }

  int64_t chainWorkspaceBytes(std::span<const Primitive* const> chain,
                              const std::vector<TensorDesc>& t, int threads) const override {
    if (!chainCandidate(chain, t)) return 0;
    return x86::chainWorkspaceBytes(table_, chain, t, threads);
  }

  // The fused kernel's work at the convolutions' rate, and the traffic of the chain's input and
  // output (spill below): the tensors between its primitives never leave the kernel.
  double estimateChainSeconds(std::span<const Primitive* const> chain,
                              const std::vector<TensorDesc>& t, int threads) const override {
    if (!chainCandidate(chain, t)) return std::numeric_limits<double>::infinity();
    return x86::chainLaneFmas(table_, chain, t, std::max(threads, 1)) / laneRate(threads) +
           spill(t[static_cast<size_t>(chain.front()->inputs[0])]) +
           spill(t[static_cast<size_t>(chain.back()->outputs[0])]);
  }

  double measuredPeakFlops() const override {
    if (!table_.fmaProbe) return 0; // a described family (describedTable): nothing to run
    std::call_once(peakOnce_, [this] {
      double best = 0;
      for (int r = 0; r < 5; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const double flops = table_.fmaProbe(1'000'000);
        const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
        best = std::max(best, flops / dt.count());
      }
      peak_ = best;
    });
    return peak_;
  }

private:
  // A tensor larger than a core's private cache: written out to the shared cache (or memory) by
  // its producer and read back by its consumer, at about 64 GB/s, whatever the thread count;
  // each side pays half. Kernels' work estimates leave it out; what fusing saves is mostly this
  // (mobilenet_v2's 144 x 56 x 56 expansions, 1.8 MB, fused 0.04-0.06 ms faster than the
  // kernels' work says, at one and two threads; its 192 x 28 x 28, 0.6 MB, within 0.005 ms).
  double spill(const TensorDesc& d) const {
    constexpr double kSharedCacheBytesPerSecond = 64e9;
    const int64_t bytes = d.byteSize();
    return bytes > l2Bytes_ ? static_cast<double>(bytes) / kSharedCacheBytesPerSecond : 0.0;
  }

  // The rest of the kernels (elementwise, reductions, rasters, matmul) stream their tensors: a
  // call's overhead (0.5 us: PP-OCR's smallest reductions take 0.3 us on one thread; a larger
  // one made the fitted lines scale the large kernels down to fit the small ones) and the bytes
  // at about 95 GB/s on one thread, 1.75x that on two (tensors between kernels sit in the shared
  // cache). Measured on the public models' elementwise, reduce and raster kernels at 0.04 to 30
  // MB: one thread 48-128 GB/s, two 35-195. A matmul whose weights come from memory takes longer
  // (mobilenet_v2's and shufflenet_v2's classifiers, 5.1 and 4.1 MB: 44-48 GB/s), which its
  // kernel's fit absorbs. It was bytes at 10 GB/s or the FLOPs at a scalar loop's 1 GFLOP/s (the
  // base class's default): 5-50x over what these kernels take. A raster's bytes are its regions'
  // elements, each read and written where its innermost stride puts it: an element of a run moves
  // its own bytes, one written (or read) every k elements moves k times them (the lines it lands
  // in), up to a cache line (PP-OCR's nearest upsamplings, written every 2nd or 8th element: 7-38
  // GB/s counted as plain bytes, within 1.5x of this).
  static double streamSeconds(const Primitive& p, const std::vector<TensorDesc>& t, int threads) {
    const double n = std::max(threads, 1);
    double bytes = primitiveBytes(p, t);
    if (p.kind() == PrimitiveKind::Raster) {
      const auto& r = p.as<RasterParams>();
      const auto element = static_cast<double>(dtypeSize(t[p.outputs[0]].dtype));
      const auto spread = [](const RegionView& v, const std::array<int64_t, 3>& size) {
        const int inner = size[2] > 1 ? 2 : size[1] > 1 ? 1 : 0;
        return static_cast<double>(std::clamp<int64_t>(std::abs(v.stride[inner]), 1, 16));
      };
      bytes = 0;
      for (const Region& g : r.regions) {
        const auto count = static_cast<double>(g.size[0] * g.size[1] * g.size[2]);
        bytes += count * element * ((r.fill ? 0.0 : spread(g.src, g.size)) + spread(g.dst, g.size));
      }
    }
    return 0.5e-6 + bytes / (95e9 * std::pow(n, 0.8));
  }

  double laneRate(int threads) const { return x86::laneFmasPerSecond(table_, threads); }

  const KernelTable& table_;
  int64_t l2Bytes_;
  mutable std::once_flag peakOnce_;
  mutable double peak_ = 0;
};

class CpuX86Backend final : public Backend {
public:
  CpuX86Backend(const KernelTable& t, int64_t l2Bytes) : table_(t), descriptor_(t, l2Bytes) {}
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override { return hostDevice(); }

  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& args, Device&) const override {
    const Primitive& p = *args.primitive;
    if (args.choice.id != 0 && p.kind() != PrimitiveKind::Conv2d)
      return corrupt("cpu_x86 has no kernel " + std::to_string(args.choice.id) + " for " +
                     std::string(primitiveName(p.kind())));
    if (!descriptor_.supports(p, *args.tensors))
      return unsupported("cpu_x86 does not run this " + std::string(primitiveName(p.kind())));
    std::unique_ptr<PreparedKernel> k;
    switch (p.kind()) {
    case PrimitiveKind::Conv2d: k = x86::prepareConv(table_, args); break;
    case PrimitiveKind::MatMul: k = x86::prepareMatMul(table_, args); break;
    case PrimitiveKind::Pool: k = x86::preparePool(table_, args); break;
    case PrimitiveKind::Raster: k = x86::prepareRaster(table_, args); break;
    case PrimitiveKind::Gather: k = x86::prepareGather(table_, args); break;
    case PrimitiveKind::Select: k = x86::prepareSelect(table_, args); break;
    case PrimitiveKind::Reduce: k = x86::prepareReduce(table_, args); break;
    default: k = x86::prepareElementwise(table_, args); break;
    }
    if (!k)
      return corrupt("cpu_x86 kernel " + std::to_string(args.choice.id) + " does not apply to " +
                     std::string(primitiveName(p.kind())) + " '" + p.origin + "'");
    return k;
  }

  Result<std::unique_ptr<PreparedKernel>> prepareChain(std::span<const PrepareArgs> chain,
                                                       Device&) const override {
    if (!x86::mayChain(chain)) return std::unique_ptr<PreparedKernel>(); // before the checks
    for (const PrepareArgs& a : chain)
      if (!descriptor_.supports(*a.primitive, *a.tensors)) return std::unique_ptr<PreparedKernel>();
    return x86::prepareChain(table_, chain);
  }

private:
  const KernelTable& table_;
  CpuX86Descriptor descriptor_;
};

} // namespace

namespace x86 {

KernelTable describedTable(const FamilyShape& shape) {
  KernelTable t;
  t.family = shape.family;
  t.vectorWidth = shape.vectorWidth;
  t.mr = shape.mr;
  t.nr = shape.nv * shape.vectorWidth;
  return t;
}

int64_t privateCacheBytes(const KernelTable& t) {
  const int64_t nominal =
      (t.family == IsaFamily::Avx512 ? kAvx512Shape : kAvx2Shape).nominalL2Bytes;
  if (!t.fmaProbe) return nominal; // described: planning offline for a target
  static const long host = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return host > 0 ? int64_t{host} : nominal;
}

} // namespace x86

std::unique_ptr<BackendDescriptor> cpuX86TargetDescriptor(std::string_view target) {
  static const KernelTable avx2 = x86::describedTable(x86::kAvx2Shape);
  static const KernelTable avx512 = x86::describedTable(x86::kAvx512Shape);
  for (const x86::FamilyShape* shape : {&x86::kAvx2Shape, &x86::kAvx512Shape}) {
    const KernelTable& table = shape == &x86::kAvx2Shape ? avx2 : avx512;
    auto d = std::make_unique<CpuX86Descriptor>(table, x86::privateCacheBytes(table));
    if (d->target() == target) return d;
  }
  return nullptr;
}

bool registerCpuX86BackendFamily(BackendRegistry& registry, const char* name) {
  std::string why;
  const x86::IsaFamily family = x86::chooseFamily(x86::detectCpuFeatures(), name, &why);
  if (family == x86::IsaFamily::None) return false; // the reference backend runs everything
  const bool avx512 = family == x86::IsaFamily::Avx512;
  const KernelTable& table = avx512 ? x86::avx512Kernels() : x86::avx2Kernels();
  registry.add(std::make_unique<CpuX86Backend>(table, x86::privateCacheBytes(table)));
  return true;
}

void registerCpuX86Backend(BackendRegistry& registry) {
  registerCpuX86BackendFamily(registry, std::getenv("TESSEL_X86_ISA"));
  for (const char* target : {"x86-64-avx2", "x86-64-avx512"})
    registry.addTarget(cpuX86TargetDescriptor(target));
}

} // namespace tessel
