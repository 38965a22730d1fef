#include "tensor_io.h"

#include "tessel/frontend/onnx_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace tessel::cli {
namespace {

Result<DType> npyDtype(const std::string& descr) {
  if (descr == "<f4") return DType::F32;
  if (descr == "<f8") return DType::F64;
  if (descr == "<i8") return DType::I64;
  if (descr == "<i4") return DType::I32;
  if (descr == "|i1") return DType::I8;
  if (descr == "|u1") return DType::U8;
  if (descr == "|b1") return DType::Bool;
  if (descr == "<f2") return DType::F16;
  if (descr == "<i2") return DType::I16;
  if (descr == "<u2") return DType::U16;
  if (descr == "<u4") return DType::U32;
  if (descr == "<u8") return DType::U64;
  return unsupported("npy dtype '" + descr + "'");
}

// Value of `key` in the npy header dict, e.g. 'descr': '<f4' -> <f4; 'shape': (1, 3) -> 1, 3
std::string headerField(const std::string& header, const std::string& key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return {};
  at = header.find(':', at);
  if (at == std::string::npos) return {};
  size_t start = header.find_first_not_of(" '(", at + 1);
  size_t end = header.find_first_of(key == "shape" ? ")" : "',", start);
  if (start == std::string::npos || end == std::string::npos) return {};
  return header.substr(start, end - start);
}

Result<HostTensor> readNpy(const std::string& path, const std::vector<uint8_t>& file) {
  if (file.size() < 10 || std::memcmp(file.data(), "\x93NUMPY", 6) != 0)
    return corrupt("'" + path + "' is not a .npy file");
  const int major = file[6];
  size_t headerLen = 0, offset = 0;
  if (major == 1) {
    headerLen = file[8] | (file[9] << 8);
    offset = 10;
  } else {
    if (file.size() < 12) return corrupt("'" + path + "' is truncated");
    headerLen = file[8] | (file[9] << 8) | (file[10] << 16) | (size_t(file[11]) << 24);
    offset = 12;
  }
  if (offset + headerLen > file.size()) return corrupt("'" + path + "' has a truncated header");
  const std::string header(file.begin() + offset, file.begin() + offset + headerLen);
  if (headerField(header, "fortran_order").rfind("True", 0) == 0)
    return unsupported("'" + path + "' is in Fortran order");
  HostTensor t;
  TESSEL_ASSIGN_OR_RETURN(t.desc.dtype, npyDtype(headerField(header, "descr")));
  std::string shape = headerField(header, "shape");
  size_t pos = 0;
  while (pos < shape.size()) {
    size_t next = shape.find(',', pos);
    std::string item =
        shape.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (!item.empty()) {
      char* end = nullptr;
      long long v = std::strtoll(item.c_str(), &end, 10);
      if (*end != '\0' || v < 0) return corrupt("'" + path + "' has a bad shape");
      t.desc.shape.push_back(v);
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  auto count = elementCount(t.desc.shape);
  if (!count.isOk()) return count.status().withContext(path);
  const size_t want = static_cast<size_t>(t.desc.byteSize());
  if (file.size() - offset - headerLen != want)
    return corrupt("'" + path + "' holds " + std::to_string(file.size() - offset - headerLen) +
                   " data bytes, its shape needs " + std::to_string(want));
  t.bytes.assign(file.begin() + offset + headerLen, file.end());
  return t;
}

} // namespace

Result<HostTensor> readTensorFile(const std::string& path) {
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".npy") == 0) {
    TESSEL_ASSIGN_OR_RETURN(std::vector<uint8_t> file, frontend::readFileBytes(path));
    return readNpy(path, file);
  }
  TESSEL_ASSIGN_OR_RETURN(frontend::OnnxValueFile v, frontend::readValueProtoFile(path));
  HostTensor h;
  h.name = v.tensor.name;
  if (!v.list) {
    h.desc = v.tensor.desc;
    h.bytes = *v.tensor.bytes;
    return h;
  }
  h.list = true;
  h.present = v.present;
  for (const frontend::OnnxTensor& t : v.items)
    h.items.push_back(HostTensor{t.name, t.desc, *t.bytes});
  return h;
}

void fillRandom(const TensorDesc& desc, void* data, uint64_t seed) {
  std::memset(data, 0, static_cast<size_t>(desc.byteSize())); // other dtypes stay zero: indices
  if (desc.dtype != DType::F32) return;                       // and masks are safer that way
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  auto* p = static_cast<float*>(data);
  const int64_t n = desc.numel();
  for (int64_t i = 0; i < n; ++i)
    p[i] = uni(rng);
}

double valueAt(const TensorDesc& desc, const void* data, int64_t i) {
  const auto elem = static_cast<int64_t>(dtypeSize(desc.dtype)); // any nonzero bool reads true
  return loadAsDouble(desc.dtype, static_cast<const uint8_t*>(data) + i * elem);
}

std::string summarize(const TensorDesc& desc, const void* data) {
  // Element by element: no copy of the tensor (it may be most of the memory there is).
  const int64_t n = desc.numel();
  if (n == 0) return desc.toString() + " (empty)";
  double lo = valueAt(desc, data, 0), hi = lo, sum = 0;
  int64_t arg = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = valueAt(desc, data, i);
    if (v > hi) {
      hi = v;
      arg = i;
    }
    lo = std::min(lo, v);
    sum += v;
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, " min %.5g max %.5g mean %.5g argmax %lld", lo, hi,
                sum / static_cast<double>(n), static_cast<long long>(arg));
  return desc.toString() + buf;
}

Comparison compareTensors(const TensorDesc& desc, const void* actual, const HostTensor& expected,
                          double rtol, double atol) {
  Comparison c;
  if (desc.shape != expected.desc.shape) {
    c.ok = false;
    c.why = "shape " + shapeToString(desc.shape) + " differs from the reference " +
            shapeToString(expected.desc.shape);
    return c;
  }
  const int64_t n = desc.numel();
  const void* ref = expected.bytes.data();
  const auto a = [&](int64_t i) { return valueAt(desc, actual, i); };
  const auto e = [&](int64_t i) { return valueAt(expected.desc, ref, i); };
  int64_t worst = 0;
  double worstExcess = 0;
  bool aConstant = true, eConstant = true;
  for (int64_t i = 0; i < n; ++i) {
    const double ai = a(i), ei = e(i);
    // NaN where the reference has NaN, and infinities of its sign, agree (numpy's allclose, as
    // ONNX's backend runner compares); any other NaN fails.
    const bool same = ai == ei || (std::isnan(ai) && std::isnan(ei));
    const double err = same ? 0.0 : std::fabs(ai - ei);
    if (!(err <= atol + rtol * std::fabs(ei)) && !same) {
      const double excess = std::isnan(err) ? INFINITY : err - atol - rtol * std::fabs(ei);
      if (c.ok || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
      c.ok = false;
    }
    c.maxAbsErr = std::max(c.maxAbsErr, err);
    if (std::fabs(ei) > atol) c.maxRelErr = std::max(c.maxRelErr, err / std::fabs(ei));
    aConstant = aConstant && ai == a(0);
    eConstant = eConstant && ei == e(0);
  }
  if (!c.ok) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "element %lld is %.6g, reference %.6g",
                  static_cast<long long>(worst), a(worst), e(worst));
    c.why = buf;
    return c;
  }
  if (n > 1 && aConstant && !eConstant) {
    c.ok = false;
    c.why = "output is constant (" + std::to_string(a(0)) + ") but the reference varies";
  }
  return c;
}

} // namespace tessel::cli
