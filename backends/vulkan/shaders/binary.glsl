// binaryOf(kind, u, v) over f32 for the arithmetic kinds (add, sub, mul, div, max, min, pow, fmod),
// as backends/reference/elementwise.cpp computes them: shared by the binary kernel and the
// post-op lists (postops.glsl). Needs kinds.glsl.
float binaryOf(uint k, float u, float v) {
  switch (k) {
  case BINARY_Add: return u + v;
  case BINARY_Sub: return u - v;
  case BINARY_Mul: return u * v;
  case BINARY_Div: return u / v;
  case BINARY_Max: return max(u, v);
  case BINARY_Min: return min(u, v);
  case BINARY_Pow: {
    // GLSL's pow is undefined for u < 0: an integral exponent takes u's sign through its parity.
    if (u >= 0.0 || v != floor(v)) return pow(u, v);
    const float m = pow(-u, v);
    return mod(v, 2.0) == 0.0 ? m : -m;
  }
  case BINARY_FMod: return u - v * trunc(u / v);
  }
  return u;
}
