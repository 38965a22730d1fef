// Rules for convolution, pooling and matrix products.
#include "builder.h"
#include "tessel/core/checked_math.h"

#include <algorithm>
#include <limits>

namespace tessel::decompose {
namespace {

// Bounds on window geometry (the artifact validator's too): far beyond any real model, small
// enough that no size arithmetic overflows.
constexpr int64_t kMaxWindow = int64_t{1} << 20;

// Window geometry over any number of spatial dims: kernel, stride, dilation, pads (begin ...,
// end ...) and output sizes.
struct WindowNd {
  Shape kernel, stride, dilation, pads, out;
  Shape ceilExtra; // end padding added for ceil_mode, per dim
};

// Attribute `key` (a list of ints) into *out: `dims` values, each in [1, 2^20]; `dflt` each
// when absent.
Status perDimInto(const Node& n, std::string_view key, size_t dims, int64_t dflt, Shape* out) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) {
    out->assign(dims, dflt);
    return Status::ok();
  }
  const auto* v = std::get_if<std::vector<int64_t>>(&it->second);
  if (!v) return n.error("attribute '" + std::string(key) + "' is not a list of ints");
  if (v->size() != dims)
    return n.error("'" + std::string(key) + "' must have " + std::to_string(dims) + " values");
  for (int64_t x : *v)
    if (x < 1 || x > kMaxWindow)
      return n.error("'" + std::string(key) + "' values must be in [1, 2^20]");
  out->assign(v->begin(), v->end());
  return Status::ok();
}

Result<Shape> perDim(const Node& n, const char* key, size_t dims, int64_t dflt) {
  Shape v;
  TESSEL_RETURN_IF_ERROR(perDimInto(n, key, dims, dflt, &v));
  return v;
}

// Kernel geometry, pads (explicit or auto_pad) and output size of a window over `in` (the
// spatial dims), into *w (its kernel set by the caller).
Status windowInto(const Node& n, const Shape& in, bool ceilMode, WindowNd* wp) {
  WindowNd& w = *wp;
  const size_t dims = in.size();
  for (int64_t k : w.kernel)
    if (k < 1 || k > kMaxWindow) return n.error("'kernel_shape' values must be in [1, 2^20]");
  TESSEL_RETURN_IF_ERROR(perDimInto(n, "strides", dims, 1, &w.stride));
  TESSEL_RETURN_IF_ERROR(perDimInto(n, "dilations", dims, 1, &w.dilation));
  std::string_view autoPad = "NOTSET";
  if (auto it = n.attrs.find("auto_pad"); it != n.attrs.end()) {
    const auto* v = std::get_if<std::string>(&it->second);
    if (!v) return n.error("attribute 'auto_pad' is not a string");
    autoPad = *v;
  }
  const auto span = [&](size_t i) { return (w.kernel[i] - 1) * w.dilation[i] + 1; };
  if (autoPad == "NOTSET") {
    TESSEL_ASSIGN_OR_RETURN(w.pads, n.dimsAttr("pads", Shape(2 * dims, 0)));
    if (w.pads.size() != 2 * dims)
      return n.error("'pads' must have " + std::to_string(2 * dims) + " values");
    for (int64_t p : w.pads) {
      if (p < 0) return unsupported(n.label() + ": negative pads");
      if (p > kMaxWindow) return n.error("pads out of range");
    }
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    w.pads.assign(2 * dims, 0);
    for (size_t i = 0; i < dims; ++i) {
      int64_t out = (in[i] + w.stride[i] - 1) / w.stride[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[i] + span(i) - in[i]);
      int64_t small = total / 2;
      w.pads[i] = autoPad == "SAME_UPPER" ? small : total - small;
      w.pads[i + dims] = total - w.pads[i];
    }
  } else if (autoPad == "VALID") {
    w.pads.assign(2 * dims, 0);
  } else {
    return n.error("unknown auto_pad '" + std::string(autoPad) + "'");
  }
  w.out.assign(dims, 0);
  w.ceilExtra.assign(dims, 0);
  for (size_t i = 0; i < dims; ++i) {
    const int64_t padded = in[i] + w.pads[i] + w.pads[i + dims];
    if (padded < span(i)) return n.error("kernel is larger than the padded input");
    int64_t out = (padded - span(i)) / w.stride[i] + 1;
    if (ceilMode) {
      out = (padded - span(i) + w.stride[i] - 1) / w.stride[i] + 1;
      if ((out - 1) * w.stride[i] >= in[i] + w.pads[i]) --out; // last window must start inside
      // Extend the end padding so the floor formula of the primitive gives the same size.
      w.ceilExtra[i] = std::max<int64_t>(0, (out - 1) * w.stride[i] + span(i) - padded);
      w.pads[i + dims] += w.ceilExtra[i];
    }
    w.out[i] = out;
  }
  return Status::ok();
}

Result<WindowNd> windowNd(const Node& n, const Shape& in, Shape kernel, bool ceilMode) {
  WindowNd w;
  w.kernel = std::move(kernel);
  TESSEL_RETURN_IF_ERROR(windowInto(n, in, ceilMode, &w));
  return w;
}

// The 2-D form the conv2d and pool primitives take.
struct Window {
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1}, dilation{1, 1};
  std::array<int64_t, 4> pads{};
  std::array<int64_t, 2> out{};
};

Result<std::array<int64_t, 2>> pair(const Node& n, const char* key, std::array<int64_t, 2> dflt) {
  TESSEL_ASSIGN_OR_RETURN(Shape v, n.dimsAttr(key, {dflt[0], dflt[1]}));
  if (v.size() != 2) return n.error(std::string("'") + key + "' must have 2 values");
  if (v[0] < 1 || v[1] < 1 || v[0] > kMaxWindow || v[1] > kMaxWindow)
    return n.error(std::string("'") + key + "' values must be in [1, 2^20]");
  return std::array<int64_t, 2>{v[0], v[1]};
}

