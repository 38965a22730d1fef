// The bindings of the kernels that take post-ops (conv2d, matmul, elementwise, pool): binding 0
// the output, binding i + 1 the primitive's input i (its base inputs, then post-op operands),
// f32 each. A kernel's push constants start with `uint off[8]`: each binding's element offset
// in the window bound (filled by the host's dispatch()). Unused bindings see the output's
// window.
layout(std430, binding = 0) buffer B0 { float y[]; };
layout(std430, binding = 1) readonly buffer B1 { float b1[]; };
layout(std430, binding = 2) readonly buffer B2 { float b2[]; };
layout(std430, binding = 3) readonly buffer B3 { float b3[]; };
layout(std430, binding = 4) readonly buffer B4 { float b4[]; };
layout(std430, binding = 5) readonly buffer B5 { float b5[]; };
layout(std430, binding = 6) readonly buffer B6 { float b6[]; };
layout(std430, binding = 7) readonly buffer B7 { float b7[]; };
