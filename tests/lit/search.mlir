// tessel-search writes the plan on @main's primitives (a backend and a kernel each) and the
// target on the module; tessel-emit writes that plan into the artifact, which runs it.
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx2 threads=2" | FileCheck %s
// RUN: tessel-opt %s -tessel-decompose -tessel-search="target=x86-64-avx512" | FileCheck --check-prefix=FIRST %s
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx512" -tessel-emit=output=%t.tsl
// RUN: tessel run %t.tsl | FileCheck --check-prefix=RAN %s
// RUN: not tessel-opt %s -tessel-decompose -tessel-search="target=riscv64" 2>&1 | FileCheck --check-prefix=TARGET %s
// RUN: not tessel-opt %s -tessel-decompose -tessel-search="search=measure" 2>&1 | FileCheck --check-prefix=MEASURE %s
// RUN: not tessel-opt %s -tessel-decompose -tessel-search="backends=vulkan target=x86-64-avx2" 2>&1 | FileCheck --check-prefix=BACKEND %s
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx2 weight-budget=10000" | FileCheck --check-prefix=LEAN %s
// RUN: not tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx2 weight-budget=9000" 2>&1 | FileCheck --check-prefix=BUDGET %s
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx2 memory-budget=1000000" | FileCheck --check-prefix=FITS %s
// RUN: not tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx2 memory-budget=30000" 2>&1 | FileCheck --check-prefix=MEMORY %s

// CHECK: tessel.target = {block = 0 : i64, cost_model = 2 : i64, name = "x86-64-avx2", threads = 2 : i64}
// A 3x3 convolution of 16 -> 16 channels: a cpu_x86 kernel, its variant for the search to pick
// (0: the backend's own best estimate, picked again when prepared).
// CHECK: tessel.conv2d {{.*}}tessel.backend = "cpu_x86", tessel.kernel = array<i64: {{[0-9]+}}>
// CHECK: tessel.unary {{.*}}tessel.backend = "cpu_x86", tessel.kernel = array<i64: 0>

// FIRST: tessel.target = {block = 0 : i64, cost_model = 0 : i64, name = "x86-64-avx512", threads = 1 : i64}
// FIRST: tessel.conv2d {{.*}}tessel.backend = "cpu_x86", tessel.kernel = array<i64: 0>

// RAN: output y: f32[1,16,12,12]
// A CPU without AVX-512 plans again when it loads that artifact.
// RAN: plan: {{the artifact's|cost model: the artifact was planned for x86-64-avx512, this machine runs x86-64-avx2}}

// Within 10,000 bytes of weights (the 3x3 weights are 9,216, the bias 64): a kernel that keeps
// its panels at that size, the transposed GEMM or the direct form (AVX2's 16-lane panels hold
// the 16 channels exactly); Winograd keeps 36,864 and the plain GEMM's 6-row panels 10,368.
// LEAN: tessel.conv2d {{.*}}tessel.backend = "cpu_x86", tessel.kernel = array<i64: {{4|6}}>
// BUDGET: the plan's kernels keep {{[0-9]+}} bytes of weights, over the weight budget of 9000 bytes; the leanest keep 9280

// FITS: tessel.conv2d {{.*}}tessel.backend = "cpu_x86", tessel.kernel = array<i64: {{[0-9]+}}>
// Under what the weights (9,280 bytes at the least) and three 9,216-byte tensors need (the
// input, the convolution's output, the output) at once: refused, naming the leanest found.
// MEMORY: the plan needs {{[0-9]+}} bytes (weights and arena), over the memory budget of 30000 bytes; the leanest kernels found need {{[0-9]+}} and {{[0-9]+}}

// TARGET: no target named 'riscv64' (known: host, x86-64-avx2, x86-64-avx512)
// MEASURE: tessel-search: search expects off or model, got 'measure'
// BACKEND: no backend named 'vulkan' for target 'x86-64-avx2'

module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<1x16x12x12xf32> {tessel.name = "x"}) -> (tensor<1x16x12x12xf32> {tessel.name = "y"}) {
    %w = tessel.constant dense<0.01> : tensor<16x16x3x3xf32>
    %b = tessel.constant dense<0.5> : tensor<16xf32>
    %0 = tessel.onnx.Conv(%x, %w, %b) {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x12x12xf32>, tensor<16x16x3x3xf32>, tensor<16xf32>) -> tensor<1x16x12x12xf32>
    %1 = tessel.onnx.Tanh(%0) : (tensor<1x16x12x12xf32>) -> tensor<1x16x12x12xf32>
    return %1 : tensor<1x16x12x12xf32>
  }
}
