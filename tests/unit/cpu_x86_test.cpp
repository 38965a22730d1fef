// cpu_x86 kernels of every ISA family this CPU has, against the reference backend, over shapes
// that hit the edges: one and prime sizes, microkernel row and column tails, K past one block,
// strides, dilation, asymmetric pads, groups, depthwise, every post-op form.
#include "tessel/backends/cpu_x86.h"
#include "tessel/runtime/session.h"
#include "test_util.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>

using namespace tessel;
using test::backendNamed;
using test::randomFloats;
using test::windowOut;

namespace {

struct Family {
  const char* name;
  BackendRegistry registry;
  Backend* backend = nullptr;
};

// The families this CPU runs; an AVX-512 test says so when the CPU lacks it.
std::vector<std::unique_ptr<Family>>& families() {
  static std::vector<std::unique_ptr<Family>> all = [] {
    std::vector<std::unique_ptr<Family>> v;
    for (const char* name : {"avx2", "avx512"}) {
      auto f = std::make_unique<Family>();
      f->name = name;
      if (!registerCpuX86BackendFamily(f->registry, name)) {
        WARN("cpu_x86 " << name << ": this CPU lacks it; its kernels are not tested here");
        continue;
      }
      f->backend = f->registry.find("cpu_x86");
      v.push_back(std::move(f));
    }
    return v;
  }();
  return all;
}

// Plain NCHW data in the storage of `d`: as it is, or blocked nchwc with the padded channels
// zero.
std::vector<float> toLayout(const std::vector<float>& plain, const TensorDesc& d) {
  const int64_t b = layoutBlock(d.layout);
  if (!b) return plain;
  const Shape& s = d.shape;
  const int64_t plane = s[2] * s[3];
  std::vector<float> out(static_cast<size_t>(d.storageNumel()), 0.f);
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t q = 0; q < plane; ++q)
        out[static_cast<size_t>(n * (d.storageNumel() / s[0]) + (c / b) * plane * b + q * b +
                                c % b)] = plain[static_cast<size_t>((n * s[1] + c) * plane + q)];
  return out;
}

// The plain NCHW data of a tensor stored as `d`; a blocked one's padded channels must be zero.
std::vector<float> fromLayout(const std::vector<float>& stored, const TensorDesc& d) {
  const int64_t b = layoutBlock(d.layout);
  if (!b) return stored;
  const Shape& s = d.shape;
  const int64_t plane = s[2] * s[3], image = d.storageNumel() / std::max<int64_t>(s[0], 1);
  std::vector<float> out(static_cast<size_t>(d.numel()));
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < (s[1] + b - 1) / b * b; ++c)
      for (int64_t q = 0; q < plane; ++q) {
        const float v =
            stored[static_cast<size_t>(n * image + (c / b) * plane * b + q * b + c % b)];
        if (c < s[1])
          out[static_cast<size_t>((n * s[1] + c) * plane + q)] = v;
        else if (v != 0.f)
          FAIL_CHECK("padded channel " << c << " holds " << v);
      }
  return out;
}

// Runs `p` on every family and on the reference; inputs 0..n-1 are tensors descs[0..n-1], the
// output descs[n]. Inputs in constantMask are handed to prepare() as constants. An element
// passes when |got - want| <= tol * (1 + max |want|): summation order and Winograd transforms
// move errors with the scale of the whole result, not of the element. Returns the largest
// error seen, relative to 1 + max |want|. blocked, when given, names the tensors that cpu_x86
// gets blocked in the family's layout (nchwc8 with AVX2, nchwc16 with AVX-512; the reference
// runs them plain): data is converted in and out, and the other block size is declined.
double compareWithReference(Primitive p, const std::vector<TensorDesc>& descs,
                            const std::vector<std::vector<float>>& inputs, uint64_t constantMask,
                            float tol = 2e-5f, uint32_t kernel = 0,
                            const std::vector<bool>& blocked = {}) {
  p.inputs.clear();
  for (size_t i = 0; i < inputs.size(); ++i)
    p.inputs.push_back(static_cast<int32_t>(i));
  p.outputs = {static_cast<int32_t>(inputs.size())};
  REQUIRE(validatePrimitive(p, descs).isOk());
  std::vector<const void*> in;
  for (const auto& v : inputs)
    in.push_back(v.data());
  const int64_t n = descs[inputs.size()].numel();
  std::vector<float> want(static_cast<size_t>(n), -7.f);
  REQUIRE(runPrimitiveOnHost(backendNamed("reference"), p, descs, in, want.data()).isOk());
  float scale = 1.f;
  for (float w : want)
    scale = std::max(scale, 1.f + std::fabs(w));
  double worst = 0;
  for (auto& f : families()) {
    const bool avx2 = std::string(f->name) == "avx2";
    std::vector<TensorDesc> laid = descs, other = descs;
    for (size_t i = 0; i < blocked.size(); ++i)
      if (blocked[i]) {
        laid[i].layout = avx2 ? Layout::NCHWc8 : Layout::NCHWc16;
        other[i].layout = avx2 ? Layout::NCHWc16 : Layout::NCHWc8;
      }
    if (!blocked.empty()) CHECK_FALSE(f->backend->descriptor().supports(p, other));
    std::vector<std::vector<float>> stored;
    std::vector<const void*> storedIn;
    for (size_t i = 0; i < inputs.size(); ++i)
      stored.push_back(toLayout(inputs[i], laid[i]));
    for (const auto& v : stored)
      storedIn.push_back(v.data());
    const TensorDesc& out = laid[inputs.size()];
    REQUIRE(f->backend->descriptor().supports(p, laid));
    for (int threads : {1, 3}) {
      std::vector<float> got(static_cast<size_t>(out.storageNumel()), -9.f);
      HostRunOptions o;
      o.threads = threads;
      o.constantMask = constantMask;
      o.choice.id = kernel;
      Status s = runPrimitiveOnHost(*f->backend, p, laid, storedIn, got.data(), o);
      INFO(f->name << ", " << threads << " threads, " << out.toString());
      REQUIRE(s.isOk());
      got = fromLayout(got, out);
      for (int64_t i = 0; i < n; ++i) {
        const float w = want[static_cast<size_t>(i)], g = got[static_cast<size_t>(i)];
        worst = std::max(worst, static_cast<double>(std::fabs(g - w) / scale));
        if (std::fabs(g - w) > tol * scale) {
          FAIL_CHECK("element " << i << ": got " << g << ", want " << w);
          break;
        }
      }
    }
  }
  return worst;
}

struct ConvCase {
  Shape x;
  int64_t o, kh, kw, group, sh, sw, dil;
  I64x4 pads;
  bool bias;
  PostOps post; // operands: per-channel at index base, full at base+1 when named
};

// xBlocked, yBlocked: the input and output blocked on cpu_x86 (Full post-op operands as the
// output; they are then 4-D).
double runConvCase(const ConvCase& c, uint32_t seed, bool constantWeights, uint32_t kernel = 0,
                   float tol = 5e-5f, bool xBlocked = false, bool yBlocked = false) {
  const bool laid = xBlocked || yBlocked;
  Conv2dParams p;
  p.stride = {c.sh, c.sw};
  p.dilation = {c.dil, c.dil};
  p.pads = c.pads;
  p.group = c.group;
  p.hasBias = c.bias;
  p.postOps = c.post;
  const Shape ws{c.o, c.x[1] / c.group, c.kh, c.kw};
  const Shape ys{c.x[0], c.o, windowOut(c.x[2], c.kh, c.sh, c.dil, c.pads[0], c.pads[2]),
                 windowOut(c.x[3], c.kw, c.sw, c.dil, c.pads[1], c.pads[3])};
  std::vector<TensorDesc> d{{DType::F32, c.x}, {DType::F32, ws}};
  if (c.bias) d.push_back({DType::F32, {c.o}});
  const size_t base = d.size();
  std::vector<bool> layouts(d.size(), false);
  layouts[0] = xBlocked;
  for (const PostOp& op : c.post) {
    if (!op.isBinary) continue;
    const int64_t n = op.broadcast == Broadcast::Scalar    ? 1
                      : op.broadcast == Broadcast::Channel ? c.o
                                                           : ys[0] * ys[1] * ys[2] * ys[3];
    if (static_cast<size_t>(op.operand) != d.size()) continue;
    const bool full = op.broadcast == Broadcast::Full;
    d.push_back({DType::F32, full && laid ? ys : Shape{n}});
    layouts.push_back(full && yBlocked);
  }
  d.push_back({DType::F32, ys});
  layouts.push_back(yBlocked);
  std::vector<std::vector<float>> in;
  for (size_t i = 0; i + 1 < d.size(); ++i)
    in.push_back(randomFloats(d[i].numel(), seed + static_cast<uint32_t>(i)));
  for (size_t i = base; i < in.size(); ++i) // post-op operands away from zero: divisors
    for (float& v : in[i])
      v += v >= 0 ? 0.5f : -0.5f;
  Primitive prim;
  prim.params = p;
  return compareWithReference(prim, d, in, constantWeights ? 0b10 : 0, tol, kernel,
                              laid ? layouts : std::vector<bool>{});
}

} // namespace