Result<Window> window(const Node& n, const Shape& in, std::array<int64_t, 2> kernel,
                      bool ceilMode) {
  WindowNd nd;
  nd.kernel = {kernel[0], kernel[1]};
  TESSEL_RETURN_IF_ERROR(windowInto(n, in, ceilMode, &nd));
  Window w;
  for (size_t i = 0; i < 2; ++i) {
    w.kernel[i] = nd.kernel[i];
    w.stride[i] = nd.stride[i];
    w.dilation[i] = nd.dilation[i];
    w.out[i] = nd.out[i];
    w.pads[i] = nd.pads[i];
    w.pads[i + 2] = nd.pads[i + 2];
  }
  return w;
}

Status require4d(const Node& n, const TensorDesc& x) {
  if (x.rank() != 4)
    return unsupported(n.label() + ": only 2-D (NCHW) inputs are supported, got " + x.toString());
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  return Status::ok();
}

// The optional bias (input 2) of a convolution with `channels` outputs.
Status appendBias(LoweringBuilder& b, int64_t channels, Conv2dParams* p,
                  std::vector<int32_t>* ins) {
  if (!b.node().hasInput(2)) return Status::ok();
  if (b.desc(b.input(2)).numel() != channels) return b.node().error("bias size does not match");
  p->hasBias = true;
  ins->push_back(b.input(2));
  return Status::ok();
}

// Per spatial dim of a convolution: kernel extent, stride, dilation, pads before and after, and
// the output extent.
struct ConvGeometry {
  Shape kernel, stride, dilation, padBegin, padEnd, out;
};

Conv2dParams conv2dOver(const ConvGeometry& g, size_t first, int64_t group) {
  Conv2dParams p;
  p.stride = {g.stride[first], g.stride[first + 1]};
  p.dilation = {g.dilation[first], g.dilation[first + 1]};
  p.pads = {g.padBegin[first], g.padBegin[first + 1], g.padEnd[first], g.padEnd[first + 1]};
  p.group = group;
  return p;
}

// out = conv(x, w) (+ bias when bias >= 0) over any number of spatial dims (x [N, C, S...], w
// [O, C / group, K...], f32), through conv2d primitives: one spatial dim runs over [N, C, 1, L];
// two directly; more as one conv2d per tap of the leading dims (all but the last two), over the
// input rows that tap reads with the leading output positions folded into the batch, summed, and
// the leading dims moved back behind the channels.
Status convolveNd(LoweringBuilder& b, int32_t x, int32_t w, int32_t bias, ConvGeometry g,
                  int64_t group, int32_t out) {
  TensorDesc xd = b.desc(x), wd = b.desc(w);
  const TensorDesc od = b.desc(out);
  if (g.kernel.size() == 1) { // a unit dim in front
    for (auto* v : {&g.kernel, &g.stride, &g.dilation, &g.out})
      v->insert(v->begin(), 1);
    g.padBegin.insert(g.padBegin.begin(), 0);
    g.padEnd.insert(g.padEnd.begin(), 0);
    for (auto* d : {&xd, &wd}) {
      d->shape.insert(d->shape.begin() + 2, 1);
      const int32_t viewed = b.temp(*d);
      b.view(d == &xd ? x : w, viewed);
      (d == &xd ? x : w) = viewed;
    }
    Shape yShape = od.shape;
    yShape.insert(yShape.begin() + 2, 1);
    const int32_t y = b.temp({DType::F32, yShape});
    TESSEL_RETURN_IF_ERROR(convolveNd(b, x, w, bias, g, group, y));
    b.view(y, out);
    return Status::ok();
  }
  const size_t m = g.kernel.size() - 2; // leading spatial dims
  Conv2dParams p = conv2dOver(g, m, group);
  if (m == 0) {
    std::vector<int32_t> ins{x, w};
    if (bias >= 0) ins.push_back(bias);
    p.hasBias = bias >= 0;
    b.emit(p, ins, out);
    return Status::ok();
  }
  const int64_t n = xd.shape[0], c = xd.shape[1], o = wd.shape[0], cg = wd.shape[1];
  const int64_t plane = xd.shape[2 + m] * xd.shape[3 + m];
  const int64_t outPlane = g.out[m] * g.out[m + 1], taps2 = g.kernel[m] * g.kernel[m + 1];
  const int64_t leadOut = product(g.out, 0, m), leadTaps = product(g.kernel, 0, m);
  const Shape xs = denseStrides(xd.shape), ws = denseStrides(wd.shape);
  // The input rows of one leading tap, laid out [N, leading outputs..., C, plane].
  Shape rowsShape{n};
  for (size_t j = 0; j < m; ++j)
    rowsShape.push_back(g.out[j]);
  rowsShape.push_back(c);
  rowsShape.push_back(plane);
  const Shape rs = denseStrides(rowsShape);
  int32_t acc = -1;
  for (int64_t t = 0; t < leadTaps; ++t) {
    StridedView src{0, {xs[0]}}, dst{0, {rs[0]}};
    Shape copied{n};
    bool empty = false;
    for (size_t j = 0, rest = static_cast<size_t>(t); j < m; ++j) {
      const size_t jj = m - 1 - j; // innermost leading dim varies fastest
      const int64_t tap = static_cast<int64_t>(rest) % g.kernel[jj];
      rest /= static_cast<size_t>(g.kernel[jj]);
      // Output positions q read input q * stride - pad + tap * dilation, inside [0, extent).
      const int64_t shift = tap * g.dilation[jj] - g.padBegin[jj], extent = xd.shape[2 + jj];
      const int64_t lo = std::max<int64_t>(0, (-shift + g.stride[jj] - 1) / g.stride[jj]);
      const int64_t hi =
          std::min(g.out[jj], shift >= extent ? 0 : (extent - 1 - shift) / g.stride[jj] + 1);
      if (hi <= lo) empty = true;
      src.offset += (lo * g.stride[jj] + shift) * xs[2 + jj];
      dst.offset += lo * rs[1 + jj];
      src.strides.insert(src.strides.begin() + 1, g.stride[jj] * xs[2 + jj]);
      dst.strides.insert(dst.strides.begin() + 1, rs[1 + jj]);
      copied.insert(copied.begin() + 1, std::max<int64_t>(0, hi - lo));
    }
    if (empty) continue; // this tap reads only padding
    src.strides.insert(src.strides.end(), {xs[1], 1});
    dst.strides.insert(dst.strides.end(), {rs[m + 1], 1});
    copied.insert(copied.end(), {c, plane});
    const int32_t rows = b.temp({DType::F32, {n * leadOut, c, xd.shape[2 + m], xd.shape[3 + m]}});
    RasterParams r;
    r.fill = 0.0;
    TESSEL_RETURN_IF_ERROR(appendStridedCopy(&r.regions, 0, src, dst, copied));
    b.emit(r, {x}, rows);
    // The weight's taps at this leading tap: [O, C / group, kh, kw].
    int64_t wOffset = 0;
    for (size_t j = 0, rest = static_cast<size_t>(t); j < m; ++j) {
      const size_t jj = m - 1 - j;
      wOffset += (static_cast<int64_t>(rest) % g.kernel[jj]) * ws[2 + jj];
      rest /= static_cast<size_t>(g.kernel[jj]);
    }
    const int32_t wt = b.temp({DType::F32, {o, cg, g.kernel[m], g.kernel[m + 1]}});
    RasterParams wr;
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&wr.regions, 0, {wOffset, {ws[1], 1}}, {0, {taps2, 1}}, {o * cg, taps2}));
    b.emit(wr, {w}, wt);
    const int32_t z = b.temp({DType::F32, {n * leadOut, o, g.out[m], g.out[m + 1]}});
    std::vector<int32_t> ins{rows, wt};
    p.hasBias = acc < 0 && bias >= 0;
    if (p.hasBias) ins.push_back(bias);
    b.emit(p, ins, z);
    acc = acc < 0 ? z : b.binaryTemp(BinaryKind::Add, acc, z);
  }
  if (acc < 0) { // every tap reads padding only: zeros, plus the bias
    acc = b.temp({DType::F32, {n * leadOut, o, g.out[m], g.out[m + 1]}});
    RasterParams zero;
    zero.fill = 0.0;
    b.emit(zero, {x}, acc);
    if (bias >= 0) {
      const int32_t biased = b.temp(b.desc(acc));
      b.binaryPerChannel(BinaryKind::Add, acc, bias, 1, biased);
      acc = biased;
    }
  }
  // [N, leading outputs, O, plane] -> [N, O, leading outputs, plane].
  RasterParams back;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(
      &back.regions, 0, {0, {leadOut * o * outPlane, outPlane, o * outPlane, 1}},
      {0, {o * leadOut * outPlane, leadOut * outPlane, outPlane, 1}}, {n, o, leadOut, outPlane}));
  b.emit(back, {acc}, out);
  return Status::ok();
}

