// unaryOf(kind, v, alpha, beta) over f32, as backends/reference/elementwise.cpp's unaryOf: shared
// by the unary kernel and the post-op lists (postops.glsl). Needs kinds.glsl.
// erf to about 1e-7 absolute (Abramowitz and Stegun 7.1.26 with its refinement by a Newton step
// is not needed at the tolerances the backends are held to).
float erfApprox(float v) {
  const float t = 1.0 / (1.0 + 0.3275911 * abs(v));
  const float poly =
      t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-v * v));
}

float expm1Approx(float v) {
  return abs(v) < 1e-3 ? v + 0.5 * v * v + v * v * v / 6.0 : exp(v) - 1.0;
}

float unaryOf(uint k, float v, float a, float b) {
  switch (k) {
  case UNARY_Identity: return v;
  case UNARY_Relu: return v > 0.0 ? v : 0.0;
  case UNARY_LeakyRelu: return v >= 0.0 ? v : a * v;
  case UNARY_Clip: return min(max(v, a), b);
  case UNARY_Sigmoid: return 1.0 / (1.0 + exp(-v));
  case UNARY_HardSigmoid: return max(0.0, min(1.0, a * v + b));
  case UNARY_HardSwish: return v * max(0.0, min(1.0, v / 6.0 + 0.5));
  case UNARY_Tanh: return tanh(clamp(v, -15.0, 15.0));
  case UNARY_Exp: return exp(v);
  case UNARY_Log: return log(v);
  case UNARY_Sqrt: return sqrt(v);
  case UNARY_Reciprocal: return 1.0 / v;
  case UNARY_Neg: return -v;
  case UNARY_Abs: return abs(v);
  case UNARY_Floor: return floor(v);
  case UNARY_Ceil: return ceil(v);
  case UNARY_Erf: return erfApprox(v);
  case UNARY_Sin: return sin(v);
  case UNARY_Cos: return cos(v);
  case UNARY_Tan: return tan(v);
  case UNARY_Asin: return asin(v);
  case UNARY_Acos: return acos(v);
  case UNARY_Atan: return atan(v);
  case UNARY_Sinh: return sinh(v);
  case UNARY_Cosh: return cosh(v);
  case UNARY_Asinh: return asinh(v);
  case UNARY_Acosh: return acosh(v);
  case UNARY_Atanh: return atanh(v);
  case UNARY_Softplus: return v > 20.0 ? v : log(1.0 + exp(v));
  case UNARY_Softsign: return v / (1.0 + abs(v));
  case UNARY_Elu: return v >= 0.0 ? v : a * expm1Approx(v);
  case UNARY_Selu: return b * (v > 0.0 ? v : a * expm1Approx(v));
  case UNARY_Celu: return max(0.0, v) + min(0.0, a * expm1Approx(v / a));
  case UNARY_ThresholdedRelu: return v > a ? v : 0.0;
  case UNARY_Sign: return sign(v);
  case UNARY_Round: return roundEven(v);
  }
  return v;
}