TEST_CASE("cpu_x86 conv2d agrees with the reference") {
  const PostOps relu{PostOp::makeUnary(UnaryKind::Relu)};
  const PostOps clip{PostOp::makeUnary(UnaryKind::Clip, -0.1f, 0.2f)};
  const ConvCase cases[] = {
      {{1, 3, 7, 7}, 4, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, relu},
      {{1, 64, 14, 14}, 64, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, {}},    // K = 576: 3 K blocks
      {{2, 5, 9, 11}, 13, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, false, clip},   // odd, strided, batch 2
      {{1, 3, 23, 23}, 8, 7, 7, 1, 2, 2, 1, {3, 3, 3, 3}, true, relu},    // the stem
      {{1, 17, 5, 6}, 29, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}},      // pointwise, tails
      {{1, 16, 9, 9}, 7, 1, 1, 1, 2, 2, 1, {0, 0, 0, 0}, false, {}},      // strided 1x1
      {{1, 8, 6, 6}, 8, 3, 3, 8, 1, 1, 2, {2, 2, 2, 2}, true, clip},      // depthwise dilated
      {{1, 12, 17, 19}, 12, 3, 3, 12, 2, 2, 1, {1, 1, 1, 1}, true, relu}, // depthwise s2
      {{1, 5, 9, 7}, 5, 5, 5, 5, 1, 1, 1, {2, 1, 2, 3}, false, {}},       // depthwise 5x5 odd pads
      // depthwise past one block of lanes with a channel tail, planes over several strips
      {{1, 21, 40, 131}, 21, 3, 3, 21, 1, 1, 1, {1, 1, 1, 1}, true, relu},
      {{2, 35, 29, 67}, 35, 3, 3, 35, 2, 2, 1, {1, 0, 1, 2}, true, clip},
      {{1, 17, 12, 9}, 17, 3, 3, 17, 2, 2, 2, {2, 2, 2, 2}, false, {}}, // dilated, strided
      {{1, 16, 1, 1}, 16, 3, 3, 16, 1, 1, 1, {1, 1, 1, 1}, true, relu}, // all but one tap padding
      {{1, 6, 8, 8}, 9, 3, 1, 3, 1, 2, 1, {1, 0, 0, 1}, true, {}},      // grouped, asymmetric
      {{1, 5, 11, 13}, 7, 5, 3, 1, 3, 1, 1, {2, 1, 0, 1}, true, {}},
      {{1, 1, 1, 1}, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, false, {}},
      {{0, 2, 4, 4}, 2, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, false, {}}, // empty batch
      {{1, 2, 2, 5}, 3, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}},  // empty output plane
  };
  uint32_t seed = 10;
  for (const ConvCase& c : cases) {
    INFO("x " << shapeToString(c.x) << " o " << c.o << " k " << c.kh << "x" << c.kw << " g "
              << c.group);
    runConvCase(c, seed, true);
    runConvCase(c, seed, false); // weights computed at run time
    seed += 10;
  }
  // The plain GEMM pinned with weights past L2 per K block (weight panels outer): the input's
  // rows vector-aligned (read in place) or not (packed), im2col, partial panels of rows and of
  // columns; every input panel over the whole K in one task (one K block), or, past L2 (the
  // last), chunks of panels and K in three blocks.
  for (const ConvCase& c :
       {ConvCase{{1, 300, 5, 7}, 520, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, relu},
        ConvCase{{1, 300, 4, 8}, 523, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, clip},
        ConvCase{{1, 40, 6, 5}, 601, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, false, relu},
        ConvCase{{1, 600, 13, 13}, 530, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, relu}}) {
    INFO("x " << shapeToString(c.x) << " o " << c.o << " k " << c.kh << "x" << c.kw);
    runConvCase(c, seed++, true, 1);
  }
}

TEST_CASE("cpu_x86 Winograd F(2,3) and F(4,3) stay within their error bound on every tile edge") {
  // Kernel ids 5 (F(2,3)) and 2 (F(4,3)), channels in the lanes: outputs of every size mod 4, pads
  // that cut tiles, channels past one K block and short of one block of lanes, tiles past one
  // microkernel panel, batch 2, post-ops with every operand spread.
  const PostOps post{PostOp::makeBinary(BinaryKind::Mul, Broadcast::Channel, 3),
                     PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 4),
                     PostOp::makeUnary(UnaryKind::Relu)};
  const PostOps relu{PostOp::makeUnary(UnaryKind::Relu)};
  double worst[2] = {0, 0};
  uint32_t seed = 350;
  for (const ConvCase& c :
       {ConvCase{{1, 3, 8, 8}, 5, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, relu},
        ConvCase{{1, 17, 9, 13}, 13, 3, 3, 1, 1, 1, 1, {0, 1, 2, 0}, false, {}},
        ConvCase{{2, 300, 6, 7}, 40, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, post},
        ConvCase{{1, 64, 14, 14}, 33, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, relu},
        ConvCase{{1, 20, 1, 1}, 70, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, {}},
        // several blocks of tile rows (the last one short), the epilogue's full operand per block
        ConvCase{{1, 200, 30, 37}, 150, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, post},
        // one block at one thread, cut into smaller blocks for three (the last one short)
        ConvCase{{2, 16, 40, 36}, 20, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, post}})
    for (int m : {2, 4}) {
      INFO("x " << shapeToString(c.x) << " o " << c.o << " F(" << m << ",3)");
      const double e = runConvCase(c, seed++, true, m == 2 ? 5 : 2, 2e-5f);
      worst[m / 4] = std::max(worst[m / 4], e);
    }
  CHECK(worst[0] < 2e-5);
  CHECK(worst[1] < 2e-5);
}

TEST_CASE("cpu_x86 declines convolutions and pools with dimensions past 2^24") {
  // Valid (an empty batch) but no real model: the tiling arithmetic is only sized for less, so
  // the reference backend takes them.
  const int64_t huge = (int64_t{1} << 24) + 1;
  Conv2dParams c;
  Primitive conv;
  conv.params = c;
  conv.inputs = {0, 1};
  conv.outputs = {2};
  const std::vector<TensorDesc> cd = {TensorDesc{DType::F32, {0, 2, huge, 1}},
                                      TensorDesc{DType::F32, {3, 2, 1, 1}},
                                      TensorDesc{DType::F32, {0, 3, huge, 1}}};
  REQUIRE(validatePrimitive(conv, cd).isOk());
  PoolParams pp;
  Primitive pool;
  pool.params = pp;
  pool.inputs = {0};
  pool.outputs = {1};
  const std::vector<TensorDesc> pd = {TensorDesc{DType::F32, {0, 2, huge, 1}},
                                      TensorDesc{DType::F32, {0, 2, huge, 1}}};
  REQUIRE(validatePrimitive(pool, pd).isOk());
  for (auto& f : families()) {
    CHECK_FALSE(f->backend->descriptor().supports(conv, cd));
    CHECK_FALSE(f->backend->descriptor().supports(pool, pd));
  }
}

TEST_CASE("cpu_x86 picks a convolution's Winograd tile for the thread count it is prepared for") {
  // 64 -> 256, 3x3, at 13x13 on blocked tensors (squeezenet's last fire modules): F(4,3)'s 4 rows
  // of tiles are too few for a block per thread at two threads, so its phases would split across
  // them; F(2,3)'s 7 give each thread its own. One thread keeps F(4,3). Either runs at any count.
  Conv2dParams c;
  c.pads = {1, 1, 1, 1};
  Primitive conv{c, {0, 1}, {2}, "conv"};
  const std::vector<float> w = randomFloats(256 * 64 * 9, 41), x = randomFloats(64 * 169, 42);
  for (auto& f : families()) {
    const Layout blocked = std::string(f->name) == "avx2" ? Layout::NCHWc8 : Layout::NCHWc16;
    std::vector<TensorDesc> d = {TensorDesc{DType::F32, {1, 64, 13, 13}},
                                 TensorDesc{DType::F32, {256, 64, 3, 3}},
                                 TensorDesc{DType::F32, {1, 256, 13, 13}}};
    d[0].layout = d[2].layout = blocked;
    auto device = f->backend->device();
    REQUIRE(device.isOk());
    const void* constants[] = {nullptr, w.data()};
    std::vector<std::string> picked;
    for (int threads : {0, 1, 2}) {
      PrepareArgs args;
      args.primitive = &conv;
      args.tensors = &d;
      args.constants = constants;
      args.threads = threads;
      auto kernel = f->backend->prepare(args, **device);
      REQUIRE(kernel.isOk());
      picked.push_back((*kernel)->describe());
    }
    INFO(f->name);
    CHECK(picked[0] == "winograd F(4,3)");
    CHECK(picked[1] == "winograd F(4,3)");
    CHECK(picked[2] == "winograd F(2,3)");
  }
  // The results agree whatever the count a kernel was prepared for (runPrimitiveOnHost prepares
  // for the count it runs at).
  const std::vector<TensorDesc> plain = {TensorDesc{DType::F32, {1, 64, 13, 13}},
                                         TensorDesc{DType::F32, {256, 64, 3, 3}},
                                         TensorDesc{DType::F32, {1, 256, 13, 13}}};
  compareWithReference(conv, plain, {x, w}, 0b10, 2e-4f, 0, {true, false, true});
}

TEST_CASE("cpu_x86: the weights a convolution kernel keeps are what its descriptor says") {
  // Every variant of a 3x3 convolution with output channels that are not whole panels, of a
  // grouped one and of a depthwise one (which keeps none: it reads its weights in place).
  struct Case {
    Shape x, w;
    int64_t group;
  };
  for (const Case& c :
       {Case{{1, 19, 15, 17}, {37, 19, 3, 3}, 1}, Case{{1, 12, 9, 9}, {21, 4, 3, 3}, 3},
        Case{{1, 24, 14, 14}, {24, 1, 3, 3}, 24}}) {
    Conv2dParams p;
    p.pads = {1, 1, 1, 1};
    p.group = c.group;
    Primitive conv{p, {0, 1}, {2}, "conv"};
    const std::vector<TensorDesc> d = {TensorDesc{DType::F32, c.x}, TensorDesc{DType::F32, c.w},
                                       TensorDesc{DType::F32, {1, c.w[0], c.x[2], c.x[3]}}};
    REQUIRE(validatePrimitive(conv, d).isOk());
    const std::vector<float> w = randomFloats(c.w[0] * c.w[1] * 9, 43);
    const void* constants[] = {nullptr, w.data()};
    for (auto& f : families()) {
      const BackendDescriptor& desc = f->backend->descriptor();
      auto device = f->backend->device();
      REQUIRE(device.isOk());
      for (const KernelCandidate& k : desc.candidates(conv, d)) {
        INFO(f->name << ", w " << shapeToString(c.w) << ", " << k.name);
        PrepareArgs args;
        args.primitive = &conv;
        args.tensors = &d;
        args.constants = constants;
        args.choice = k.choice;
        args.threads = 1;
        const int64_t before = cpuX86PackedBytes();
        auto kernel = f->backend->prepare(args, **device);
        REQUIRE(kernel.isOk());
        CHECK(cpuX86PackedBytes() - before == desc.preparedBytes(conv, d, k.choice, 1));
        CHECK(desc.streamedBytes(conv, d, k.choice, 1) == 0); // all within a private cache
      }
    }
  }
  // resnet18's last 3x3 layers, 512 -> 512 at 7x7: every variant's kept weights (4.7 MB packed
  // as they are, 16.8 MB as F(2,3), 37.7 MB as F(4,3)) outgrow a private cache and stream from
  // memory each run.
  Conv2dParams p;
  p.pads = {1, 1, 1, 1};
  Primitive conv{p, {0, 1}, {2}, "conv"};
  const std::vector<TensorDesc> d = {TensorDesc{DType::F32, {1, 512, 7, 7}},
                                     TensorDesc{DType::F32, {512, 512, 3, 3}},
                                     TensorDesc{DType::F32, {1, 512, 7, 7}}};
  for (auto& f : families()) {
    const BackendDescriptor& desc = f->backend->descriptor();
    for (const KernelCandidate& k : desc.candidates(conv, d)) {
      INFO(f->name << ", " << k.name);
      const int64_t kept = desc.preparedBytes(conv, d, k.choice, 2);
      CHECK(kept >= int64_t{512} * 512 * 9 * 4);
      CHECK(desc.streamedBytes(conv, d, k.choice, 2) == kept);
    }
  }
}