// Kernel equal to stride, no pads or dilation: every input pixel writes its own kh x kw output
// block and no zero is ever multiplied. A 1x1 convolution to Cout*kh*kw channels, channel
// (co, ky, kx) = out[co] at (iy*kh + ky, ix*kw + kx), then a depth-to-space raster. The weight
// and bias rearrangements are rasters over constants and fold away.
Status blockTransposedConv(LoweringBuilder& b, const TensorDesc& x, const TensorDesc& wt) {
  const int64_t n = x.shape[0], cin = wt.shape[0], cout = wt.shape[1];
  const int64_t kh = wt.shape[2], kw = wt.shape[3], taps = kh * kw;
  const int64_t h = x.shape[2], w = x.shape[3];
  // Weight [Cin, Cout*taps] -> [Cout*taps, Cin, 1, 1].
  const int32_t w1 = b.temp({DType::F32, {cout * taps, cin, 1, 1}});
  RasterParams wr;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&wr.regions, 0, {0, {0, 1, cout * taps}},
                                           {0, {0, cin, 1}}, {1, cout * taps, cin}));
  b.emit(wr, {b.input(1)}, w1);
  Conv2dParams p;
  std::vector<int32_t> ins = {b.input(0), w1};
  if (b.node().hasInput(2)) {
    if (b.desc(b.input(2)).numel() != cout) return b.node().error("bias size does not match");
    const int32_t b1 = b.temp({DType::F32, {cout * taps}});
    RasterParams br;
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&br.regions, 0, {0, {0, 1, 0}}, {0, {0, taps, 1}}, {1, cout, taps}));
    b.emit(br, {b.input(2)}, b1);
    p.hasBias = true;
    ins.push_back(b1);
  }
  const int32_t y1 = b.temp({DType::F32, {n, cout * taps, h, w}});
  b.emit(p, ins, y1);
  const int32_t out = b.setOutput(0, {DType::F32, {n, cout, h * kh, w * kw}});
  RasterParams d2s;
  for (int64_t ky = 0; ky < kh; ++ky)
    for (int64_t kx = 0; kx < kw; ++kx)
      TESSEL_RETURN_IF_ERROR(appendStridedCopy(
          &d2s.regions, 0, {(ky * kw + kx) * h * w, {taps * h * w, w, 1}},
          {ky * w * kw + kx, {h * kh * w * kw, kh * w * kw, kw}}, {n * cout, h, w}));
  b.emit(d2s, {y1}, out);
  return Status::ok();
}

