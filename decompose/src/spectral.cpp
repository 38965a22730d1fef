// Discrete Fourier transforms (DFT, STFT) as matrix products with cosine and sine tables written
// when the plan is made: the transform's length is known then, and a table of N x K values
// multiplies like any weight (no FFT primitive; the matmul kernels do the work).
#include "builder.h"
#include "tessel/decompose/strided_copy.h"

#include <cmath>

namespace tessel::decompose {
namespace {

// A complex tensor as its real and imaginary parts ([rows, n] f32 each; im -1 when zero).
struct Complex {
  int32_t re, im;
};

// The length-`length` DFT of x's rows (x's n <= length columns, zeros after), the first
// `bins` frequencies: y = x * T with T[j][k] = e^(-+2 pi i j k / length) (/ length when
// inverse), as yr = xr T1 + xi T2, yi = xi T1 - xr T2 (T1 the cosine part, T2 the sine part).
Result<Complex> dft(LoweringBuilder& b, const Complex& x, int64_t length, int64_t bins,
                    bool inverse) {
  const Shape s = b.shape(x.re);
  const int64_t n = s[1];
  const double scale = inverse ? 1.0 / static_cast<double>(length) : 1.0;
  const double sign = inverse ? -1.0 : 1.0;
  std::vector<float> cosines(static_cast<size_t>(n * bins)), sines(cosines.size()),
      negated(cosines.size());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t k = 0; k < bins; ++k) {
      // j * k mod length keeps the angle small and exact for long transforms
      const double angle =
          2.0 * M_PI * static_cast<double>((j * k) % length) / static_cast<double>(length);
      const auto at = static_cast<size_t>(j * bins + k);
      cosines[at] = static_cast<float>(std::cos(angle) * scale);
      sines[at] = static_cast<float>(sign * std::sin(angle) * scale);
      negated[at] = -sines[at];
    }
  const TensorDesc table{DType::F32, {n, bins}};
  const int32_t t1 = b.constant(table, cosines.data());
  const int32_t t2 = b.constant(table, sines.data());
  TESSEL_ASSIGN_OR_RETURN(int32_t re, numpyMatMul(b, x.re, t1, false));
  if (x.im < 0) {
    TESSEL_ASSIGN_OR_RETURN(int32_t im,
                            numpyMatMul(b, x.re, b.constant(table, negated.data()), false));
    return Complex{re, im};
  }
  TESSEL_ASSIGN_OR_RETURN(int32_t reFromIm, numpyMatMul(b, x.im, t2, false));
  TESSEL_ASSIGN_OR_RETURN(int32_t im, numpyMatMul(b, x.im, t1, false));
  TESSEL_ASSIGN_OR_RETURN(int32_t imFromRe,
                          numpyMatMul(b, x.re, b.constant(table, negated.data()), false));
  return Complex{b.binaryTemp(BinaryKind::Add, re, reFromIm),
                 b.binaryTemp(BinaryKind::Add, im, imFromRe)};
}

// Component c (0 real, 1 imaginary) of `source`, read through `view` over `shape` ([rows, n]
// as a strided view of the source), as a dense temp.
Result<int32_t> component(LoweringBuilder& b, int32_t source, const StridedView& view,
                          const Shape& shape) {
  RasterParams r;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, view, {0, denseStrides(shape)}, shape));
  const int32_t out = b.temp({DType::F32, shape});
  b.emit(r, {source}, out);
  return out;
}

} // namespace