TEST_CASE("cpu_x86: the scratch a kernel needs is what its descriptor says") {
  // Each kernel prepared for each candidate (and the backend's own choice, id 0) at 1 to 3
  // threads, with constant weights and without, plain and blocked: the prepared kernel's
  // workspace is the descriptor's (the search's arena counts it). Convolutions: 3x3 with channels
  // that are not whole panels (every variant), strided, pointwise, grouped, depthwise, a small
  // output with many channels (the transposed GEMM); a pooling; matmuls; the fused chain.
  struct ConvCase {
    Shape x, w;
    int64_t group, stride, pad;
  };
  const std::vector<ConvCase> convs = {
      {{1, 19, 15, 17}, {37, 19, 3, 3}, 1, 1, 1}, {{1, 16, 33, 31}, {24, 16, 3, 3}, 1, 2, 1},
      {{1, 32, 14, 14}, {48, 32, 1, 1}, 1, 1, 0}, {{1, 12, 9, 9}, {21, 4, 3, 3}, 3, 1, 1},
      {{1, 24, 14, 14}, {24, 1, 3, 3}, 24, 1, 1}, {{1, 256, 7, 7}, {512, 256, 3, 3}, 1, 1, 1},
      {{2, 3, 20, 20}, {8, 3, 5, 5}, 1, 2, 2}};
  for (auto& f : families()) {
    const BackendDescriptor& desc = f->backend->descriptor();
    auto device = f->backend->device();
    REQUIRE(device.isOk());
    const Layout blocked = std::string(f->name) == "avx2" ? Layout::NCHWc8 : Layout::NCHWc16;
    // The kernel prepared for `args` at `threads`, against the descriptor's figure.
    const auto same = [&](const Primitive& p, const std::vector<TensorDesc>& d,
                          const void* const* constants, uint32_t constantInputs,
                          const KernelChoice& choice) {
      for (int threads : {1, 2, 3}) {
        PrepareArgs args;
        args.primitive = &p;
        args.tensors = &d;
        args.constants = std::span<const void* const>(constants, p.inputs.size());
        args.choice = choice;
        args.threads = threads;
        auto kernel = f->backend->prepare(args, **device);
        if (!kernel.isOk()) continue; // a choice these layouts rule out
        INFO(threads << " threads");
        CHECK((*kernel)->workspaceBytes(threads) ==
              desc.workspaceBytes(p, d, choice, constantInputs, threads));
      }
    };
    for (const ConvCase& c : convs)
      for (const bool block : {false, true})
        for (const bool constant : {true, false}) {
          Conv2dParams p;
          p.stride = {c.stride, c.stride};
          p.pads = {c.pad, c.pad, c.pad, c.pad};
          p.group = c.group;
          Primitive conv{p, {0, 1}, {2}, "conv"};
          const int64_t oh = (c.x[2] + 2 * c.pad - c.w[2]) / c.stride + 1;
          const int64_t ow = (c.x[3] + 2 * c.pad - c.w[3]) / c.stride + 1;
          std::vector<TensorDesc> d = {TensorDesc{DType::F32, c.x}, TensorDesc{DType::F32, c.w},
                                       TensorDesc{DType::F32, {c.x[0], c.w[0], oh, ow}}};
          REQUIRE(validatePrimitive(conv, d).isOk());
          if (block) d[0].layout = d[2].layout = blocked;
          if (!desc.supports(conv, d)) continue;
          const std::vector<float> w = randomFloats(d[1].numel(), 7);
          const void* constants[] = {nullptr, constant ? w.data() : nullptr};
          std::vector<KernelChoice> choices = {KernelChoice{}};
          for (const KernelCandidate& k : desc.candidates(conv, d))
            if (constant || !(k.constantInputs & 2)) choices.push_back(k.choice);
          for (const KernelChoice& choice : choices) {
            INFO(f->name << ", w " << shapeToString(c.w) << (block ? " blocked" : " plain")
                         << (constant ? ", constant" : "") << ", variant " << choice.id);
            same(conv, d, constants, constant ? 2u : 0u, choice);
          }
        }
    for (const bool block : {false, true}) {
      PoolParams pp;
      pp.kernel = {3, 3};
      pp.stride = {2, 2};
      pp.pads = {1, 1, 1, 1};
      Primitive pool{pp, {0}, {1}, "pool"};
      std::vector<TensorDesc> d = {TensorDesc{DType::F32, {1, 21, 17, 19}},
                                   TensorDesc{DType::F32, {1, 21, 9, 10}}};
      REQUIRE(validatePrimitive(pool, d).isOk());
      if (block) d[0].layout = d[1].layout = blocked;
      const void* constants[] = {nullptr};
      INFO(f->name << " pool" << (block ? " blocked" : " plain"));
      same(pool, d, constants, 0, KernelChoice{});
    }
    for (const bool constant : {true, false}) {
      MatMulParams mp;
      mp.batch = 1, mp.m = 5, mp.k = 37, mp.n = 29;
      mp.aStrides = {0, 37, 1};
      mp.bStrides = {0, 29, 1};
      Primitive mm{mp, {0, 1}, {2}, "matmul"};
      const std::vector<TensorDesc> d = {TensorDesc{DType::F32, {5, 37}},
                                         TensorDesc{DType::F32, {37, 29}},
                                         TensorDesc{DType::F32, {5, 29}}};
      REQUIRE(validatePrimitive(mm, d).isOk());
      const std::vector<float> b = randomFloats(37 * 29, 9);
      const void* constants[] = {nullptr, constant ? b.data() : nullptr};
      INFO(f->name << " matmul" << (constant ? ", b constant" : ""));
      same(mm, d, constants, constant ? 2u : 0u, KernelChoice{});
    }
    // An inverted residual's expand and depthwise halves, fused.
    Conv2dParams expand, depthwise;
    depthwise.pads = {1, 1, 1, 1};
    depthwise.group = 48;
    const std::vector<Primitive> chain = {Primitive{expand, {0, 1}, {2}, "expand"},
                                          Primitive{depthwise, {2, 3}, {4}, "depthwise"}};
    const std::vector<TensorDesc> d = {
        TensorDesc{DType::F32, {1, 16, 23, 21}}, TensorDesc{DType::F32, {48, 16, 1, 1}},
        TensorDesc{DType::F32, {1, 48, 23, 21}}, TensorDesc{DType::F32, {48, 1, 3, 3}},
        TensorDesc{DType::F32, {1, 48, 23, 21}}};
    const std::vector<float> we = randomFloats(48 * 16, 11), wd = randomFloats(48 * 9, 12);
    const void* ce[] = {nullptr, we.data()};
    const void* cd[] = {nullptr, wd.data()};
    const Primitive* members[] = {&chain[0], &chain[1]};
    REQUIRE(desc.chainCandidate(members, d));
    for (int threads : {1, 2, 3}) {
      PrepareArgs args[2];
      for (size_t k = 0; k < 2; ++k) {
        args[k].primitive = &chain[k];
        args[k].tensors = &d;
        args[k].constants = std::span<const void* const>(k == 0 ? ce : cd, 2);
        args[k].threads = threads;
      }
      auto kernel = f->backend->prepareChain(args, **device);
      REQUIRE(kernel.isOk());
      REQUIRE(*kernel);
      INFO(f->name << " chain, " << threads << " threads");
      CHECK((*kernel)->workspaceBytes(threads) == desc.chainWorkspaceBytes(members, d, threads));
    }
  }
}

TEST_CASE("cpu_x86 declines padding wider than the input plus the window; the reference runs it") {
  // A 3x3 conv and a 2x2 max pool on [1, 2, 4, 4]: pads up to the input extent plus the window
  // run here; one more (a padded copy sized by the pads, not the data) does not.
  for (int64_t pad : {7, 8}) {
    Conv2dParams c;
    c.pads = {0, pad, 0, 0};
    Primitive conv{c, {0, 1}, {2}, "conv"};
    const std::vector<TensorDesc> cd = {TensorDesc{DType::F32, {1, 2, 4, 4}},
                                        TensorDesc{DType::F32, {3, 2, 3, 3}},
                                        TensorDesc{DType::F32, {1, 3, 2, 2 + pad}}};
    REQUIRE(validatePrimitive(conv, cd).isOk());
    PoolParams pp;
    pp.kernel = {2, 2};
    pp.pads = {pad - 1, 0, 0, 0};
    Primitive pool{pp, {0}, {1}, "pool"};
    const std::vector<TensorDesc> pd = {TensorDesc{DType::F32, {1, 2, 4, 4}},
                                        TensorDesc{DType::F32, {1, 2, 3 + pad - 1, 3}}};
    REQUIRE(validatePrimitive(pool, pd).isOk());
    for (auto& f : families()) {
      CHECK(f->backend->descriptor().supports(conv, cd) == (pad <= 4 + 3));
      CHECK(f->backend->descriptor().supports(pool, pd) == (pad - 1 <= 4 + 2));
    }
    CHECK(backendNamed("reference").descriptor().supports(conv, cd));
    CHECK(backendNamed("reference").descriptor().supports(pool, pd));
  }
}