// A convolution's kernel_shape (when given), which must be the weight's spatial dims.
Status checkKernelShape(const Node& n, const TensorDesc& wt) {
  const Shape kernel(wt.shape.begin() + 2, wt.shape.end());
  TESSEL_ASSIGN_OR_RETURN(Shape ks, n.dimsAttr("kernel_shape", kernel));
  if (ks != kernel)
    return n.error("kernel shape " + shapeToString(ks) + " does not match weight dims " +
                   shapeToString(kernel));
  return Status::ok();
}

// A convolution's group, checked against the input's channels and the weight [O, C / group, K...]
// (of the input's rank), and its kernel_shape.
Result<int64_t> convolutionGroup(const Node& n, const TensorDesc& x, const TensorDesc& wt) {
  TESSEL_ASSIGN_OR_RETURN(int64_t group, n.intAttr("group", 1));
  if (group < 1 || x.shape[1] % group != 0 || wt.shape[1] * group != x.shape[1] ||
      wt.shape[0] % group != 0)
    return n.error("weight " + shapeToString(wt.shape) + " does not match input channels " +
                   std::to_string(x.shape[1]) + " with group " + std::to_string(group));
  TESSEL_RETURN_IF_ERROR(checkKernelShape(n, wt));
  return group;
}

} // namespace

Result<Shape> convolutionParams(const Node& n, const TensorDesc& x, const TensorDesc& wt,
                                Conv2dParams* p) {
  if (x.rank() != 4)
    return unsupported(n.label() + ": only 2-D (NCHW) inputs are supported, got " + x.toString());
  if (wt.rank() != 4) return n.error("weight must be 4-D, got " + wt.toString());
  TESSEL_ASSIGN_OR_RETURN(int64_t group, convolutionGroup(n, x, wt));
  TESSEL_ASSIGN_OR_RETURN(Window w,
                          window(n, {x.shape[2], x.shape[3]}, {wt.shape[2], wt.shape[3]}, false));
  p->stride = w.stride;
  p->pads = w.pads;
  p->dilation = w.dilation;
  p->group = group;
  return Shape{x.shape[0], wt.shape[0], w.out[0], w.out[1]};
}

Status lowerConv(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects input and weight");
  const TensorDesc x = b.desc(b.input(0));
  const TensorDesc wt = b.desc(b.input(1));
  if (x.rank() == 4) {
    TESSEL_RETURN_IF_ERROR(require4d(n, x));
    Conv2dParams p;
    TESSEL_ASSIGN_OR_RETURN(Shape outShape, convolutionParams(n, x, wt, &p));
    std::vector<int32_t> ins = {b.input(0), b.input(1)};
    TESSEL_RETURN_IF_ERROR(appendBias(b, wt.shape[0], &p, &ins));
    b.emit(p, ins, b.setOutput(0, {DType::F32, outShape}));
    return Status::ok();
  }
  // 1-D and 3-D (and more): the same attributes per spatial dim, through conv2d primitives.
  if (x.rank() < 3) return n.error("input must have a batch, channel and spatial dims");
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  if (wt.rank() != x.rank())
    return n.error("weight " + wt.toString() + " must have the input's rank");
  TESSEL_ASSIGN_OR_RETURN(int64_t group, convolutionGroup(n, x, wt));
  const Shape spatial(x.shape.begin() + 2, x.shape.end());
  const Shape kernel(wt.shape.begin() + 2, wt.shape.end());
  TESSEL_ASSIGN_OR_RETURN(WindowNd w, windowNd(n, spatial, kernel, false));
  const size_t dims = spatial.size();
  ConvGeometry g{w.kernel,
                 w.stride,
                 w.dilation,
                 {w.pads.begin(), w.pads.begin() + dims},
                 {w.pads.begin() + dims, w.pads.end()},
                 w.out};
  int32_t bias = -1;
  if (n.hasInput(2)) {
    if (b.desc(b.input(2)).numel() != wt.shape[0]) return n.error("bias size does not match");
    bias = b.input(2);
  }
  Shape outShape{x.shape[0], wt.shape[0]};
  outShape.insert(outShape.end(), w.out.begin(), w.out.end());
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  return convolveNd(b, b.input(0), b.input(1), bias, g, group,
                    b.setOutput(0, {DType::F32, outShape}));
}

