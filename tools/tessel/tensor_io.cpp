#include "tensor_io.h"

#include "tessel/frontend/onnx_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace tessel::cli {
namespace {

template <typename T> void appendAs(const void* data, int64_t n, std::vector<double>* out) {
  const T* p = static_cast<const T*>(data);
  for (int64_t i = 0; i < n; ++i)
    out->push_back(static_cast<double>(p[i]));
}

Result<DType> npyDtype(const std::string& descr) {
  if (descr == "<f4") return DType::F32;
  if (descr == "<f8") return DType::F64;
  if (descr == "<i8") return DType::I64;
  if (descr == "<i4") return DType::I32;
  if (descr == "|i1") return DType::I8;
  if (descr == "|u1") return DType::U8;
  if (descr == "|b1") return DType::Bool;
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
  TESSEL_ASSIGN_OR_RETURN(frontend::OnnxTensor t, frontend::readTensorProtoFile(path));
  return HostTensor{t.name, t.desc, *t.bytes};
}

HostTensor randomTensor(const std::string& name, const TensorDesc& desc, uint64_t seed) {
  HostTensor t{name, desc, std::vector<uint8_t>(static_cast<size_t>(desc.byteSize()))};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  const int64_t n = desc.numel();
  if (desc.dtype == DType::F32) {
    auto* p = reinterpret_cast<float*>(t.bytes.data());
    for (int64_t i = 0; i < n; ++i)
      p[i] = uni(rng);
  } // other dtypes stay zero: indices and masks are safer that way
  return t;
}

std::vector<double> toDoubles(const TensorDesc& desc, const void* data) {
  std::vector<double> v;
  const int64_t n = desc.numel();
  v.reserve(static_cast<size_t>(n));
  switch (desc.dtype) {
  case DType::F32: appendAs<float>(data, n, &v); break;
  case DType::F64: appendAs<double>(data, n, &v); break;
  case DType::I64: appendAs<int64_t>(data, n, &v); break;
  case DType::I32: appendAs<int32_t>(data, n, &v); break;
  case DType::I8: appendAs<int8_t>(data, n, &v); break;
  case DType::U8: appendAs<uint8_t>(data, n, &v); break;
  case DType::Bool: appendAs<bool>(data, n, &v); break;
  case DType::Undefined: break;
  }
  return v;
}

std::string summarize(const TensorDesc& desc, const void* data) {
  const std::vector<double> v = toDoubles(desc, data);
  if (v.empty()) return desc.toString() + " (empty)";
  double lo = v[0], hi = v[0], sum = 0;
  size_t arg = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > hi) {
      hi = v[i];
      arg = i;
    }
    lo = std::min(lo, v[i]);
    sum += v[i];
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, " min %.5g max %.5g mean %.5g argmax %zu", lo, hi, sum / v.size(),
                arg);
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
  const std::vector<double> a = toDoubles(desc, actual);
  const std::vector<double> e = toDoubles(expected.desc, expected.bytes.data());
  size_t worst = 0;
  double worstExcess = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(a[i] - e[i]);
    if (!(err <= atol + rtol * std::fabs(e[i]))) { // NaN fails too
      const double excess = std::isnan(err) ? INFINITY : err - atol - rtol * std::fabs(e[i]);
      if (c.ok || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
      c.ok = false;
    }
    c.maxAbsErr = std::max(c.maxAbsErr, err);
    if (std::fabs(e[i]) > atol) c.maxRelErr = std::max(c.maxRelErr, err / std::fabs(e[i]));
  }
  if (!c.ok) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "element %zu is %.6g, reference %.6g", worst, a[worst],
                  e[worst]);
    c.why = buf;
    return c;
  }
  auto isConstant = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [&](double x) { return x == v[0]; });
  };
  if (a.size() > 1 && isConstant(a) && !isConstant(e)) {
    c.ok = false;
    c.why = "output is constant (" + std::to_string(a[0]) + ") but the reference varies";
  }
  return c;
}

} // namespace tessel::cli