TEST_CASE("cpu_x86 direct conv2d (the padded input read in place, channels in lanes)") {
  // Kernel id 6: stems (7x7 s2, 3x3 s2 with and without padding: without, the input is read in
  // place), a strided 1x1, asymmetric pads, dilation,
  // output channels short of and past one panel of lanes, rows split over tiles, K past one
  // block, batch 2, post-ops with every operand spread.
  const PostOps post{PostOp::makeBinary(BinaryKind::Mul, Broadcast::Channel, 3),
                     PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 4),
                     PostOp::makeUnary(UnaryKind::Relu)};
  const PostOps clip{PostOp::makeUnary(UnaryKind::Clip, -0.1f, 0.2f)};
  uint32_t seed = 450;
  for (const ConvCase& c :
       {ConvCase{{1, 3, 45, 47}, 64, 7, 7, 1, 2, 2, 1, {3, 3, 3, 3}, true, clip},
        ConvCase{{2, 3, 29, 30}, 24, 3, 3, 1, 2, 2, 1, {0, 0, 0, 0}, true, post},
        ConvCase{{1, 3, 31, 17}, 33, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, false, {}},
        ConvCase{{1, 5, 13, 11}, 7, 3, 5, 1, 1, 3, 2, {2, 1, 0, 3}, true, {}},
        ConvCase{{1, 8, 9, 10}, 40, 7, 7, 1, 1, 1, 1, {3, 3, 3, 3}, true, post},
        ConvCase{{1, 16, 9, 9}, 7, 1, 1, 1, 2, 2, 1, {0, 0, 0, 0}, true, post}, // in place
        ConvCase{{1, 2, 1, 1}, 3, 1, 1, 1, 1, 1, 1, {1, 0, 0, 1}, false, {}},   // 1x1 padded
        // weights past 256 KiB: tasks split the panels of weights (the last one partial)
        ConvCase{{2, 64, 9, 8}, 120, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, true, post}}) {
    INFO("x " << shapeToString(c.x) << " o " << c.o);
    runConvCase(c, seed++, true, 6);
  }
  // The same on blocked tensors (tiles stored straight into the output).
  runConvCase({{1, 64, 9, 8}, 120, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, true, clip}, seed++, true, 6,
              5e-5f, true, true);
}

TEST_CASE("cpu_x86 transposed GEMM conv2d (positions in rows, channels in lanes)") {
  // Kernel id 4 forces it: positions that split unevenly over row panels, channels past and
  // short of one panel of lanes, strides, pads, post-ops with every operand spread.
  const PostOps post{PostOp::makeBinary(BinaryKind::Mul, Broadcast::Channel, 3),
                     PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 4),
                     PostOp::makeUnary(UnaryKind::Relu)};
  uint32_t seed = 400;
  for (const ConvCase& c :
       {ConvCase{{1, 64, 7, 7}, 40, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, post},
        ConvCase{{2, 9, 5, 6}, 33, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}},
        ConvCase{{1, 300, 4, 4}, 17, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, false, {}},
        ConvCase{{1, 3, 1, 1}, 5, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}},
        // pointwise: the input read in place (few panels of output channels), K past one
        // block, tails
        ConvCase{{2, 300, 5, 7}, 37, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, post},
        ConvCase{{1, 64, 14, 14}, 96, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}},
        // pointwise with the input packed (many panels of output channels), K in two blocks,
        // positions in panels of unequal rows
        ConvCase{{1, 1100, 3, 5}, 130, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, post},
        ConvCase{{2, 40, 7, 7}, 200, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, post}}) {
    INFO("x " << shapeToString(c.x) << " o " << c.o);
    runConvCase(c, seed++, true, 4);
  }
}

TEST_CASE("cpu_x86 conv2d and pooling on blocked nchwc tensors") {
  // Every variant with the channels in the lanes, reading and writing blocked tensors in each
  // combination with plain ones: channel counts short of a block and past it (padded channels
  // must come out zero, whatever the epilogue makes of a zero), residual operands blocked like
  // the output, batches.
  const PostOps residual{PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 3),
                         PostOp::makeUnary(UnaryKind::HardSigmoid, 0.2f, 0.5f)};
  const PostOps clip{PostOp::makeUnary(UnaryKind::Clip, 0.f, 6.f)};
  struct Case {
    ConvCase c;
    uint32_t kernel;
  };
  const Case cases[] = {
      // depthwise (window kernel)
      {{{1, 24, 13, 11}, 24, 3, 3, 24, 1, 1, 1, {1, 1, 1, 1}, true, clip}, 3},
      {{{2, 40, 9, 8}, 40, 3, 3, 40, 2, 2, 1, {1, 1, 1, 1}, true, residual}, 3},
      // no padding: a blocked input read in place, the last rows from a strip
      {{{1, 24, 13, 11}, 24, 3, 3, 24, 1, 1, 1, {0, 0, 0, 0}, true, clip}, 3},
      // pointwise, transposed GEMM: the blocked input read in place, channels short of a block,
      // many panels of output channels, two blocks of K (the second's offsets from channel
      // 550 on), positions split across threads
      {{{1, 24, 7, 9}, 40, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, residual}, 4},
      {{{2, 300, 5, 3}, 20, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, false, clip}, 4},
      {{{1, 37, 5, 7}, 130, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, residual}, 4},
      {{{1, 1100, 6, 7}, 40, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, residual}, 4},
      // 1x1 with strides (a downsample): the blocked input's positions packed through their
      // grid, rows of a panel across output rows, odd sizes, unequal strides, batches
      {{{1, 17, 9, 9}, 24, 1, 1, 1, 2, 2, 1, {0, 0, 0, 0}, true, residual}, 4},
      {{{2, 40, 11, 14}, 33, 1, 1, 1, 3, 2, 1, {0, 0, 0, 0}, false, clip}, 4},
      {{{1, 9, 8, 13}, 70, 1, 1, 1, 2, 3, 1, {0, 0, 0, 0}, true, {}}, 4},
      // direct: padded copy and in place, strided, 1x1 stride 2, two blocks of K (1260 = 2 x 630)
      {{{1, 20, 11, 10}, 36, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, true, residual}, 6},
      {{{1, 140, 9, 9}, 40, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, true, residual}, 6},
      {{{1, 17, 9, 9}, 24, 1, 1, 1, 2, 2, 1, {0, 0, 0, 0}, true, {}}, 6},
      {{{1, 3, 15, 14}, 18, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, true, clip}, 6},
      // small weights: every panel of them in one run per panel of positions, the last partial
      {{{1, 3, 15, 14}, 40, 3, 3, 1, 2, 2, 1, {1, 1, 1, 1}, true, residual}, 6},
      // Winograd F(2,3) and F(4,3)
      {{{1, 19, 10, 9}, 21, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, residual}, 5},
      {{{2, 33, 12, 13}, 17, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, false, clip}, 2},
  };
  uint32_t seed = 2100;
  for (const Case& k : cases)
    for (const auto& [xl, yl] :
         {std::pair{true, true}, std::pair{true, false}, std::pair{false, true}}) {
      INFO("x " << shapeToString(k.c.x) << " o " << k.c.o << " kernel " << k.kernel
                << (xl ? " blocked" : " plain") << " -> " << (yl ? "blocked" : "plain"));
      runConvCase(k.c, seed++, true, k.kernel, k.kernel == 2 ? 2e-4f : 5e-5f, xl, yl);
    }
  // Global pooling (a reduce over each plane) of a blocked input into a plain output: channels
  // short of a block and past it, batches, an empty-free odd plane.
  for (const ReduceKind kind : {ReduceKind::Mean, ReduceKind::Max, ReduceKind::Sum})
    for (const Shape& shape : {Shape{2, 20, 7, 5}, Shape{1, 48, 3, 3}, Shape{3, 5, 1, 9}}) {
      ReduceParams r;
      r.kind = kind;
      r.outer = shape[0] * shape[1];
      r.extent = shape[2] * shape[3];
      Primitive prim;
      prim.params = r;
      const TensorDesc x{DType::F32, shape}, y{DType::F32, {shape[0], shape[1], 1, 1}};
      INFO("reduce " << enumName(kind) << " over the planes of " << x.toString());
      compareWithReference(prim, {x, y}, {randomFloats(x.numel(), seed++)}, 0, 1e-5f, 0,
                           {true, false});
    }
  // Pooling: input and output blocked alike, every image's padded channels pooled to zero;
  // padded, or not (the input read in place but for the last row, whose tail tile would read
  // past the plane), in two chunks of rows (the second read in place from row 25).
  for (const PoolKind kind : {PoolKind::Max, PoolKind::Avg})
    for (const int64_t pad : {0, 1}) {
      PoolParams p;
      p.kind = kind;
      p.kernel = {3, 3};
      p.stride = {2, 2};
      p.pads = {pad, pad, pad, pad};
      const int64_t h = 101, w = 101 - pad;
      const TensorDesc x{DType::F32, {2, 20, h, w}},
          y{DType::F32, {2, 20, (h + 2 * pad - 3) / 2 + 1, (w + 2 * pad - 3) / 2 + 1}};
      Primitive prim;
      prim.params = p;
      INFO("pool " << enumName(kind) << " pad " << pad);
      compareWithReference(prim, {x, y}, {randomFloats(x.numel(), seed++)}, 0, 1e-6f, 0,
                           {true, true});
    }
}