// A transposed convolution is a stride-1 convolution over the input spread out with zeros
// (stride - 1 between elements, kernel - 1 - pad around) with the weight's in/out channels
// swapped (per group) and its taps reversed. Both rearrangements are rasters; the weight one
// folds away. Any number of spatial dims, as convolveNd.
Status lowerConvTranspose(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects input and weight");
  const TensorDesc x = b.desc(b.input(0));
  const TensorDesc wt = b.desc(b.input(1));
  if (x.rank() < 3) return n.error("input must have a batch, channel and spatial dims");
  if (x.dtype != DType::F32) return unsupported(n.label() + ": only f32 inputs are supported");
  const size_t dims = static_cast<size_t>(x.rank()) - 2;
  TESSEL_ASSIGN_OR_RETURN(int64_t group, n.intAttr("group", 1));
  if (wt.rank() != x.rank() || wt.shape[0] != x.shape[1] || group < 1 || x.shape[1] % group != 0)
    return n.error("weight " + shapeToString(wt.shape) + " does not match input channels " +
                   std::to_string(x.shape[1]) + " with group " + std::to_string(group));
  TESSEL_RETURN_IF_ERROR(checkKernelShape(n, wt));
  const std::vector<int64_t> k(wt.shape.begin() + 2, wt.shape.end());
  TESSEL_ASSIGN_OR_RETURN(std::string autoPad, n.stringAttr("auto_pad", "NOTSET"));
  if (autoPad != "NOTSET" && autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER" &&
      autoPad != "VALID")
    return n.error("auto_pad " + autoPad);
  TESSEL_ASSIGN_OR_RETURN(Shape stride, perDim(n, "strides", dims, 1));
  TESSEL_ASSIGN_OR_RETURN(Shape dil, perDim(n, "dilations", dims, 1));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                          n.intsAttr("pads", std::vector<int64_t>(2 * dims, 0)));
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> outPad,
                          n.intsAttr("output_padding", std::vector<int64_t>(dims, 0)));
  if (pads.size() != 2 * dims || outPad.size() != dims)
    return n.error("bad pads or output_padding");
  for (int64_t v : outPad)
    if (v < 0 || v > kMaxWindow) return n.error("output_padding out of range");
  // An output shape (given, or the input's times the strides under SAME_*) sets the pads: the
  // natural size minus the wanted one, split with the odd unit at the end for SAME_UPPER and
  // at the start otherwise (the ONNX definition); a wanted size past the natural one extends
  // the end like output_padding (as onnxruntime does).
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> outputShape, n.intsAttr("output_shape", {}));
  if (outputShape.size() > dims)
    outputShape.erase(outputShape.begin(), outputShape.end() - static_cast<int64_t>(dims));
  if (!outputShape.empty() && outputShape.size() != dims) return n.error("bad output_shape");
  // Strides and dilations are at most 2^20 (perDim); input and kernel extents at most 2^40 here.
  for (size_t i = 0; i < dims; ++i)
    if (x.shape[2 + i] > (int64_t{1} << 40) || k[i] > (int64_t{1} << 40))
      return n.error("spatial dims out of range");
  if (outputShape.empty() && (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER"))
    for (size_t i = 0; i < dims; ++i)
      outputShape.push_back(x.shape[2 + i] * stride[i]);
  if (autoPad == "VALID") pads.assign(2 * dims, 0);
  if (!outputShape.empty()) {
    for (size_t i = 0; i < dims; ++i) {
      if (outputShape[i] < 0 || outputShape[i] > (int64_t{1} << 40))
        return n.error("output_shape " + std::to_string(outputShape[i]) + " out of range");
      const int64_t natural =
          stride[i] * (x.shape[2 + i] - 1) + outPad[i] + (k[i] - 1) * dil[i] + 1;
      const int64_t total = natural - outputShape[i];
      if (total < 0) { // larger than natural: the extra rows grow the end, as output_padding
        if (-total > kMaxWindow)
          return n.error("output_shape " + std::to_string(outputShape[i]) + " past the natural " +
                         std::to_string(natural) + " by more than 2^20");
        pads[i] = pads[i + dims] = 0;
        outPad[i] -= total;
        continue;
      }
      const bool upper = autoPad == "SAME_UPPER";
      pads[i] = upper ? total / 2 : total - total / 2;
      pads[i + dims] = total - pads[i];
    }
  }
  for (int64_t v : pads)
    if (v < 0 || v > kMaxWindow) return n.error("pads out of range");
  const int64_t cin = x.shape[1], cog = wt.shape[1], cout = cog * group, cig = cin / group;
  ConvGeometry g;
  g.kernel = k;
  g.dilation = dil;
  g.stride.assign(dims, 1);
  g.padBegin.assign(dims, 0);
  g.padEnd.assign(dims, 0);
  Shape spreadShape{x.shape[0], cin}, outShape{x.shape[0], cout};
  std::vector<int64_t> lead(dims);
  for (size_t i = 0; i < dims; ++i) {
    const int64_t edge = (k[i] - 1) * dil[i];
    lead[i] = edge - pads[i];
    const int64_t trail = edge - pads[i + dims] + outPad[i];
    if (lead[i] < 0 || trail < 0)
      return unsupported(n.label() + ": pads larger than the dilated kernel");
    spreadShape.push_back((x.shape[2 + i] - 1) * stride[i] + 1 + lead[i] + trail);
    g.out.push_back(spreadShape.back() - edge);
    outShape.push_back(g.out.back());
  }
  TESSEL_RETURN_IF_ERROR(elementCount(spreadShape).status().withContext(n.label()));
  TESSEL_RETURN_IF_ERROR(elementCount(outShape).status().withContext(n.label()));
  const bool plain = std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v == 0; }) &&
                     std::all_of(outPad.begin(), outPad.end(), [](int64_t v) { return v == 0; }) &&
                     std::all_of(dil.begin(), dil.end(), [](int64_t v) { return v == 1; });
  if (dims == 2 && group == 1 && plain && stride == k) return blockTransposedConv(b, x, wt);
  // The input spread out with zeros.
  const int32_t xs = b.temp({DType::F32, spreadShape});
  {
    RasterParams r;
    r.fill = 0.0;
    const Shape st = denseStrides(spreadShape);
    StridedView dst{0, {st[0], st[1]}};
    for (size_t i = 0; i < dims; ++i) {
      dst.offset += lead[i] * st[2 + i];
      dst.strides.push_back(stride[i] * st[2 + i]);
    }
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&r.regions, 0, {0, denseStrides(x.shape)}, dst, x.shape));
    b.emit(r, {b.input(0)}, xs);
  }
  // Weight [Cin, Cout / group, K...] -> [Cout, Cin / group, K...], taps reversed (reversing every
  // spatial axis reverses the flattened tap index).
  const int64_t taps = product(k, 0, dims);
  Shape wfShape{cout, cig};
  wfShape.insert(wfShape.end(), k.begin(), k.end());
  const int32_t wf = b.temp({DType::F32, wfShape});
  {
    RasterParams r;
    TESSEL_RETURN_IF_ERROR(
        appendStridedCopy(&r.regions, 0, {taps - 1, {cig * cog * taps, taps, cog * taps, -1}},
                          {0, {cog * cig * taps, cig * taps, taps, 1}}, {group, cog, cig, taps}));
    b.emit(r, {b.input(1)}, wf);
  }
  int32_t bias = -1;
  if (n.hasInput(2)) {
    if (b.desc(b.input(2)).numel() != cout) return n.error("bias size does not match");
    bias = b.input(2);
  }
  return convolveNd(b, xs, wf, bias, g, group, b.setOutput(0, {DType::F32, outShape}));
}