// DFT(x[, dft_length]; axis, inverse, onesided): x [..., n at axis, ..., 1 or 2] (real or
// complex), y with `axis` of length dft_length (or its onesided half + 1) and a last dim of 2.
// The axis is moved last (a strided read per component), transformed as [rows, n] by table
// products, and written back around it.
Status lowerDFT(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  const int64_t rank = x.rank();
  if (rank < 2 || (x.shape.back() != 1 && x.shape.back() != 2))
    return n.error("input " + x.toString() + " must end in a dim of 1 (real) or 2 (complex)");
  TESSEL_ASSIGN_OR_RETURN(int64_t axisAttr, n.intAttr("axis", 1));
  TESSEL_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(n, axisAttr, rank));
  if (axis == rank - 1) return n.error("the axis cannot be the last (component) dim");
  TESSEL_ASSIGN_OR_RETURN(int64_t inverse, n.intAttr("inverse", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t onesided, n.intAttr("onesided", 0));
  const int64_t size = x.shape[static_cast<size_t>(axis)];
  int64_t length = size;
  if (n.hasInput(1)) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> l, n.constInts(1, "dft_length"));
    if (l.size() != 1 || l[0] < 1) return n.error("dft_length must be one positive value");
    length = l[0];
  }
  if (onesided && x.shape.back() == 2) return n.error("onesided needs a real input");
  if (length > (1 << 14)) return unsupported(n.label() + ": a transform longer than 16384");
  const int64_t bins = onesided ? length / 2 + 1 : length;
  const int64_t used = std::min(size, length); // columns past the length are dropped
  // Rows: every index but the axis and the component, in order.
  const Shape strides = denseStrides(x.shape);
  Shape rowsShape, rowStrides;
  for (int64_t d = 0; d + 1 < rank; ++d)
    if (d != axis) {
      rowsShape.push_back(x.shape[static_cast<size_t>(d)]);
      rowStrides.push_back(strides[static_cast<size_t>(d)]);
    }
  int64_t rows = 1;
  for (int64_t d : rowsShape)
    rows *= d;
  Shape readShape = rowsShape, readStrides = rowStrides;
  readShape.push_back(used);
  readStrides.push_back(strides[static_cast<size_t>(axis)]);
  Complex in{-1, -1};
  for (int64_t c = 0; c < x.shape.back(); ++c) {
    TESSEL_ASSIGN_OR_RETURN(int32_t part, component(b, b.input(0), {c, readStrides}, readShape));
    const int32_t flat = b.temp({DType::F32, {rows, used}});
    b.view(part, flat);
    (c == 0 ? in.re : in.im) = flat;
  }
  TESSEL_ASSIGN_OR_RETURN(Complex y, dft(b, in, length, bins, inverse != 0));
  // Back around the axis: y's rows in the order of rowsShape, bins along the axis.
  Shape outShape = x.shape;
  outShape[static_cast<size_t>(axis)] = bins;
  outShape.back() = 2;
  const Shape outStrides = denseStrides(outShape);
  Shape dst;
  for (int64_t d = 0; d + 1 < rank; ++d)
    if (d != axis) dst.push_back(outStrides[static_cast<size_t>(d)]);
  dst.push_back(outStrides[static_cast<size_t>(axis)]);
  Shape iter = rowsShape;
  iter.push_back(bins);
  RasterParams r;
  for (int32_t c = 0; c < 2; ++c)
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&r.regions, c, {0, denseStrides(iter)}, {c, dst}, iter));
  b.emit(r, {y.re, y.im}, b.setOutput(0, {DType::F32, outShape}));
  return Status::ok();
}

// STFT(signal [batch, length, 1 or 2], frame_step[, window][, frame_length]; onesided):
// frames of frame_length samples every frame_step (a strided, overlapping read), times the
// window, each transformed: [batch, frames, bins, 2].
Status lowerSTFT(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects signal and frame_step");
  const TensorDesc s = b.desc(b.input(0));
  if (s.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  if (s.rank() != 3 || (s.shape[2] != 1 && s.shape[2] != 2))
    return n.error("signal " + s.toString() + " is not [batch, length, 1 or 2]");
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> step, n.constInts(1, "frame_step"));
  if (step.size() != 1 || step[0] < 1) return n.error("frame_step must be one positive value");
  int64_t frameLength = -1;
  if (n.hasInput(3)) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> fl, n.constInts(3, "frame_length"));
    if (fl.size() != 1 || fl[0] < 1) return n.error("frame_length must be one positive value");
    frameLength = fl[0];
  }
  if (n.hasInput(2)) {
    const TensorDesc w = b.desc(b.input(2));
    if (w.rank() != 1 || w.dtype != DType::F32) return n.error("window must be f32 1-D");
    if (frameLength >= 0 && w.shape[0] != frameLength)
      return n.error("window and frame_length differ");
    frameLength = w.shape[0];
  }
  if (frameLength < 1) return n.error("needs a window or a frame_length");
  TESSEL_ASSIGN_OR_RETURN(int64_t onesided, n.intAttr("onesided", 1));
  if (onesided && s.shape[2] == 2) return n.error("onesided needs a real signal");
  const int64_t batch = s.shape[0], length = s.shape[1], c = s.shape[2];
  if (frameLength > length) return n.error("frame_length exceeds the signal");
  if (frameLength > (1 << 14)) return unsupported(n.label() + ": frames longer than 16384");
  const int64_t frames = (length - frameLength) / step[0] + 1;
  const int64_t bins = onesided ? frameLength / 2 + 1 : frameLength;
  const Shape framed{batch, frames, frameLength};
  Complex in{-1, -1};
  for (int64_t k = 0; k < c; ++k) {
    TESSEL_ASSIGN_OR_RETURN(int32_t part,
                            component(b, b.input(0), {k, {length * c, step[0] * c, c}}, framed));
    if (n.hasInput(2)) part = b.binaryTemp(BinaryKind::Mul, part, b.input(2));
    const int32_t flat = b.temp({DType::F32, {batch * frames, frameLength}});
    b.view(part, flat);
    (k == 0 ? in.re : in.im) = flat;
  }
  TESSEL_ASSIGN_OR_RETURN(Complex y, dft(b, in, frameLength, bins, false));
  const Shape iter{batch * frames, bins};
  RasterParams r;
  for (int32_t k = 0; k < 2; ++k)
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&r.regions, k, {0, {bins, 1}}, {k, {bins * 2, 2}}, iter));
  b.emit(r, {y.re, y.im}, b.setOutput(0, {DType::F32, {batch, frames, bins, 2}}));
  return Status::ok();
}

// MelWeightMatrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz):
// [dft_length / 2 + 1, num_mel_bins] triangular filters on the mel scale, a table written when
// the plan is made (its operands' values known then), as ONNX's reference computes it.
Status lowerMelWeightMatrix(LoweringBuilder& b) {
  const Node& n = b.node();
  const char* names[5] = {"num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz",
                          "upper_edge_hertz"};
  double v[5];
  for (size_t i = 0; i < 5; ++i) {
    if (!n.hasInput(i)) return n.error(std::string("missing ") + names[i]);
    TESSEL_ASSIGN_OR_RETURN(std::vector<double> x, n.constFloats(i, names[i]));
    if (x.size() != 1 || !std::isfinite(x[0]))
      return n.error(std::string(names[i]) + " must be one finite value");
    v[i] = x[0];
  }
  const auto mels = static_cast<int64_t>(v[0]), length = static_cast<int64_t>(v[1]);
  if (mels < 1 || mels > 4096 || length < 1 || length > (1 << 16) || v[2] <= 0 || v[3] < 0 ||
      v[4] < v[3])
    return n.error("needs 1..4096 mel bins, a dft_length in 1..65536, a positive sample rate "
                   "and 0 <= lower_edge_hertz <= upper_edge_hertz");
  TESSEL_ASSIGN_OR_RETURN(int64_t typeCode, n.intAttr("output_datatype", 1));
  const std::optional<DType> type = dtypeFromOnnx(static_cast<int>(typeCode));
  if (!type || *type == DType::Bool)
    return n.error("output_datatype " + std::to_string(typeCode) + " is not a numeric type");
  const int64_t spectrogramBins = length / 2 + 1;
  const double lowMel = 2595.0 * std::log10(1.0 + v[3] / 700.0);
  const double highMel = 2595.0 * std::log10(1.0 + v[4] / 700.0);
  const double step = (highMel - lowMel) / static_cast<double>(mels + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mels + 2));
  for (int64_t i = 0; i < mels + 2; ++i) {
    const double hz =
        700.0 * (std::pow(10.0, (static_cast<double>(i) * step + lowMel) / 2595.0) - 1.0);
    edge[static_cast<size_t>(i)] =
        static_cast<int64_t>(std::floor(static_cast<double>(length + 1) * hz / v[2]));
  }
  if (edge.back() >= spectrogramBins || edge.front() < 0)
    return n.error("the filters reach past the spectrogram's " + std::to_string(spectrogramBins) +
                   " bins (upper_edge_hertz above half the sample rate)");
  std::vector<double> table(static_cast<size_t>(spectrogramBins * mels), 0.0);
  const auto at = [&](int64_t bin, int64_t mel) -> double& {
    return table[static_cast<size_t>(bin * mels + mel)];
  };
  for (int64_t i = 0; i < mels; ++i) {
    const int64_t lo = edge[static_cast<size_t>(i)], center = edge[static_cast<size_t>(i + 1)],
                  hi = edge[static_cast<size_t>(i + 2)];
    if (center == lo)
      at(center, i) = 1.0;
    else
      for (int64_t j = lo; j <= center; ++j)
        at(j, i) = static_cast<double>(j - lo) / static_cast<double>(center - lo);
    if (hi > center)
      for (int64_t j = center; j < hi; ++j)
        at(j, i) = static_cast<double>(hi - j) / static_cast<double>(hi - center);
  }
  writeTable(b, *type, {spectrogramBins, mels}, table);
  return Status::ok();
}

} // namespace tessel::decompose