TEST_CASE("cpu_x86 conv2d post-ops: channel, scalar and full operands, every vector unary") {
  std::vector<PostOps> lists = {
      {PostOp::makeBinary(BinaryKind::Mul, Broadcast::Channel, 3),
       PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 4), PostOp::makeUnary(UnaryKind::Relu)},
      {PostOp::makeBinary(BinaryKind::Sub, Broadcast::Scalar, 3, true),
       PostOp::makeBinary(BinaryKind::Div, Broadcast::Channel, 4, true)},
      {PostOp::makeBinary(BinaryKind::Max, Broadcast::Full, 3),
       PostOp::makeBinary(BinaryKind::Min, Broadcast::Scalar, 4)},
      // The decoded fast forms: bias, an activation, a scalar scale and shift.
      {PostOp::makeUnary(UnaryKind::HardSwish),
       PostOp::makeBinary(BinaryKind::Mul, Broadcast::Scalar, 3),
       PostOp::makeBinary(BinaryKind::Add, Broadcast::Scalar, 4)},
      {PostOp::makeUnary(UnaryKind::LeakyRelu, 0.1f),
       PostOp::makeBinary(BinaryKind::Add, Broadcast::Scalar, 3)},
      {PostOp::makeUnary(UnaryKind::HardSigmoid, 0.2f, 0.5f),
       PostOp::makeBinary(BinaryKind::Mul, Broadcast::Scalar, 3)},
      // bias, residual, activation: read by the GEMM tiles in registers
      {PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 3),
       PostOp::makeUnary(UnaryKind::Clip, 0.f, 6.f)},
  };
  for (UnaryKind k : {UnaryKind::Identity, UnaryKind::LeakyRelu, UnaryKind::Sigmoid,
                      UnaryKind::HardSigmoid, UnaryKind::HardSwish, UnaryKind::Tanh, UnaryKind::Exp,
                      UnaryKind::Neg, UnaryKind::Abs, UnaryKind::Erf})
    lists.push_back({PostOp::makeUnary(k, 0.3f, 0.4f)});
  uint32_t seed = 500;
  for (const PostOps& post : lists) {
    INFO("post-ops " << formatPostOp(post[0]));
    // The GEMM pinned: the cost model may take Winograd here, whose error exp would amplify.
    runConvCase({{1, 6, 5, 7}, 11, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, post}, seed, true, 1);
    runConvCase({{1, 6, 5, 7}, 6, 3, 3, 6, 1, 1, 1, {1, 1, 1, 1}, true, post}, seed + 1, true);
    // pointwise, the input read in place: full and partial panels of rows and of columns
    runConvCase({{1, 9, 9, 10}, 13, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, post}, seed + 2, true, 1);
    seed += 5;
  }
}

TEST_CASE("cpu_x86 matmul agrees with the reference") {
  struct Case {
    int64_t batch, m, n, k;
    bool transA, transB, bias, constB;
    I64x2 biasStrides;
  };
  const Case cases[] = {
      {1, 1, 1000, 512, false, true, true, true, {0, 1}}, // a classifier
      {1, 7, 13, 300, false, false, false, true, {0, 0}}, // tails, K past one block
      {3, 5, 17, 9, true, false, true, false, {1, 0}},    // batched, bias per row
      {2, 13, 33, 4, false, true, true, true, {0, 0}},    // scalar bias
      {1, 4, 6, 5, false, false, true, false, {6, 1}},    // full bias
      {1, 3, 4, 0, false, false, true, true, {0, 1}},     // k = 0: bias only
  };
  uint32_t seed = 900;
  for (const Case& c : cases) {
    INFO("batch " << c.batch << " m " << c.m << " n " << c.n << " k " << c.k);
    MatMulParams p;
    p.batch = c.batch, p.m = c.m, p.n = c.n, p.k = c.k;
    p.aStrides = c.transA ? I64x3{c.m * c.k, 1, c.m} : I64x3{c.m * c.k, c.k, 1};
    p.bStrides = c.transB ? I64x3{c.k * c.n, 1, c.k} : I64x3{c.k * c.n, c.k == 0 ? 0 : c.n, 1};
    if (c.batch == 1) p.aStrides[0] = p.bStrides[0] = 0;
    p.hasBias = c.bias;
    p.biasStrides = c.biasStrides;
    p.postOps = {PostOp::makeUnary(UnaryKind::HardSwish)};
    std::vector<TensorDesc> d{{DType::F32, {c.batch, c.m, c.k}}, {DType::F32, {c.batch, c.k, c.n}}};
    if (c.bias) d.push_back({DType::F32, {c.m * c.n}});
    d.push_back({DType::F32, {c.batch, c.m, c.n}});
    std::vector<std::vector<float>> in;
    for (size_t i = 0; i + 1 < d.size(); ++i)
      in.push_back(randomFloats(std::max<int64_t>(d[i].numel(), 1), seed++));
    Primitive prim;
    prim.params = p;
    compareWithReference(prim, d, in, c.constB ? 0b10 : 0, 5e-5f);
  }
}

TEST_CASE("cpu_x86 unary, binary and elementwise agree with the reference") {
  const Shape s{2, 3, 5, 7};
  const TensorDesc t{DType::F32, s};
  uint32_t seed = 1200;
  // Every unary kind the family claims.
  for (int k = 0; k < enumCount<UnaryKind>(); ++k) {
    Primitive u;
    u.params = UnaryParams{static_cast<UnaryKind>(k), 0.25f, 0.6f};
    u.inputs = {0};
    u.outputs = {1};
    for (auto& f : families()) {
      if (!f->backend->descriptor().supports(u, {t, t})) continue;
      INFO("unary " << enumName(static_cast<UnaryKind>(k)));
      compareWithReference(u, {t, t}, {randomFloats(t.numel(), seed++)}, 0, 2e-6f);
      break;
    }
  }
  // Binary: dense with dense, scalar, channel (either side), with a tail of odd sizes.
  const std::vector<std::pair<std::vector<int64_t>, Shape>> rhs = {
      {{105, 35, 7, 1}, s}, {{0, 0, 0, 0}, {1}}, {{0, 1, 0, 0}, {3}}, {{0, 0, 0, 1}, {7}}};
  for (BinaryKind k : {BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul, BinaryKind::Div,
                       BinaryKind::Max, BinaryKind::Min})
    for (const auto& [strides, shape] : rhs)
      for (bool swap : {false, true}) {
        BinaryParams b{k, {105, 35, 7, 1}, strides};
        std::vector<TensorDesc> d{t, {DType::F32, shape}, t};
        std::vector<std::vector<float>> in{randomFloats(t.numel(), seed++),
                                           randomFloats(d[1].numel(), seed++)};
        if (swap) {
          std::swap(b.lhsStrides, b.rhsStrides);
          std::swap(d[0], d[1]);
          std::swap(in[0], in[1]);
        }
        for (auto& v : in)
          for (float& x : v)
            x += x >= 0 ? 0.5f : -0.5f; // keep divisors away from zero
        Primitive p;
        p.params = b;
        INFO("binary " << enumName(k) << " rhs " << shapeToString(shape)
                       << (swap ? " swapped" : ""));
        compareWithReference(p, d, in, 0, 1e-6f);
      }
  // An elementwise program with per-channel operands over [outer, channels, inner] and [.., 1].
  for (int64_t inner : {35, 1}) {
    ElementwiseParams e;
    e.channels = inner == 1 ? 7 : 3;
    e.inner = inner;
    e.postOps = {PostOp::makeBinary(BinaryKind::Mul, Broadcast::Channel, 1),
                 PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 2),
                 PostOp::makeUnary(UnaryKind::Sigmoid)};
    std::vector<TensorDesc> d{t, {DType::F32, {e.channels}}, t, t};
    Primitive p;
    p.params = e;
    compareWithReference(p, d,
                         {randomFloats(t.numel(), seed++), randomFloats(e.channels, seed++),
                          randomFloats(t.numel(), seed++)},
                         0, 2e-6f);
  }
}

TEST_CASE("cpu_x86 pooling agrees with the reference") {
  struct Case {
    Shape x;
    PoolKind kind;
    I64x2 kernel, stride;
    I64x4 pads;
    bool includePad;
  };
  const Case cases[] = {
      {{1, 3, 112, 112}, PoolKind::Max, {3, 3}, {2, 2}, {1, 1, 1, 1}, false},
      {{2, 5, 13, 11}, PoolKind::Max, {3, 3}, {2, 2}, {0, 0, 1, 1}, false}, // ceil overhang
      {{1, 4, 9, 10}, PoolKind::Avg, {3, 2}, {1, 2}, {1, 0, 1, 1}, false},
      {{1, 4, 9, 10}, PoolKind::Avg, {3, 3}, {2, 2}, {1, 1, 2, 2}, true},
      {{1, 2, 7, 7}, PoolKind::Avg, {7, 7}, {1, 1}, {0, 0, 0, 0}, false}, // global
      {{1, 1, 2, 2}, PoolKind::Max, {5, 5}, {1, 1}, {2, 2, 2, 2}, false}, // window past the input
      {{1, 37, 111, 111}, PoolKind::Max, {3, 3}, {2, 2}, {0, 0, 0, 0}, false}, // strips, tails
      {{2, 19, 30, 41}, PoolKind::Avg, {3, 3}, {1, 1}, {1, 1, 1, 1}, true},
      {{1, 18, 23, 17}, PoolKind::Avg, {2, 5}, {3, 2}, {0, 2, 1, 0}, false},
  };
  uint32_t seed = 1500;
  for (const Case& c : cases) {
    PoolParams p;
    p.kind = c.kind;
    p.kernel = c.kernel;
    p.stride = c.stride;
    p.pads = c.pads;
    p.countIncludePad = c.includePad;
    auto out = [&](int d) {
      const int64_t padded = c.x[2 + d] + c.pads[d] + c.pads[d + 2];
      return padded < c.kernel[d] ? 0 : (padded - c.kernel[d]) / c.stride[d] + 1;
    };
    const TensorDesc x{DType::F32, c.x}, y{DType::F32, {c.x[0], c.x[1], out(0), out(1)}};
    Primitive prim;
    prim.params = p;
    INFO("pool " << enumName(c.kind) << " " << shapeToString(c.x));
    compareWithReference(prim, {x, y}, {randomFloats(x.numel(), seed++)}, 0, 1e-6f);
  }
}