// A 1-D window node's attributes as the 2-D window over [1, L] they describe: kernel, strides
// and dilations gain a leading 1, pads a leading 0 on each side.
Result<Node> asTwoD(const Node& n) {
  Node two = n;
  for (const char* key : {"kernel_shape", "strides", "dilations"})
    if (n.hasAttr(key)) {
      TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> v, n.intsAttr(key, {}));
      if (v.size() != 1) return n.error(std::string("'") + key + "' must have 1 value for 1-D");
      two.attrs[key] = std::vector<int64_t>{1, v[0]};
    }
  if (n.hasAttr("pads")) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> v, n.intsAttr("pads", {}));
    if (v.size() != 2) return n.error("'pads' must have 2 values for 1-D");
    two.attrs["pads"] = std::vector<int64_t>{0, v[0], 0, v[1]};
  }
  return two;
}

// Pooling the pool primitive cannot express (3-D and beyond, dilation, MaxPool's indices) by
// windows: one raster lays every window out as [N * C, outputs, taps] (taps outside the input
// filled with -inf for max, 0 for average; one region per tap over the outputs whose tap lies
// inside), one reduction over the taps, and for the indices an argmax whose tap becomes the
// input position through a table of (output, tap) -> flat position. `input` is f32.
Status poolByWindows(LoweringBuilder& b, int32_t input, DType type) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(input);
  const size_t dims = static_cast<size_t>(x.rank() - 2);
  const bool max = n.opType == "MaxPool";
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, n.intsAttr("kernel_shape", {}));
  if (kernel.size() != dims)
    return n.error("'kernel_shape' must have " + std::to_string(dims) + " values");
  TESSEL_ASSIGN_OR_RETURN(int64_t ceilMode, n.intAttr("ceil_mode", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t includePad, n.intAttr("count_include_pad", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t storageOrder, n.intAttr("storage_order", 0));
  if (storageOrder != 0 && storageOrder != 1) return n.error("storage_order must be 0 or 1");
  const Shape in(x.shape.begin() + 2, x.shape.end());
  TESSEL_ASSIGN_OR_RETURN(WindowNd w, windowNd(n, in, kernel, ceilMode != 0));
  const int64_t planes = x.shape[0] * x.shape[1], plane = product(in, 0, dims);
  const int64_t outputs = product(w.out, 0, dims), taps = product(w.kernel, 0, dims);
  int64_t laid = 0;
  if (!checkedProduct({planes, outputs, taps}, &laid) || laid > (int64_t{1} << 26))
    return unsupported(n.label() + ": " + std::to_string(planes) + " x " + std::to_string(outputs) +
                       " windows of " + std::to_string(taps) + " taps (at most 2^26 laid out)");
  const Shape inStrides = denseStrides(in), outStrides = denseStrides(w.out);
  // The indices' spatial strides: row-major, or column-major (storage_order 1: the first
  // spatial dim moves fastest).
  Shape indexStrides = inStrides;
  if (storageOrder == 1)
    for (size_t i = 0; i < dims; ++i)
      indexStrides[i] = product(in, 0, i);
  RasterParams r;
  r.fill = max ? -std::numeric_limits<double>::infinity() : 0.0;
  std::vector<int64_t> tap(dims, 0);
  std::vector<int64_t> position(static_cast<size_t>(outputs * taps), 0); // flat input position
  std::vector<float> count(static_cast<size_t>(outputs), 0.f);
  for (int64_t t = 0; t < taps; ++t) {
    for (int64_t i = static_cast<int64_t>(dims) - 1, rest = t; i >= 0; --i) {
      tap[i] = rest % w.kernel[i];
      rest /= w.kernel[i];
    }
    Shape shape{planes}, src{plane}, dst{outputs * taps};
    int64_t srcOffset = 0, dstOffset = t;
    bool empty = false;
    for (size_t i = 0; i < dims; ++i) {
      const int64_t shift = tap[i] * w.dilation[i] - w.pads[i]; // input = o * stride + shift
      const int64_t lo = std::max<int64_t>(0, (-shift + w.stride[i] - 1) / w.stride[i]);
      const int64_t hi = std::min(w.out[i], (in[i] - 1 - shift) / w.stride[i] + 1);
      if (in[i] - 1 - shift < 0 || hi <= lo) {
        empty = true;
        break;
      }
      shape.push_back(hi - lo);
      src.push_back(w.stride[i] * inStrides[i]);
      dst.push_back(outStrides[i] * taps);
      srcOffset += (lo * w.stride[i] + shift) * inStrides[i];
      dstOffset += lo * outStrides[i] * taps;
    }
    if (!empty)
      TESSEL_RETURN_IF_ERROR(
          appendStridedCopy(&r.regions, 0, {srcOffset, src}, {dstOffset, dst}, shape));
    // The tables: each output's flat position of this tap, and how many taps it averages.
    for (int64_t o = 0; o < outputs; ++o) {
      int64_t flat = 0;
      bool inside = true, padded = true;
      for (size_t i = 0; i < dims; ++i) {
        const int64_t at =
            o / outStrides[i] % w.out[i] * w.stride[i] + tap[i] * w.dilation[i] - w.pads[i];
        inside = inside && at >= 0 && at < in[i];
        padded = padded && at >= -w.pads[i] && at < in[i] + w.pads[i + dims] - w.ceilExtra[i];
        flat += at * indexStrides[i];
      }
      position[static_cast<size_t>(o * taps + t)] = flat;
      if (includePad ? padded : inside) count[static_cast<size_t>(o)] += 1.f;
    }
  }
  const int32_t windows = b.temp({DType::F32, {planes, outputs, taps}});
  b.emit(r, {input}, windows);
  Shape outShape{x.shape[0], x.shape[1]};
  outShape.insert(outShape.end(), w.out.begin(), w.out.end());
  const int32_t pooled = b.temp({DType::F32, {planes, outputs}});
  b.emit(ReduceParams{max ? ReduceKind::Max : ReduceKind::Sum, planes * outputs, taps, 1},
         {windows}, pooled);
  int32_t result = pooled;
  if (!max)
    result =
        b.binaryTemp(BinaryKind::Div, pooled, b.constant({DType::F32, {outputs}}, count.data()));
  const int32_t y = b.setOutput(0, {type, outShape});
  if (type == DType::F32) {
    b.view(result, y);
  } else {
    const int32_t shaped = b.temp({DType::F32, outShape});
    b.view(result, shaped);
    b.unary(UnaryKind::Cast, shaped, y);
  }
  if (n.numOutputs < 2) return Status::ok();
  // Indices: the argmax tap's input position, plus the plane's offset (ONNX counts them over
  // the whole tensor).
  const int32_t best = b.temp({DType::I64, {planes * outputs, 1, 1}});
  b.emit(ReduceParams{ReduceKind::ArgMax, planes * outputs, taps, 1}, {windows}, best);
  const int32_t table = b.constant({DType::I64, {outputs, taps}}, position.data());
  const int32_t spread = b.temp({DType::I64, {planes * outputs, taps, 1}});
  RasterParams copies;
  TESSEL_RETURN_IF_ERROR(appendStridedCopy(&copies.regions, 0, {0, {0, taps, 1}},
                                           {0, {outputs * taps, taps, 1}},
                                           {planes, outputs, taps}));
  b.emit(copies, {table}, spread);
  GatherParams g{planes * outputs, taps, 1};
  g.elements = true;
  const int32_t picked = b.temp({DType::I64, {planes, outputs}});
  b.emit(g, {spread, best}, picked);
  std::vector<int64_t> offsets(static_cast<size_t>(planes));
  for (int64_t p = 0; p < planes; ++p)
    offsets[static_cast<size_t>(p)] = p * plane;
  const int32_t base = b.constant({DType::I64, {planes, 1}}, offsets.data());
  const int32_t indices = b.temp({DType::I64, {planes, outputs}});
  b.binary(BinaryKind::Add, picked, base, indices);
  b.view(indices, b.setOutput(1, {DType::I64, outShape}));
  return Status::ok();
}

Status lowerPool(LoweringBuilder& b) {
  const Node& original = b.node();
  if (!original.hasInput(0)) return original.error("missing input");
  if (original.numOutputs > 2 || (original.numOutputs == 2 && original.opType != "MaxPool"))
    return original.error("has too many outputs");
  TensorDesc x = b.desc(b.input(0));
  const DType type = x.dtype;
  // Pooling runs in f32: the half types, and for MaxPool the 8- and 16-bit integers, whose
  // values f32 holds exactly, go there and back.
  const bool max = original.opType == "MaxPool";
  const bool viaF32 =
      dtypeIsHalf(type) ||
      (max && (type == DType::I8 || type == DType::U8 || type == DType::I16 || type == DType::U16));
  int32_t input = b.input(0);
  if (viaF32) {
    input = b.castTemp(input, DType::F32);
    x.dtype = DType::F32;
  }
  // What the 2-D pool primitive cannot express goes through windows.
  TESSEL_ASSIGN_OR_RETURN(std::vector<int64_t> dilations, original.intsAttr("dilations", {}));
  const bool dilated =
      std::any_of(dilations.begin(), dilations.end(), [](int64_t d) { return d != 1; });
  if (x.dtype == DType::F32 && x.rank() >= 3 &&
      (x.rank() > 4 || original.numOutputs == 2 || dilated))
    return poolByWindows(b, input, type);
  // 1-D pooling is 2-D pooling over [N, C, 1, L].
  const bool oneD = x.rank() == 3;
  Node n = original;
  if (oneD) {
    TESSEL_ASSIGN_OR_RETURN(n, asTwoD(original));
    x.shape.insert(x.shape.begin() + 2, 1);
    const int32_t viewed = b.temp(x);
    b.view(input, viewed);
    input = viewed;
  }
  TESSEL_RETURN_IF_ERROR(require4d(n, x));
  if (!n.hasAttr("kernel_shape")) return n.error("missing 'kernel_shape'");
  TESSEL_ASSIGN_OR_RETURN(auto kernel, pair(n, "kernel_shape", {1, 1}));
  TESSEL_ASSIGN_OR_RETURN(int64_t ceilMode, n.intAttr("ceil_mode", 0));
  TESSEL_ASSIGN_OR_RETURN(Window w, window(n, {x.shape[2], x.shape[3]}, kernel, ceilMode != 0));
  if (w.dilation != std::array<int64_t, 2>{1, 1})
    return unsupported(n.label() + ": dilated pooling");
  PoolParams p;
  p.kind = max ? PoolKind::Max : PoolKind::Avg;
  p.kernel = w.kernel;
  p.stride = w.stride;
  p.pads = w.pads;
  TESSEL_ASSIGN_OR_RETURN(int64_t cip, n.intAttr("count_include_pad", 0));
  p.countIncludePad = cip != 0;
  const TensorDesc y{DType::F32, {x.shape[0], x.shape[1], w.out[0], w.out[1]}};
  Shape outShape = y.shape;
  if (oneD) outShape.erase(outShape.begin() + 2);
  const int32_t out = b.setOutput(0, {type, outShape});
  if (!oneD && !viaF32) {
    b.emit(p, {input}, out);
    return Status::ok();
  }
  const int32_t pooled = b.temp(y);
  b.emit(p, {input}, pooled);
  int32_t result = pooled;
  if (oneD) {
    result = b.temp({DType::F32, outShape});
    b.view(pooled, result);
  }
  if (viaF32)
    b.unary(UnaryKind::Cast, result, out);
  else
    b.view(result, out);
  return Status::ok();
}

Status lowerGlobalPool(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("missing input");
  const TensorDesc& x = b.desc(b.input(0));
  if (x.rank() < 3 || x.dtype != DType::F32) return n.error("input must be f32 of rank >= 3");
  Shape outShape = x.shape;
  int64_t extent = 1;
  for (size_t i = 2; i < outShape.size(); ++i) {
    extent *= outShape[i];
    outShape[i] = 1;
  }
  ReduceParams r;
  r.kind = n.opType == "GlobalMaxPool" ? ReduceKind::Max : ReduceKind::Mean;
  r.outer = x.shape[0] * x.shape[1];
  r.extent = extent;
  b.emit(r, {b.input(0)}, b.setOutput(0, {DType::F32, outShape}));
  return Status::ok();
}

Status lowerGemm(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects A and B");
  const TensorDesc& a = b.desc(b.input(0));
  const TensorDesc& bm = b.desc(b.input(1));
  if (a.rank() != 2 || bm.rank() != 2 || a.dtype != DType::F32 || bm.dtype != DType::F32)
    return n.error("A and B must be 2-D f32, got " + a.toString() + " and " + bm.toString());
  TESSEL_ASSIGN_OR_RETURN(int64_t transA, n.intAttr("transA", 0));
  TESSEL_ASSIGN_OR_RETURN(int64_t transB, n.intAttr("transB", 0));
  TESSEL_ASSIGN_OR_RETURN(double alpha, n.floatAttr("alpha", 1.0));
  TESSEL_ASSIGN_OR_RETURN(double beta, n.floatAttr("beta", 1.0));
  MatMulParams p;
  p.m = transA ? a.shape[1] : a.shape[0];
  p.k = transA ? a.shape[0] : a.shape[1];
  p.n = transB ? bm.shape[0] : bm.shape[1];
  if ((transB ? bm.shape[1] : bm.shape[0]) != p.k)
    return n.error("inner dims differ: A " + shapeToString(a.shape) + ", B " +
                   shapeToString(bm.shape));
  p.aStrides = transA ? std::array<int64_t, 3>{0, 1, p.m} : std::array<int64_t, 3>{0, p.k, 1};
  p.bStrides = transB ? std::array<int64_t, 3>{0, 1, p.k} : std::array<int64_t, 3>{0, p.n, 1};
  int32_t lhs = b.input(0);
  if (alpha != 1.0) lhs = b.binaryTemp(BinaryKind::Mul, lhs, b.scalar(DType::F32, alpha));
  std::vector<int32_t> ins = {lhs, b.input(1)};
  const Shape outShape{p.m, p.n};
  if (n.hasInput(2) && beta != 0.0) {
    int32_t c = b.input(2);
    auto bs = broadcastShapes(b.shape(c), outShape);
    if (!bs.isOk() || *bs != outShape)
      return n.error("C does not broadcast to " + shapeToString(outShape));
    if (beta != 1.0) c = b.binaryTemp(BinaryKind::Mul, c, b.scalar(DType::F32, beta));
    Shape cs = broadcastStrides(b.shape(c), outShape);
    p.hasBias = true;
    p.biasStrides = {cs[0], cs[1]};
    ins.push_back(c);
  }
  b.emit(p, ins, b.setOutput(0, {DType::F32, outShape}));
  return Status::ok();
}

Result<int32_t> numpyMatMul(LoweringBuilder& b, int32_t a, int32_t bm, bool asOutput) {
  const Node& n = b.node();
  Shape as = b.shape(a), bs = b.shape(bm);
  const DType type = b.desc(a).dtype;
  if (as.empty() || bs.empty()) return n.error("inputs must have rank >= 1");
  const bool vecA = as.size() == 1, vecB = bs.size() == 1;
  if (vecA) as.insert(as.begin(), 1);
  if (vecB) bs.push_back(1);
  MatMulParams p;
  p.m = as[as.size() - 2];
  p.k = as.back();
  p.n = bs.back();
  if (bs[bs.size() - 2] != p.k)
    return n.error("inner dims differ: " + shapeToString(b.shape(a)) + " x " +
                   shapeToString(b.shape(bm)));
  const Shape aBatch(as.begin(), as.end() - 2), bBatch(bs.begin(), bs.end() - 2);
  auto ob = broadcastShapes(aBatch, bBatch);
  if (!ob.isOk()) return n.error(ob.status().message());
  Shape outBatch = *ob;
  p.batch = 1;
  for (int64_t d : outBatch)
    p.batch *= d;
  auto batchStride = [&](const Shape& batch, int64_t block, int64_t* stride) {
    int64_t count = 1;
    for (int64_t d : batch)
      count *= d;
    if (count == 1) {
      *stride = 0;
      return true;
    }
    Shape padded(outBatch.size() - batch.size(), 1);
    padded.insert(padded.end(), batch.begin(), batch.end());
    *stride = block;
    return padded == outBatch;
  };
  int64_t sa = 0, sb = 0;
  if (!batchStride(aBatch, p.m * p.k, &sa) || !batchStride(bBatch, p.k * p.n, &sb))
    return unsupported(n.label() + ": batch dims that broadcast on both sides");
  p.aStrides = {sa, p.k, 1};
  p.bStrides = {sb, p.n, 1};
  Shape outShape = outBatch;
  if (!vecA) outShape.push_back(p.m);
  if (!vecB) outShape.push_back(p.n);
  const int32_t out = asOutput ? b.setOutput(0, {type, outShape}) : b.temp({type, outShape});
  b.emit(p, {a, bm}, out);
  return out;
}

Status lowerMatMul(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects 2 inputs");
  if (b.desc(b.input(0)).dtype != DType::F32 || b.desc(b.input(1)).dtype != DType::F32)
    return unsupported(n.label() + ": only f32 inputs are supported");
  return numpyMatMul(b, b.input(0), b.input(1), true).status();
}

} // namespace tessel::decompose
