// tessel-search with the cost model chooses the layouts and the fused chains with the kernels:
// an inverted residual block (1x1 expand 24 -> 144, 3x3 depthwise, 1x1 project) at 56 x 56,
// whose expand and depthwise halves cpu_x86 runs as one kernel, the expanded tensor blocked in
// the target's vector width. tessel-emit writes them into the artifact (the tensors' layouts,
// the primitives' fused flags, the target's block), and a load on the planned target keeps them.
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx2 threads=1" | FileCheck --check-prefix=AVX2 %s
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx512 threads=2" | FileCheck --check-prefix=AVX512 %s
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model threads=1" -tessel-emit=output=%t.tsl
// RUN: tessel run %t.tsl --threads 1 | FileCheck --check-prefix=RAN %s
// RUN: tessel run %t.tsl --threads 1 --layouts plain | FileCheck --check-prefix=PLAIN %s
// RUN: tessel-opt %s -tessel-decompose -tessel-search="search=model target=x86-64-avx2" -tessel-emit=output=%t.avx2.tsl
// RUN: env TESSEL_X86_ISA=avx2 tessel run %t.avx2.tsl --threads 1 | FileCheck --check-prefix=RAN %s

// AVX2: tessel.target = {block = 8 : i64, cost_model = 2 : i64, name = "x86-64-avx2", threads = 1 : i64}
// AVX2: tessel.conv2d {{.*}}tessel.fused, {{.*}}tessel.layout = "nchwc8"
// AVX2-NEXT: tessel.conv2d
// AVX2-NOT: tessel.fused
// AVX2: return

// AVX512: tessel.target = {block = 16 : i64, cost_model = 2 : i64, name = "x86-64-avx512", threads = 2 : i64}
// AVX512: tessel.conv2d {{.*}}tessel.fused, {{.*}}tessel.layout = "nchwc16"

// RAN: output y: f32[1,24,56,56]
// RAN: plan: the artifact's, 1 tensors blocked, 1 chains fused
// Plain asked for at load: the artifact's layouts set aside, and the fused forms weighed again.
// PLAIN: plan: the artifact's, 0 tensors blocked, {{[01]}} chains fused

module attributes {tessel.onnx_opset = 13 : i64} {
  func.func @main(%x: tensor<1x24x56x56xf32> {tessel.name = "x"}) -> (tensor<1x24x56x56xf32> {tessel.name = "y"}) {
    %w1 = tessel.constant dense<0.01> : tensor<144x24x1x1xf32>
    %w2 = tessel.constant dense<0.02> : tensor<144x1x3x3xf32>
    %w3 = tessel.constant dense<0.03> : tensor<24x144x1x1xf32>
    %0 = tessel.onnx.Conv(%x, %w1) : (tensor<1x24x56x56xf32>, tensor<144x24x1x1xf32>) -> tensor<1x144x56x56xf32>
    %1 = tessel.onnx.Conv(%0, %w2) {group = 144 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x144x56x56xf32>, tensor<144x1x3x3xf32>) -> tensor<1x144x56x56xf32>
    %2 = tessel.onnx.Conv(%1, %w3) : (tensor<1x144x56x56xf32>, tensor<24x144x1x1xf32>) -> tensor<1x24x56x56xf32>
    return %2 : tensor<1x24x56x56xf32>
  }
}