TEST_CASE("cpu_x86 reductions and rasters agree with the reference") {
  uint32_t seed = 1700;
  for (ReduceKind k : {ReduceKind::Sum, ReduceKind::Mean, ReduceKind::Max, ReduceKind::Min})
    for (const I64x3& dims :
         {I64x3{7, 99, 1}, I64x3{3, 1, 1}, I64x3{2, 5, 37}, I64x3{1, 64, 16}, I64x3{4, 0, 3}}) {
      ReduceParams r{k, dims[0], dims[1], dims[2]};
      const TensorDesc x{DType::F32, {dims[0], dims[1], dims[2]}};
      const TensorDesc y{DType::F32, {dims[0], dims[2]}};
      Primitive p;
      p.params = r;
      INFO("reduce " << enumName(k) << " " << dims[0] << "x" << dims[1] << "x" << dims[2]);
      compareWithReference(p, {x, y}, {randomFloats(std::max<int64_t>(x.numel(), 1), seed++)}, 0,
                           1e-6f);
    }
  // Interleaving two sources with a broadcast and a fill: strided, zero-stride and memcpy rows.
  RasterParams r;
  r.regions = {Region{0, {0, {0, 6, 1}}, {0, {0, 12, 2}}, {1, 4, 6}},
               Region{1, {0, {0, 0, 1}}, {1, {0, 12, 2}}, {1, 3, 6}}};
  r.fill = 0.25;
  const TensorDesc a{DType::F32, {4, 6}}, b{DType::F32, {6}}, out{DType::F32, {4, 12}};
  Primitive p;
  p.params = r;
  compareWithReference(p, {a, b, out}, {randomFloats(24, seed++), randomFloats(6, seed++)}, 0, 0.f);

  // Regions of one shape, taken row by row together when no element is written twice: a
  // depth-to-space of 4 x [3, 5, 7] into [3, 10, 14] (disjoint, interleaved)...
  RasterParams d2s;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx)
      d2s.regions.push_back(
          Region{0, {(dy * 2 + dx) * 105, {35, 7, 1}}, {dy * 14 + dx, {140, 28, 2}}, {3, 5, 7}});
  Primitive pd;
  pd.params = d2s;
  compareWithReference(pd,
                       {TensorDesc{DType::F32, {4, 3, 5, 7}}, TensorDesc{DType::F32, {3, 10, 14}}},
                       {randomFloats(420, seed++)}, 0, 0.f);
  // A 2x nearest upsampling of [10, 9] into [20, 18]: four regions from one source, listed with
  // the odd column first (the column pairs are written together, unpacked from two vectors;
  // 9 columns leave a tail).
  RasterParams up;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 1; dx >= 0; --dx)
      up.regions.push_back(Region{0, {0, {9, 0, 1}}, {dy * 18 + dx, {36, 0, 2}}, {10, 1, 9}});
  Primitive pu;
  pu.params = up;
  compareWithReference(pu, {TensorDesc{DType::F32, {10, 9}}, TensorDesc{DType::F32, {20, 18}}},
                       {randomFloats(90, seed++)}, 0, 0.f);
  // ... and two that overlap a row apart, where the later region must win everywhere (taken
  // row by row, the first region's next row would overwrite the second's).
  RasterParams over;
  over.regions = {Region{0, {0, {0, 5, 1}}, {0, {0, 5, 1}}, {1, 8, 5}},
                  Region{1, {0, {0, 5, 1}}, {5, {0, 5, 1}}, {1, 8, 5}}};
  Primitive po;
  po.params = over;
  // Repeated: rows of overlapping regions on different threads once raced (the later region lost
  // now and then); they must run in order.
  for (int repeat = 0; repeat < 30; ++repeat)
    compareWithReference(po,
                         {TensorDesc{DType::F32, {8, 5}}, TensorDesc{DType::F32, {8, 5}},
                          TensorDesc{DType::F32, {9, 5}}},
                         {randomFloats(40, seed), randomFloats(40, seed + 1)}, 0, 0.f);
}

namespace {

// Bytes of `n` elements of dtype, patterned by seed (bool: 0 or 1).
std::vector<uint8_t> patternBytes(DType dtype, int64_t n, uint32_t seed) {
  std::vector<uint8_t> v(static_cast<size_t>(n) * dtypeSize(dtype));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<uint8_t>(dtype == DType::Bool ? (i * 7 + seed) % 3 == 0
                                                     : (i * 131 + seed) & 0xff);
  return v;
}

// Runs p on the reference and on every family at 1 and 3 threads: the same bytes, nothing
// written past the output. Returns the reference's output.
std::vector<uint8_t> checkAgainstReference(const Primitive& p, const std::vector<TensorDesc>& descs,
                                           const std::vector<const void*>& in) {
  const TensorDesc& out = descs[p.outputs[0]];
  const size_t outBytes = out.byteSize();
  std::vector<uint8_t> want(outBytes + 1, 0xa5);
  REQUIRE(validatePrimitive(p, descs).isOk());
  REQUIRE(runPrimitiveOnHost(backendNamed("reference"), p, descs, in, want.data()).isOk());
  CHECK(want.back() == 0xa5);
  for (auto& f : families())
    for (int threads : {1, 3}) {
      INFO(f->name << ", " << threads << " threads, " << out.toString());
      REQUIRE(f->backend->descriptor().supports(p, descs));
      std::vector<uint8_t> got(outBytes + 1, 0x5a);
      HostRunOptions o;
      o.threads = threads;
      REQUIRE(runPrimitiveOnHost(*f->backend, p, descs, in, got.data(), o).isOk());
      CHECK(std::memcmp(got.data(), want.data(), outBytes) == 0);
      CHECK(got.back() == 0x5a);
    }
  want.pop_back();
  return want;
}

// Index values as the bytes of an i32 or i64 index tensor.
std::vector<uint8_t> indexBytes(const std::vector<int64_t>& idx, DType type) {
  const size_t width = dtypeSize(type);
  std::vector<uint8_t> bytes(idx.size() * width);
  for (size_t j = 0; j < idx.size(); ++j) {
    const auto narrow = static_cast<int32_t>(idx[j]);
    std::memcpy(&bytes[j * width], type == DType::I64 ? static_cast<const void*>(&idx[j]) : &narrow,
                width);
  }
  return bytes;
}

// A gather whose index `at` (of x's index bytes) is replaced by `bad`, one past either end: the
// run fails on the reference, naming the index, and on every family.
void checkBadIndex(const Primitive& p, const std::vector<TensorDesc>& descs,
                   const std::vector<uint8_t>& x, std::vector<uint8_t> idxBytes, size_t at,
                   int64_t bad) {
  const std::vector<uint8_t> one = indexBytes({bad}, descs[1].dtype);
  std::memcpy(&idxBytes[at * one.size()], one.data(), one.size());
  const std::vector<const void*> in{x.data(), idxBytes.data()};
  std::vector<uint8_t> sink(descs[2].byteSize() + 1);
  Status s = runPrimitiveOnHost(backendNamed("reference"), p, descs, in, sink.data());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("gather index " + std::to_string(bad)));
  for (auto& f : families()) {
    s = runPrimitiveOnHost(*f->backend, p, descs, in, sink.data());
    CHECK(s.code() == StatusCode::kInvalidArgument);
  }
}

} // namespace

TEST_CASE("cpu_x86 gather agrees with the reference (dtypes, index types, edges, bad indices)") {
  uint32_t seed = 1800;
  struct Case {
    int64_t outer, extent, inner;
    std::vector<int64_t> idx;
  };
  const std::vector<Case> cases = {
      {1, 5, 3, {0, 4, -1, -5, 2}},                // negative indices, rows of 3
      {3, 7, 1, {6, 6, 0, 3, -2, 1, 5}},           // rows of one element (the resize tables' case)
      {2, 4, 2, {}},                               // no indices: an empty output
      {0, 3, 4, {1, 2}},                           // an empty outer dim
      {4, 3, 0, {2, 0}},                           // empty rows
      {5, 2, 17, {1, 0, 1, 1, 0, 1, 0}},           // odd rows, memcpy path
      {2, 1000, 1, std::vector<int64_t>(3000, 0)}, // many rows, split across threads
  };
  for (DType dtype : {DType::F32, DType::I64, DType::U8})
    for (DType indexType : {DType::I64, DType::I32})
      for (const Case& c : cases) {
        std::vector<int64_t> idx = c.idx;
        if (idx.size() == 3000)
          for (size_t j = 0; j < idx.size(); ++j)
            idx[j] = static_cast<int64_t>((j * 7919 + seed) % 2000) - 1000;
        const size_t elem = dtypeSize(dtype);
        const TensorDesc data{dtype, {c.outer, c.extent, c.inner}};
        const TensorDesc indices{indexType, {static_cast<int64_t>(idx.size())}};
        const TensorDesc out{dtype, {c.outer, static_cast<int64_t>(idx.size()), c.inner}};
        std::vector<uint8_t> x(static_cast<size_t>(data.numel()) * elem);
        for (size_t i = 0; i < x.size(); ++i)
          x[i] = static_cast<uint8_t>((i * 131 + seed++) & 0xff);
        const std::vector<uint8_t> idxBytes = indexBytes(idx, indexType);
        Primitive p;
        p.params = GatherParams{c.outer, c.extent, c.inner};
        p.inputs = {0, 1};
        p.outputs = {2};
        const std::vector<TensorDesc> descs{data, indices, out};
        INFO("indices " << indices.toString());
        const std::vector<uint8_t> want =
            checkAgainstReference(p, descs, {x.data(), idxBytes.data()});
        // The plain reading, checked here too: the reference is the oracle.
        for (int64_t o = 0; o < c.outer; ++o)
          for (size_t j = 0; j < idx.size(); ++j) {
            const int64_t r = idx[j] < 0 ? idx[j] + c.extent : idx[j];
            REQUIRE(std::memcmp(&want[(o * idx.size() + j) * c.inner * elem],
                                &x[(o * c.extent + r) * c.inner * elem], c.inner * elem) == 0);
          }
        // An index one past either end fails the run on every backend, naming the index.
        if (!idx.empty() && c.extent > 0)
          for (int64_t bad : {c.extent, -c.extent - 1})
            checkBadIndex(p, descs, x, idxBytes, idx.size() / 2, bad);
      }
}

