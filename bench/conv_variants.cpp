// Times every cpu_x86 conv2d variant that applies to one convolution, in isolation (weights
// packed once, min of the runs in five interleaved rounds), on plain and blocked tensors: what the
// cost model in backends/cpu_x86/conv.cpp should rank the same way. Usage: tessel_conv_variants C O
// H W K STRIDE PAD GROUP [THREADS] [RUNS] [KERNEL_ID]; with KERNEL_ID (0 auto, 1 gemm, 2 winograd
// F(4,3), 3 depthwise, 4 transposed gemm, 5 winograd F(2,3), 6 direct) only that one, e.g. under
// `perf record`.
#include "tessel/backends/cpu_x86.h"
#include "tessel/runtime/backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace tessel;

int main(int argc, char** argv) {
  if (argc < 9) {
    std::fprintf(stderr, "usage: %s C O H W K STRIDE PAD GROUP [THREADS] [RUNS] [KERNEL_ID]\n",
                 argv[0]);
    return 2;
  }
  const auto arg = [&](int i) { return std::atoll(argv[i]); };
  const int64_t c = arg(1), o = arg(2), h = arg(3), w = arg(4), k = arg(5), s = arg(6),
                pad = arg(7), g = arg(8);
  const int threads = argc > 9 ? static_cast<int>(arg(9)) : 1;
  const int runs = argc > 10 ? static_cast<int>(arg(10)) : 50;
  const int64_t only = argc > 11 ? arg(11) : -1;
  if (c <= 0 || o <= 0 || h <= 0 || w <= 0 || k <= 0 || s <= 0 || pad < 0 || g <= 0 || c % g ||
      o % g || threads <= 0 || runs <= 0 || only < -1 || only > 6) {
    std::fprintf(stderr, "bad convolution\n");
    return 2;
  }
  BackendRegistry registry;
  registerCpuX86Backend(registry);
  Backend* cpu = registry.find("cpu_x86");
  if (!cpu) {
    std::fprintf(stderr, "cpu_x86 does not run on this CPU\n");
    return 1;
  }
  Conv2dParams p;
  p.stride = {s, s};
  p.pads = {pad, pad, pad, pad};
  p.group = g;
  p.hasBias = true;
  const int64_t oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
  std::vector<TensorDesc> d{{DType::F32, {1, c, h, w}},
                            {DType::F32, {o, c / g, k, k}},
                            {DType::F32, {o}},
                            {DType::F32, {1, o, oh, ow}}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<std::vector<float>> data;
  // A blocked tensor stores its channels padded to the block (16 at most): room for that.
  const auto stored = [](int64_t channels, int64_t plane) {
    return static_cast<size_t>((channels + 15) / 16 * 16 * plane + 64);
  };
  for (size_t i = 0; i < 3; ++i) {
    std::vector<float> v(i == 0 ? stored(c, h * w) : static_cast<size_t>(d[i].numel()) + 64);
    for (float& x : v)
      x = dist(rng);
    data.push_back(std::move(v));
  }
  std::vector<float> out(stored(o, oh * ow));
  const char* names[] = {
      "auto",  "gemm", "winograd F(4,3)", "depthwise", "transposed gemm", "winograd F(2,3)",
      "direct"};
  const double flops = 2.0 * o * oh * ow * (c / g) * k * k;
  std::printf("conv %lldx%lld s%lld p%lld g%lld, %lld -> %lld channels, %lldx%lld -> %lldx%lld, "
              "%d threads, min of %d (ms, GFLOP/s)\n",
              static_cast<long long>(k), static_cast<long long>(k), static_cast<long long>(s),
              static_cast<long long>(pad), static_cast<long long>(g), static_cast<long long>(c),
              static_cast<long long>(o), static_cast<long long>(h), static_cast<long long>(w),
              static_cast<long long>(oh), static_cast<long long>(ow), threads, runs);
  // Five rounds over every (layout, variant), each keeping its fastest run: the machine is
  // shared, so candidates are interleaved rather than timed one after another.
  const Layout layouts[] = {Layout::Plain, Layout::NCHWc8, Layout::NCHWc16};
  std::vector<double> best(3 * 7, 0.0);
  for (int round = 0; round < 5; ++round)
    for (int l = 0; l < 3; ++l) {
      std::vector<TensorDesc> laid = d;
      laid[0].layout = laid[3].layout = layouts[l];
      Primitive prim;
      prim.params = p;
      prim.inputs = {0, 1, 2};
      prim.outputs = {3};
      if (!cpu->descriptor().supports(prim, laid)) continue;
      for (uint32_t id = 0; id <= 6; ++id) {
        if (only >= 0 && id != only) continue;
        HostRunOptions opts;
        opts.threads = threads;
        opts.constantMask = 0b110;
        opts.choice.id = id;
        opts.runs = runs;
        double seconds = 0;
        opts.bestSeconds = &seconds;
        std::vector<const void*> in{data[0].data(), data[1].data(), data[2].data()};
        if (!runPrimitiveOnHost(*cpu, prim, laid, in, out.data(), opts).isOk()) continue;
        double& b = best[static_cast<size_t>(l * 7 + id)];
        b = b == 0 ? seconds : std::min(b, seconds);
      }
    }
  for (int l = 0; l < 3; ++l)
    for (int id = 0; id <= 6; ++id)
      if (const double b = best[static_cast<size_t>(l * 7 + id)]; b > 0)
        std::printf("  %-8s %-16s %8.3f %8.1f\n", std::string(layoutName(layouts[l])).c_str(),
                    names[id], b * 1e3, flops / b / 1e9);
  return 0;
}
