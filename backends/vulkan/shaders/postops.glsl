// A primitive's post-op list (core/primitive.h, PostOp) applied to one result element, as
// backends/reference/elementwise.cpp's applyPostOps does. The list is a pipeline's
// specialization (vulkan_backend.cpp, postOpSpec): constant 0 its length (at most 8), 1-8 each
// step's code, 9-16 its alpha, 17-24 its beta. A code's bits: 0-7 the unary or binary kind, 8 set
// for a binary step, 9-10 the operand's broadcast (kinds.glsl's BROADCAST_*), 11-13 the operand
// (an input index: binding + 1), 14 the operand comes first. The compiler folds the list into
// straight-line code. Needs kinds.glsl, unary.glsl, binary.glsl, operands.glsl and the push
// constants' `off`.
layout(constant_id = 0) const uint POST_COUNT = 0u;
layout(constant_id = 1) const uint POST_CODE0 = 0u;
layout(constant_id = 2) const uint POST_CODE1 = 0u;
layout(constant_id = 3) const uint POST_CODE2 = 0u;
layout(constant_id = 4) const uint POST_CODE3 = 0u;
layout(constant_id = 5) const uint POST_CODE4 = 0u;
layout(constant_id = 6) const uint POST_CODE5 = 0u;
layout(constant_id = 7) const uint POST_CODE6 = 0u;
layout(constant_id = 8) const uint POST_CODE7 = 0u;
layout(constant_id = 9) const float POST_ALPHA0 = 0.0;
layout(constant_id = 10) const float POST_ALPHA1 = 0.0;
layout(constant_id = 11) const float POST_ALPHA2 = 0.0;
layout(constant_id = 12) const float POST_ALPHA3 = 0.0;
layout(constant_id = 13) const float POST_ALPHA4 = 0.0;
layout(constant_id = 14) const float POST_ALPHA5 = 0.0;
layout(constant_id = 15) const float POST_ALPHA6 = 0.0;
layout(constant_id = 16) const float POST_ALPHA7 = 0.0;
layout(constant_id = 17) const float POST_BETA0 = 0.0;
layout(constant_id = 18) const float POST_BETA1 = 0.0;
layout(constant_id = 19) const float POST_BETA2 = 0.0;
layout(constant_id = 20) const float POST_BETA3 = 0.0;
layout(constant_id = 21) const float POST_BETA4 = 0.0;
layout(constant_id = 22) const float POST_BETA5 = 0.0;
layout(constant_id = 23) const float POST_BETA6 = 0.0;
layout(constant_id = 24) const float POST_BETA7 = 0.0;

// Element i of input `operand` (binding operand + 1).
float operandAt(uint operand, uint i) {
  switch (operand) {
  case 0u: return b1[p.off[1] + i];
  case 1u: return b2[p.off[2] + i];
  case 2u: return b3[p.off[3] + i];
  case 3u: return b4[p.off[4] + i];
  case 4u: return b5[p.off[5] + i];
  case 5u: return b6[p.off[6] + i];
  }
  return b7[p.off[7] + i];
}

// One step on v, the element at `idx` of the output whose channel is `channel`.
float postOp(uint code, float alpha, float beta, float v, uint idx, uint channel) {
  if ((code & 0x100u) == 0u) return unaryOf(code & 0xffu, v, alpha, beta);
  const uint how = (code >> 9) & 3u;
  const float x = operandAt((code >> 11) & 7u, how == BROADCAST_Scalar    ? 0u
                                                : how == BROADCAST_Channel ? channel
                                                                           : idx);
  return (code & 0x4000u) != 0u ? binaryOf(code & 0xffu, x, v) : binaryOf(code & 0xffu, v, x);
}

float postOps(float v, uint idx, uint channel) {
  if (POST_COUNT > 0u) v = postOp(POST_CODE0, POST_ALPHA0, POST_BETA0, v, idx, channel);
  if (POST_COUNT > 1u) v = postOp(POST_CODE1, POST_ALPHA1, POST_BETA1, v, idx, channel);
  if (POST_COUNT > 2u) v = postOp(POST_CODE2, POST_ALPHA2, POST_BETA2, v, idx, channel);
  if (POST_COUNT > 3u) v = postOp(POST_CODE3, POST_ALPHA3, POST_BETA3, v, idx, channel);
  if (POST_COUNT > 4u) v = postOp(POST_CODE4, POST_ALPHA4, POST_BETA4, v, idx, channel);
  if (POST_COUNT > 5u) v = postOp(POST_CODE5, POST_ALPHA5, POST_BETA5, v, idx, channel);
  if (POST_COUNT > 6u) v = postOp(POST_CODE6, POST_ALPHA6, POST_BETA6, v, idx, channel);
  if (POST_COUNT > 7u) v = postOp(POST_CODE7, POST_ALPHA7, POST_BETA7, v, idx, channel);
  return v;
}