TEST_CASE("cpu_x86 gather elements agrees with the reference (one index per output element)") {
  uint32_t seed = 2400;
  struct Case {
    int64_t outer, extent, count, inner;
  };
  // count < extent, = and > (indices repeat), rows of one, empty dims, enough to split.
  const Case cases[] = {{2, 5, 3, 4}, {1, 3, 3, 1}, {3, 2, 7, 5},   {0, 4, 2, 3},
                        {2, 4, 0, 3}, {3, 6, 2, 0}, {4, 97, 50, 61}};
  for (DType dtype : {DType::F32, DType::I64, DType::U8})
    for (DType indexType : {DType::I64, DType::I32})
      for (const Case& c : cases) {
        const TensorDesc data{dtype, {c.outer, c.extent, c.inner}};
        const TensorDesc indices{indexType, {c.outer, c.count, c.inner}};
        const TensorDesc out{dtype, {c.outer, c.count, c.inner}};
        std::vector<int64_t> idx(static_cast<size_t>(indices.numel()));
        for (size_t q = 0; q < idx.size(); ++q) // every value in [-extent, extent)
          idx[q] = static_cast<int64_t>((q * 7919 + seed) % (2 * c.extent)) - c.extent;
        const std::vector<uint8_t> idxBytes = indexBytes(idx, indexType);
        const std::vector<uint8_t> x = patternBytes(dtype, data.numel(), seed++);
        Primitive p;
        GatherParams g{c.outer, c.extent, c.inner};
        g.elements = true;
        p.params = g;
        p.inputs = {0, 1};
        p.outputs = {2};
        const std::vector<TensorDesc> descs{data, indices, out};
        INFO("gather elements " << data.toString() << " by " << indices.toString());
        const std::vector<uint8_t> want =
            checkAgainstReference(p, descs, {x.data(), idxBytes.data()});
        // The plain reading of the definition, element by element.
        const size_t elem = dtypeSize(dtype);
        for (int64_t o = 0; o < c.outer; ++o)
          for (int64_t j = 0; j < c.count; ++j)
            for (int64_t k = 0; k < c.inner; ++k) {
              const int64_t q = (o * c.count + j) * c.inner + k;
              const int64_t r = idx[q] < 0 ? idx[q] + c.extent : idx[q];
              REQUIRE(std::memcmp(&want[q * elem], &x[((o * c.extent + r) * c.inner + k) * elem],
                                  elem) == 0);
            }
        // An index one past either end, last in the tensor, fails every backend's run.
        if (!idx.empty())
          for (int64_t bad : {c.extent, -c.extent - 1})
            checkBadIndex(p, descs, x, idxBytes, idx.size() - 1, bad);
      }
  // The indices must be laid out as the output, a whole number of [outer, ., inner] rows.
  Primitive p;
  GatherParams g{2, 5, 3};
  g.elements = true;
  p.params = g;
  p.inputs = {0, 1};
  p.outputs = {2};
  CHECK_FALSE(validatePrimitive(
                  p, {{DType::F32, {2, 5, 3}}, {DType::I64, {2, 2, 2}}, {DType::F32, {2, 2, 2}}})
                  .isOk());
  CHECK(validatePrimitive(
            p, {{DType::F32, {2, 5, 3}}, {DType::I64, {2, 4, 3}}, {DType::F32, {2, 4, 3}}})
            .isOk());
}

TEST_CASE("cpu_x86 select agrees with the reference (broadcasts, dtypes, empty and scalar)") {
  uint32_t seed = 2600;
  struct Case {
    Shape out, cond, lhs, rhs;
  };
  const Case cases[] = {
      {{2, 3, 5}, {3, 1}, {2, 3, 5}, {}},     // condition per row, a scalar alternative
      {{7}, {7}, {7}, {7}},                   // all dense
      {{4, 6}, {4, 6}, {1, 6}, {4, 1}},       // operands broadcast both ways
      {{}, {}, {}, {}},                       // scalars
      {{0, 3}, {0, 3}, {1, 3}, {}},           // empty
      {{5, 2000}, {2000}, {5, 2000}, {5, 1}}, // rows split across threads
      {{3, 1, 4}, {1}, {3, 1, 4}, {3, 1, 4}}, // one condition for all
  };
  const auto strides = [](const Shape& in, const Shape& out) {
    std::vector<int64_t> s(out.size(), 0);
    int64_t step = 1;
    for (size_t i = in.size(); i-- > 0;) {
      s[out.size() - in.size() + i] = in[i] == 1 ? 0 : step;
      step *= in[i];
    }
    return s;
  };
  for (DType dtype : {DType::F32, DType::I64, DType::U8, DType::Bool})
    for (const Case& c : cases) {
      const TensorDesc cond{DType::Bool, c.cond}, lhs{dtype, c.lhs}, rhs{dtype, c.rhs},
          out{dtype, c.out};
      const std::vector<uint8_t> cb = patternBytes(DType::Bool, cond.numel(), seed++);
      const std::vector<uint8_t> lb = patternBytes(dtype, lhs.numel(), seed++);
      const std::vector<uint8_t> rb = patternBytes(dtype, rhs.numel(), seed++);
      Primitive p;
      p.params = SelectParams{strides(c.cond, c.out), strides(c.lhs, c.out), strides(c.rhs, c.out)};
      p.inputs = {0, 1, 2};
      p.outputs = {3};
      INFO("select " << out.toString() << " from " << cond.toString() << ", " << lhs.toString()
                     << ", " << rhs.toString());
      const std::vector<uint8_t> want =
          checkAgainstReference(p, {cond, lhs, rhs, out}, {cb.data(), lb.data(), rb.data()});
      // Spot-check the definition at the first and last element.
      const size_t elem = dtypeSize(dtype);
      if (out.numel() > 0) {
        CHECK(std::memcmp(&want[0], cb[0] ? &lb[0] : &rb[0], elem) == 0);
        const int64_t last = out.numel() - 1;
        const auto at = [&](const Shape& in) {
          const std::vector<int64_t> s = strides(in, c.out);
          int64_t off = 0, rest = last;
          for (size_t d = c.out.size(); d-- > 0;) {
            off += rest % c.out[d] * s[d];
            rest /= c.out[d];
          }
          return static_cast<size_t>(off);
        };
        CHECK(std::memcmp(&want[last * elem],
                          cb[at(c.cond)] ? &lb[at(c.lhs) * elem] : &rb[at(c.rhs) * elem],
                          elem) == 0);
      }
    }
  // The condition must be bool, the operands of the output's dtype, the strides inside.
  Primitive p;
  p.params = SelectParams{{1}, {1}, {0}};
  p.inputs = {0, 1, 2};
  p.outputs = {3};
  CHECK(validatePrimitive(
            p, {{DType::Bool, {4}}, {DType::F32, {4}}, {DType::F32, {}}, {DType::F32, {4}}})
            .isOk());
  CHECK_FALSE(validatePrimitive(
                  p, {{DType::U8, {4}}, {DType::F32, {4}}, {DType::F32, {}}, {DType::F32, {4}}})
                  .isOk());
  CHECK_FALSE(validatePrimitive(
                  p, {{DType::Bool, {4}}, {DType::F32, {4}}, {DType::I64, {}}, {DType::F32, {4}}})
                  .isOk());
  CHECK_FALSE(validatePrimitive(
                  p, {{DType::Bool, {3}}, {DType::F32, {4}}, {DType::F32, {}}, {DType::F32, {4}}})
                  .isOk());
}

namespace {

// A pointwise convolution followed by a depthwise one, as a program: x -> 1x1 conv (bias,
// `expandOps`) -> e -> kh x kw depthwise (bias, `dwOps`; a Full operand is the program input r,
// shaped as the output) -> y.
struct ChainCase {
  Shape x;
  int64_t ce, kh, kw, sh, sw, dil;
  I64x4 pads;
  PostOps expandOps, dwOps;
  bool pre = false; // x first through a pointwise convolution: the chain's input may be blocked
};

std::shared_ptr<Program> chainProgram(const ChainCase& c, std::vector<std::vector<float>>* inputs,
                                      std::vector<std::vector<float>>* keep) {
  const Shape ys{c.x[0], c.ce, windowOut(c.x[2], c.kh, c.sh, c.dil, c.pads[0], c.pads[2]),
                 windowOut(c.x[3], c.kw, c.sw, c.dil, c.pads[1], c.pads[3])};
  const Shape es{c.x[0], c.ce, c.x[2], c.x[3]};
  keep->clear();
  keep->push_back(randomFloats(c.ce * c.x[1], 11));
  keep->push_back(randomFloats(c.ce, 12));
  keep->push_back(randomFloats(c.ce * c.kh * c.kw, 13));
  keep->push_back(randomFloats(c.ce, 14));
  auto prog = std::make_shared<Program>();
  const auto t = [](const char* name, Shape s, const float* data = nullptr) {
    return ProgramTensor{name, {DType::F32, std::move(s)}, data};
  };
  prog->tensors = {t("x", c.x),
                   t("we", {c.ce, c.x[1], 1, 1}, (*keep)[0].data()),
                   t("be", {c.ce}, (*keep)[1].data()),
                   t("e", es),
                   t("wd", {c.ce, 1, c.kh, c.kw}, (*keep)[2].data()),
                   t("bd", {c.ce}, (*keep)[3].data()),
                   t("r", ys),
                   t("y", ys)};
  Conv2dParams pe, pd;
  pe.hasBias = pd.hasBias = true;
  pe.postOps = c.expandOps;
  pd.stride = {c.sh, c.sw};
  pd.dilation = {c.dil, c.dil};
  pd.pads = c.pads;
  pd.group = c.ce;
  pd.postOps = c.dwOps;
  std::vector<int32_t> dwIn{3, 4, 5};
  const bool full = std::any_of(c.dwOps.begin(), c.dwOps.end(), [](const PostOp& op) {
    return op.isBinary && op.broadcast == Broadcast::Full;
  });
  if (full) dwIn.push_back(6);
  prog->primitives = {{pe, {0, 1, 2}, {3}, "expand"}, {pd, dwIn, {7}, "depthwise"}};
  if (c.pre) { // x -> 1x1 conv -> p, which the expand reads
    keep->push_back(randomFloats(c.x[1] * c.x[1], 15));
    prog->tensors.push_back(t("wp", {c.x[1], c.x[1], 1, 1}, keep->back().data()));
    prog->tensors.push_back(t("p", c.x));
    prog->primitives.insert(prog->primitives.begin(), {Conv2dParams{}, {0, 8}, {9}, "pre"});
    prog->primitives[1].inputs[0] = 9;
  }
  prog->inputs = {0};
  if (full) prog->inputs.push_back(6);
  prog->outputs = {7};
  inputs->clear();
  for (int32_t id : prog->inputs)
    inputs->push_back(randomFloats(prog->tensors[id].desc.numel(), 20 + id));
  REQUIRE(validateProgram(*prog).isOk());
  return prog;
}

// The program's output through a session, and how many chains its kernels run.
std::vector<float> runChainProgram(std::shared_ptr<Program> prog, const BackendRegistry& registry,
                                   const char* backend, bool blocked, ChainMode chains, int threads,
                                   const std::vector<std::vector<float>>& inputs, int* chainCount,
                                   bool* blockedInput = nullptr) {
  PrepareOptions po;
  po.preferred = backend;
  po.blockedLayouts = blocked;
  po.chains = chains;
  auto model = PreparedModel::create(prog, registry, po);
  REQUIRE(model.isOk());
  *chainCount = (*model)->chainCount();
  for (size_t i = 0; blockedInput && i < prog->primitives.size(); ++i)
    if ((*model)->chainLast(i) != static_cast<int32_t>(i) && (*model)->chainHead(i) == i)
      *blockedInput =
          *blockedInput || (*model)->descs()[prog->primitives[i].inputs[0]].layout != Layout::Plain;
  SessionOptions so;
  so.threads = threads;
  auto s = Session::create(*model, so);
  REQUIRE(s.isOk());
  for (size_t i = 0; i < inputs.size(); ++i)
    REQUIRE((*s)->setInput(i, inputs[i].data(), inputs[i].size() * 4).isOk());
  REQUIRE((*s)->run().isOk());
  const auto* y = static_cast<const float*>((*s)->outputData(0));
  return {y, y + prog->tensors[prog->outputs[0]].desc.numel()};
}

} // namespace

TEST_CASE("cpu_x86 pointwise + depthwise chain agrees with the two primitives on the reference") {
  const PostOps clip{PostOp::makeUnary(UnaryKind::Clip, 0.f, 6.f)};
  const PostOps hswish{PostOp::makeUnary(UnaryKind::HardSwish, 1.f / 6, 0.5f)};
  const PostOps residual{PostOp::makeBinary(BinaryKind::Add, Broadcast::Full, 3),
                         PostOp::makeUnary(UnaryKind::Relu)};
  // Expanded tensors past the 512 KiB below which the chain does not pay; band edges (several
  // bands, a last short one), expanded channels that are not whole groups or vectors, strides,
  // asymmetric pads, dilation, 5x5 windows, two images, a residual operand after the chain, an
  // input with more channels than one K block.
  const std::vector<ChainCase> cases = {
      {{1, 8, 61, 59}, 40, 3, 3, 1, 1, 1, {1, 1, 1, 1}, clip, clip},
      {{2, 5, 97, 97}, 36, 3, 3, 2, 2, 1, {0, 1, 1, 0}, clip, {}},
      {{1, 16, 120, 120}, 20, 5, 5, 1, 1, 1, {2, 2, 2, 2}, {}, hswish},
      {{1, 3, 101, 100}, 24, 3, 3, 1, 2, 2, {2, 2, 2, 2}, hswish, clip},
      {{1, 24, 250, 31}, 48, 3, 3, 2, 1, 1, {1, 1, 1, 1}, clip, residual},
      {{1, 300, 12, 40}, 288, 3, 3, 1, 1, 1, {1, 0, 1, 0}, clip, clip},
      {{1, 600, 10, 30}, 448, 3, 3, 1, 1, 1, {1, 1, 1, 1}, {}, clip}, // K in two blocks
      // The chain's input written by a convolution: blocked when layouts are.
      {{1, 16, 64, 50}, 96, 3, 3, 2, 2, 1, {1, 1, 1, 1}, clip, clip, true},
      {{1, 24, 70, 70}, 40, 3, 3, 1, 1, 1, {1, 1, 1, 1}, clip, {}, true},
  };
  BackendRegistry all;
  registerBuiltinBackends(all);
  bool blockedInput = false;
  for (const ChainCase& c : cases) {
    std::vector<std::vector<float>> inputs, keep;
    auto prog = chainProgram(c, &inputs, &keep);
    int chained = -1;
    const std::vector<float> want =
        runChainProgram(prog, all, "reference", false, ChainMode::All, 1, inputs, &chained);
    CHECK(chained == 0);
    float scale = 1.f;
    for (float w : want)
      scale = std::max(scale, 1.f + std::fabs(w));
    for (auto& f : families())
      for (bool blocked : {false, true})
        for (int threads : {1, 3}) {
          INFO(f->name << ", x " << shapeToString(c.x) << " -> " << c.ce << " channels, "
                       << (blocked ? "blocked" : "plain") << ", " << threads << " threads");
          const std::vector<float> got =
              runChainProgram(prog, f->registry, "", blocked, ChainMode::All, threads, inputs,
                              &chained, &blockedInput);
          CHECK(chained == 1);
          for (size_t i = 0; i < want.size(); ++i)
            if (std::fabs(got[i] - want[i]) > 5e-5f * scale) {
              FAIL_CHECK("element " << i << ": got " << got[i] << ", want " << want[i]);
              break;
            }
        }
  }
  CHECK(blockedInput); // the chain read a blocked input at least once
}

TEST_CASE("chains: the runtime offers only tensors nothing else reads, and the arena shrinks") {
  const PostOps clip{PostOp::makeUnary(UnaryKind::Clip, 0.f, 6.f)};
  const ChainCase c{{1, 8, 64, 64}, 48, 3, 3, 1, 1, 1, {1, 1, 1, 1}, clip, clip};
  std::vector<std::vector<float>> inputs, keep;
  auto prog = chainProgram(c, &inputs, &keep);
  for (auto& f : families()) {
    INFO(f->name);
    int chained = -1;
    SessionOptions so;
    so.threads = 2;
    so.chains = ChainMode::All;
    auto fused = Session::create(prog, f->registry, so);
    so.chains = ChainMode::Off;
    auto plain = Session::create(prog, f->registry, so);
    REQUIRE(fused.isOk());
    REQUIRE(plain.isOk());
    CHECK((*fused)->preparedModel().chainCount() == 1);
    CHECK((*fused)->preparedModel().chainLast(0) == 1);
    CHECK((*fused)->preparedModel().kernel(1) == nullptr);
    CHECK((*plain)->preparedModel().chainCount() == 0);
    // The expanded tensor (48 x 64 x 64 floats) has no storage when chained; the chain's
    // workspace (a band's packed input and expansion per thread) takes back part of it.
    CHECK((*plain)->arenaBytes() - (*fused)->arenaBytes() >= 48 * 64 * 64 * 4 / 4);
    // The expanded tensor also an output: read by two, not chained.
    auto both = std::make_shared<Program>(*prog);
    both->outputs.push_back(3);
    runChainProgram(both, f->registry, "", false, ChainMode::All, 1, inputs, &chained);
    CHECK(chained == 0);
  }
}

TEST_CASE("chains: fused where the search weighs the fused kernel faster") {
  const PostOps clip{PostOp::makeUnary(UnaryKind::Clip, 0.f, 6.f)};
  // mobilenet_v2's first expansions (24 -> 144 at 56x56, 1.8 MB between the kernels, past a
  // core's private cache: fused measured 11-20% faster at one and two threads) and its last (160
  // -> 960 at 7x7, 188 KB, whose bands give two threads too little work: fused measured 1.9x
  // slower at two threads).
  const ChainCase big{{1, 24, 56, 56}, 144, 3, 3, 1, 1, 1, {1, 1, 1, 1}, clip, clip, true};
  const ChainCase small{{1, 160, 7, 7}, 960, 3, 3, 1, 1, 1, {1, 1, 1, 1}, clip, clip, true};
  for (auto& f : families())
    for (const auto& [c, fused] : {std::pair{big, true}, std::pair{small, false}}) {
      INFO(f->name << ", x " << shapeToString(c.x) << " -> " << c.ce << " channels");
      std::vector<std::vector<float>> inputs, keep;
      auto prog = chainProgram(c, &inputs, &keep);
      PrepareOptions po;
      po.threads = 2;
      auto model = PreparedModel::create(prog, f->registry, po);
      REQUIRE(model.isOk());
      CHECK((*model)->chainCount() == (fused ? 1 : 0));
      // Told which chains to fuse (a plan made earlier), the load does so.
      po.fused = {0, 1, 0};
      auto told = PreparedModel::create(prog, f->registry, po);
      REQUIRE(told.isOk());
      CHECK((*told)->chainCount() == 1);
      CHECK((*told)->chainLast(1) == 2);
    }
}

TEST_CASE("cpu_x86 packs a constant weight once for every session and plan that reads it") {
  BackendRegistry registry;
  registerCpuX86Backend(registry);
  if (registry.all().empty()) return; // no AVX2 here: nothing registers
  auto weights = std::make_shared<std::vector<float>>(randomFloats(16 * 8 * 9, 3));
  // One convolution over an input of `side` x `side`: the programs of two input shapes read the
  // same constant, as a dynamic session's plans do.
  auto program = [&](int64_t side) {
    auto prog = std::make_shared<Program>();
    prog->tensors = {{"x", {DType::F32, {1, 8, side, side}}, nullptr},
                     {"w", {DType::F32, {16, 8, 3, 3}}, weights->data()},
                     {"y", {DType::F32, {1, 16, side, side}}, nullptr}};
    Conv2dParams p;
    p.pads = {1, 1, 1, 1};
    Primitive conv;
    conv.params = p;
    conv.inputs = {0, 1};
    conv.outputs = {2};
    prog->primitives = {conv};
    prog->inputs = {0};
    prog->outputs = {2};
    prog->storage = weights;
    return std::shared_ptr<const Program>(prog);
  };
  SessionOptions options;
  options.threads = 1;
  options.backend = "cpu_x86";
  const int64_t before = cpuX86WeightPackings();
  auto first = Session::create(program(12), registry, options);
  REQUIRE(first.isOk());
  const int64_t packed = cpuX86WeightPackings() - before;
  CHECK(packed == 1);
  auto second = Session::create(program(20), registry, options); // another shape, same weight
  REQUIRE(second.isOk());
  CHECK(cpuX86WeightPackings() - before == packed);
  first->reset();
  second->reset(); // no kernel holds the packing now: the next one packs again
  auto third = Session::create(program(12), registry, options);
  REQUIRE(third.isOk());
  CHECK(cpuX86WeightPackings() - before == 2 * packed);
}
