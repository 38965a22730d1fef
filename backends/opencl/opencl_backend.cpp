// The OpenCL backend (a plugin: libtessel_backend_opencl.so). One OpenCL device per process,
// found on first use (a GPU before any other device; PoCL's CPU device here); tensors live in its
// buffers (memory space "opencl"); kernels are OpenCL C (kernels.cl, after the Vulkan shaders'
// element functions: the same arithmetic on both GPU APIs), built by the driver at first use, one
// program per post-op list compiled in, with program binaries cached on disk. A stream is an
// in-order command queue; a session's wait is clFinish. It takes what the Vulkan backend takes
// (backends/gpu/gpu_support.h); the planner gives the rest to a CPU backend and the session
// copies between the spaces.
#include "gpu_support.h"
#include "tessel/runtime/backend.h"

#include <CL/cl.h>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

namespace tessel {
namespace {

constexpr std::string_view kSpace = "opencl";
using gpu::kBindings;

const char kProgramSource[] =
#include "program.cl.inc"
    ;

std::string clError(const std::string& what, cl_int r) {
  return "opencl: " + what + " failed (error " + std::to_string(r) + ")";
}

std::string deviceString(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetDeviceInfo(d, what, n, s.data(), nullptr);
  while (!s.empty() && s.back() == '\0')
    s.pop_back();
  return s;
}

// Where program binaries are kept: $TESSEL_CACHE_DIR, else $XDG_CACHE_HOME/tessel, else
// ~/.cache/tessel; "" when none is known (nothing is cached then).
std::string cacheDirectory() {
  if (const char* d = std::getenv("TESSEL_CACHE_DIR"); d && *d) return std::string(d) + "/opencl";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d)
    return std::string(d) + "/tessel/opencl";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/tessel/opencl";
  return "";
}

uint64_t fnv1a(std::string_view s, uint64_t h = 14695981039346656037ull) {
  for (const unsigned char ch : s)
    h = (h ^ ch) * 1099511628211ull;
  return h;
}

// The process's OpenCL device and its programs.
struct Context {
  cl_device_id device = nullptr;
  cl_context context = nullptr;
  std::string identity; // device, driver and platform versions: what a cached binary is for
  gpu::Limits limits;
  double flopsPerSecond = 0; // nominal, by kind of device (the estimates)
  std::mutex programMutex;
  std::map<std::string, cl_program> programs; // by build options

  Result<cl_program> program(const std::string& defines);
  Result<cl_program> buildFromCache(const std::string& path, const std::string& options);
};

// OpenCL drivers that compile with their own LLVM (PoCL: LLVM 15) crash in a process that
// already has another LLVM loaded globally (the tessel CLI links LLVM 16 for its compiler): the
// driver's LLVM binds to the other's symbols. Loading each installed driver (the ICD loader's
// vendor files) first with RTLD_DEEPBIND makes it, and the libraries it brings, resolve to their
// own symbols; the ICD loader then gets the same, already loaded, library.
void loadDriversDeepBound() {
  std::error_code ec;
  const char* env = std::getenv("OCL_ICD_VENDORS");
  const std::filesystem::path dir = env && *env ? env : "/etc/OpenCL/vendors";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".icd") continue;
    std::ifstream f(entry.path());
    std::string library;
    std::getline(f, library);
    while (!library.empty() && std::isspace(static_cast<unsigned char>(library.back())))
      library.pop_back();
    if (!library.empty()) dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  }
}

Status createContext(Context& c) {
  loadDriversDeepBound();
  cl_uint count = 0;
  if (cl_int r = clGetPlatformIDs(0, nullptr, &count); r != CL_SUCCESS || count == 0)
    return unsupported(clError("clGetPlatformIDs (no OpenCL driver?)", r));
  std::vector<cl_platform_id> platforms(count);
  clGetPlatformIDs(count, platforms.data(), nullptr);
  cl_platform_id platform = nullptr;
  for (const cl_device_type type :
       {cl_device_type{CL_DEVICE_TYPE_GPU}, cl_device_type{CL_DEVICE_TYPE_ALL}}) {
    for (cl_platform_id p : platforms) {
      cl_device_id d = nullptr;
      cl_uint n = 0;
      if (clGetDeviceIDs(p, type, 1, &d, &n) == CL_SUCCESS && n > 0) {
        c.device = d;
        platform = p;
        break;
      }
    }
    if (c.device) break;
  }
  if (!c.device) return unsupported("opencl: no device on " + std::to_string(count) + " platforms");
  cl_int err = CL_SUCCESS;
  c.context = clCreateContext(nullptr, 1, &c.device, nullptr, nullptr, &err);
  if (err != CL_SUCCESS) return unsupported(clError("clCreateContext", err));
  size_t n = 0;
  std::string platformVersion;
  if (clGetPlatformInfo(platform, CL_PLATFORM_VERSION, 0, nullptr, &n) == CL_SUCCESS && n) {
    platformVersion.resize(n);
    clGetPlatformInfo(platform, CL_PLATFORM_VERSION, n, platformVersion.data(), nullptr);
  }
  c.identity = deviceString(c.device, CL_DEVICE_NAME) + "|" +
               deviceString(c.device, CL_DRIVER_VERSION) + "|" + platformVersion;
  cl_ulong maxAlloc = 0;
  clGetDeviceInfo(c.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxAlloc, &maxAlloc, nullptr);
  c.limits.maxTensorBytes = static_cast<int64_t>(std::min<cl_ulong>(maxAlloc, INT64_MAX));
  cl_device_type type = 0;
  cl_bool unified = CL_FALSE;
  clGetDeviceInfo(c.device, CL_DEVICE_TYPE, sizeof type, &type, nullptr);
  clGetDeviceInfo(c.device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, nullptr);
  c.flopsPerSecond = gpu::nominalFlops((type & CL_DEVICE_TYPE_CPU) ? gpu::DeviceKind::Cpu
                                       : unified                   ? gpu::DeviceKind::Integrated
                                                                   : gpu::DeviceKind::Discrete);
  return Status::ok();
}

Result<cl_program> Context::buildFromCache(const std::string& path, const std::string& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ioError("no cached binary");
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.empty()) return ioError("empty cached binary");
  const unsigned char* data = bytes.data();
  const size_t size = bytes.size();
  cl_int status = CL_SUCCESS, err = CL_SUCCESS;
  cl_program p = clCreateProgramWithBinary(context, 1, &device, &size, &data, &status, &err);
  if (err != CL_SUCCESS || status != CL_SUCCESS) {
    if (p) clReleaseProgram(p);
    return ioError("the driver refused the cached binary");
  }
  if (clBuildProgram(p, 1, &device, options.c_str(), nullptr, nullptr) != CL_SUCCESS) {
    clReleaseProgram(p);
    return ioError("the cached binary did not build");
  }
  return p;
}

// The program with `defines` (a post-op list), built on first use: from the binary cached for
// this source, options and device when the driver takes it (a cached file is untrusted: one the
// driver refuses is rebuilt from source and replaced), else from source, then cached.
Result<cl_program> Context::program(const std::string& defines) {
  std::lock_guard<std::mutex> lock(programMutex);
  if (auto it = programs.find(defines); it != programs.end()) return it->second;
  const std::string options = "-cl-std=CL1.2 -cl-single-precision-constant " + defines;
  char key[17];
  std::snprintf(
      key, sizeof key, "%016llx",
      static_cast<unsigned long long>(fnv1a(identity, fnv1a(options, fnv1a(kProgramSource)))));
  const std::string dir = cacheDirectory();
  const std::string path = dir.empty() ? "" : dir + "/" + key + ".bin";
  cl_program p = nullptr;
  if (!path.empty())
    if (auto cached = buildFromCache(path, options); cached.isOk()) p = *cached;
  if (!p) {
    const char* src = kProgramSource;
    cl_int err = CL_SUCCESS;
    p = clCreateProgramWithSource(context, 1, &src, nullptr, &err);
    if (err != CL_SUCCESS) return internalError(clError("clCreateProgramWithSource", err));
    if (cl_int r = clBuildProgram(p, 1, &device, options.c_str(), nullptr, nullptr);
        r != CL_SUCCESS) {
      size_t n = 0;
      clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
      std::string log(n, '\0');
      clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
      clReleaseProgram(p);
      return internalError(clError("building the program", r) + ": " + log.substr(0, 2000));
    }
    size_t size = 0;
    if (!path.empty() &&
        clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr) == CL_SUCCESS &&
        size > 0) {
      std::vector<unsigned char> binary(size);
      unsigned char* out = binary.data();
      if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof out, &out, nullptr) == CL_SUCCESS) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        const std::string tmp = path + ".tmp" + std::to_string(reinterpret_cast<uintptr_t>(p));
        std::ofstream f(tmp, std::ios::binary);
        f.write(reinterpret_cast<const char*>(binary.data()), static_cast<std::streamsize>(size));
        f.close();
        if (f) std::filesystem::rename(tmp, path, ec); // whole or not at all
        if (!f || ec) std::filesystem::remove(tmp, ec);
      }
    }
  }
  programs.emplace(defines, p);
  return p;
}

Result<Context*> context() {
  return gpu::processContext(&createContext);
}

// A buffer of the device; what BufferRef::handle points to in this space.
struct Block {
  cl_mem mem = nullptr;
  int64_t bytes = 0;
};

class OpenClStream final : public Stream {
public:
  OpenClStream(cl_context context, cl_command_queue q) : context_(context), queue_(q) {}
  ~OpenClStream() override {
    clFinish(queue_);
    if (fault_) clReleaseMemObject(fault_);
    clReleaseCommandQueue(queue_);
  }
  cl_command_queue queue() const { return queue_; }

  // The word a kernel raises when its data is bad (a gather's index out of range); asking for
  // it makes the next wait read it back (and clear it).
  Result<cl_mem> faultWord() {
    if (!fault_) {
      cl_int err = CL_SUCCESS;
      uint32_t zero = 0;
      fault_ = clCreateBuffer(context_, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, 4, &zero, &err);
      if (err != CL_SUCCESS) return internalError(clError("clCreateBuffer (fault word)", err));
    }
    checkFault_ = true;
    return fault_;
  }

  Status wait() override {
    if (cl_int r = clFinish(queue_); r != CL_SUCCESS) return internalError(clError("clFinish", r));
    if (!checkFault_) return Status::ok();
    checkFault_ = false;
    uint32_t word = 0;
    const uint32_t zero = 0;
    cl_int r = clEnqueueReadBuffer(queue_, fault_, CL_TRUE, 0, 4, &word, 0, nullptr, nullptr);
    if (r == CL_SUCCESS)
      r = clEnqueueWriteBuffer(queue_, fault_, CL_TRUE, 0, 4, &zero, 0, nullptr, nullptr);
    if (r != CL_SUCCESS) return internalError(clError("reading the fault word", r));
    return word ? invalidArgument("opencl: a gather's index lies outside its axis") : Status::ok();
  }

private:
  cl_context context_;
  cl_command_queue queue_;
  cl_mem fault_ = nullptr;
  bool checkFault_ = false;
};

class OpenClDevice final : public Device {
public:
  explicit OpenClDevice(Context& c) : c_(c) {}
  std::string_view memorySpace() const override { return kSpace; }
  Result<BufferRef> allocate(int64_t bytes) override {
    cl_int err = CL_SUCCESS;
    const auto size = static_cast<size_t>(std::max<int64_t>(bytes, 4));
    cl_mem mem = clCreateBuffer(c_.context, CL_MEM_READ_WRITE, size, nullptr, &err);
    if (err != CL_SUCCESS)
      return resourceExhausted(clError("allocating " + std::to_string(bytes) + " bytes", err));
    return BufferRef{new Block{mem, bytes}, 0};
  }
  void release(BufferRef buffer) override {
    auto* b = static_cast<Block*>(buffer.handle);
    if (!b) return;
    clReleaseMemObject(b->mem);
    delete b;
  }
  Result<std::unique_ptr<Stream>> createStream() override {
    cl_int err = CL_SUCCESS;
    cl_command_queue q = clCreateCommandQueue(c_.context, c_.device, 0, &err);
    if (err != CL_SUCCESS) return internalError(clError("clCreateCommandQueue", err));
    return std::unique_ptr<Stream>(std::make_unique<OpenClStream>(c_.context, q));
  }
  // Uploads complete before they return (the source is the caller's); downloads complete by the
  // stream's wait.
  Status upload(Stream& stream, const BufferRef& dst, const void* src, int64_t bytes) override {
    if (bytes <= 0) return Status::ok();
    const cl_int r = clEnqueueWriteBuffer(
        static_cast<OpenClStream&>(stream).queue(), static_cast<Block*>(dst.handle)->mem, CL_TRUE,
        static_cast<size_t>(dst.offset), static_cast<size_t>(bytes), src, 0, nullptr, nullptr);
    return r == CL_SUCCESS ? Status::ok() : internalError(clError("clEnqueueWriteBuffer", r));
  }
  Status download(Stream& stream, void* dst, const BufferRef& src, int64_t bytes) override {
    if (bytes <= 0) return Status::ok();
    const cl_int r = clEnqueueReadBuffer(
        static_cast<OpenClStream&>(stream).queue(), static_cast<Block*>(src.handle)->mem, CL_FALSE,
        static_cast<size_t>(src.offset), static_cast<size_t>(bytes), dst, 0, nullptr, nullptr);
    return r == CL_SUCCESS ? Status::ok() : internalError(clError("clEnqueueReadBuffer", r));
  }

private:
  Context& c_;
};

// Kernel parameters (kernels.cl's structs, same order): each starts with the eight buffers'
// first elements, filled at run.
struct UnaryP {
  uint32_t off[kBindings], count, kind;
  float alpha, beta;
};
struct BinaryP {
  uint32_t off[kBindings], count, kind, rank, dims[6], aStrides[6], bStrides[6];
};
struct RasterP {
  uint32_t off[kBindings], count, words;
  int32_t srcOffset, dstOffset, srcStride[3], dstStride[3];
  uint32_t size1, size2, fill, fillLo, fillHi;
};
struct ReduceP {
  uint32_t off[kBindings], outer, extent, inner, kind, selectLast;
};
struct MatMulP {
  uint32_t off[kBindings], batch, m, n, k;
  int32_t aStrides[3], bStrides[3], biasStrides[2];
  uint32_t hasBias;
};
struct Conv2dP {
  uint32_t off[kBindings], n, c, h, w, o, oh, ow, groups, cg, og, kh, kw;
  int32_t sh, sw, pt, pl, dh, dw;
  uint32_t hasBias;
};
struct PoolP {
  uint32_t off[kBindings], planes, h, w, oh, ow;
  int32_t kh, kw, sh, sw, pt, pl, pb, pr;
  uint32_t kind, countIncludePad;
};
struct ElementwiseP {
  uint32_t off[kBindings], count, channels, inner;
};
struct GatherP {
  uint32_t off[kBindings], outer, extent, inner, count, words, wide, elements;
};
struct SelectP {
  uint32_t off[kBindings], count, rank, words, dims[4], condStrides[4], lhsStrides[4],
      rhsStrides[4];
  uint32_t condByte; // set at run: input 0's first byte within its word
};

// One enqueue: its parameters' bytes, its work-items, which input is buffer 1 (a raster's
// region reads one source; -1 binds every input in order), and whether buffer 7 is the
// stream's fault word (a gather).
struct Launch {
  std::vector<uint8_t> params;
  int64_t count = 0;
  int source = -1;
  bool fault = false;
  size_t condByteAt = 0; // where the parameters hold input 0's byte within its word (0: none)
};

// Every parameter struct fits this many bytes (checked where a launch is made).
constexpr size_t kMaxParams = 128;

template <typename P> Launch launch(const P& p, int64_t count, int source = -1) {
  static_assert(sizeof(P) <= kMaxParams, "kernel parameters past kMaxParams");
  Launch l;
  l.params.resize(sizeof p);
  std::memcpy(l.params.data(), &p, sizeof p);
  l.count = count;
  l.source = source;
  return l;
}

class ClKernel final : public PreparedKernel {
public:
  ClKernel(cl_kernel k, std::vector<Launch> launches) : k_(k), launches_(std::move(launches)) {}
  ~ClKernel() override { clReleaseKernel(k_); }
  Status run(const ExecContext& ctx, std::span<const TensorArg> inputs,
             const TensorArg& output) const override {
    cl_command_queue q = static_cast<OpenClStream*>(ctx.stream)->queue();
    // Arguments are captured at enqueue: one session at a time sets and enqueues them.
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Launch& l : launches_) {
      if (l.count == 0) continue;
      const TensorArg* bound[kBindings];
      for (auto& b : bound)
        b = &output;
      if (l.source >= 0) {
        bound[1] = &inputs[static_cast<size_t>(l.source)];
      } else {
        for (size_t i = 0; i < inputs.size() && i + 1 < kBindings; ++i)
          bound[i + 1] = &inputs[i];
      }
      // The parameters with this run's offsets (no allocation: they fit kMaxParams).
      uint8_t params[kMaxParams];
      std::memcpy(params, l.params.data(), l.params.size());
      uint32_t off[kBindings];
      cl_mem fault = nullptr;
      if (l.fault) {
        TESSEL_ASSIGN_OR_RETURN(fault, static_cast<OpenClStream*>(ctx.stream)->faultWord());
      }
      for (uint32_t b = 0; b < kBindings; ++b) {
        const bool isFault = l.fault && b == kBindings - 1;
        cl_mem mem = isFault ? fault : static_cast<Block*>(bound[b]->buffer.handle)->mem;
        off[b] = isFault ? 0 : static_cast<uint32_t>(bound[b]->buffer.offset / 4);
        if (cl_int r = clSetKernelArg(k_, b, sizeof mem, &mem); r != CL_SUCCESS)
          return internalError(clError("clSetKernelArg", r));
      }
      std::memcpy(params, off, sizeof off);
      if (l.condByteAt) { // a bool input may start mid-word (a view)
        const auto byte = static_cast<uint32_t>(inputs[0].buffer.offset % 4);
        std::memcpy(params + l.condByteAt, &byte, sizeof byte);
      }
      if (cl_int r = clSetKernelArg(k_, kBindings, l.params.size(), params); r != CL_SUCCESS)
        return internalError(clError("clSetKernelArg (parameters)", r));
      const auto global = static_cast<size_t>(l.count);
      if (cl_int r =
              clEnqueueNDRangeKernel(q, k_, 1, nullptr, &global, nullptr, 0, nullptr, nullptr);
          r != CL_SUCCESS)
        return internalError(clError("clEnqueueNDRangeKernel", r));
    }
    return Status::ok();
  }

private:
  cl_kernel k_;
  std::vector<Launch> launches_;
  mutable std::mutex mutex_;
};

// Build options that compile a post-op list in (kernels.cl: POST_COUNT, POST_CODEi, POST_ALPHAi,
// POST_BETAi; floats as their bits, exactly).
std::string postOpDefines(const PostOps* ops) {
  if (!ops || ops->empty()) return "";
  const std::vector<uint32_t> w = gpu::encodePostOps(*ops);
  std::string d = "-DPOST_COUNT=" + std::to_string(ops->size());
  char buf[96];
  for (size_t i = 0; i < ops->size(); ++i) {
    std::snprintf(buf, sizeof buf, " -DPOST_CODE%zu=%uu -DPOST_ALPHA%zu=as_float(0x%08xu)", i,
                  w[1 + i], i, w[1 + gpu::kMaxPostOps + i]);
    d += buf;
    std::snprintf(buf, sizeof buf, " -DPOST_BETA%zu=as_float(0x%08xu)", i,
                  w[1 + 2 * gpu::kMaxPostOps + i]);
    d += buf;
  }
  return d;
}

// The launches of primitive p (its parameters fixed by the plan's shapes).
std::vector<Launch> launchesOf(const Primitive& p, const std::vector<TensorDesc>& t) {
  const TensorDesc& out = t[p.outputs[0]];
  const auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  const auto i32 = [](int64_t v) { return static_cast<int32_t>(v); };
  switch (p.kind()) {
  case PrimitiveKind::Unary: {
    const auto& u = p.as<UnaryParams>();
    return {launch(UnaryP{{}, u32(out.numel()), u32(static_cast<int>(u.kind)), u.alpha, u.beta},
                   out.numel())};
  }
  case PrimitiveKind::Binary: {
    const auto& b = p.as<BinaryParams>();
    BinaryP k{};
    k.count = u32(out.numel());
    k.kind = static_cast<uint32_t>(b.kind);
    k.rank = u32(static_cast<int64_t>(out.shape.size()));
    for (size_t d = 0; d < out.shape.size(); ++d) {
      k.dims[d] = u32(out.shape[d]);
      k.aStrides[d] = u32(b.lhsStrides[d]);
      k.bStrides[d] = u32(b.rhsStrides[d]);
    }
    return {launch(k, out.numel())};
  }
  case PrimitiveKind::Raster: {
    const auto& r = p.as<RasterParams>();
    const auto words = u32(static_cast<int64_t>(dtypeSize(out.dtype) / 4));
    std::vector<Launch> all;
    if (r.fill) {
      uint32_t value[2] = {0, 0};
      storeDouble(out.dtype, *r.fill, value);
      RasterP k{};
      k.count = u32(out.numel());
      k.words = words;
      k.fill = 1;
      k.fillLo = value[0];
      k.fillHi = value[1];
      all.push_back(launch(k, out.numel(), 0));
    }
    for (const Region& g : r.regions) {
      RasterP k{};
      const int64_t n = g.size[0] * g.size[1] * g.size[2];
      k.count = u32(n);
      k.words = words;
      k.srcOffset = i32(g.src.offset);
      k.dstOffset = i32(g.dst.offset);
      for (int a = 0; a < 3; ++a) {
        k.srcStride[a] = i32(g.src.stride[a]);
        k.dstStride[a] = i32(g.dst.stride[a]);
      }
      k.size1 = u32(g.size[1]);
      k.size2 = u32(g.size[2]);
      all.push_back(launch(k, n, g.source));
    }
    return all;
  }
  case PrimitiveKind::Reduce: {
    const auto& r = p.as<ReduceParams>();
    return {launch(ReduceP{{},
                           u32(r.outer),
                           u32(r.extent),
                           u32(r.inner),
                           static_cast<uint32_t>(r.kind),
                           r.selectLast ? 1u : 0u},
                   r.outer * r.inner)};
  }
  case PrimitiveKind::MatMul: {
    const auto& m = p.as<MatMulParams>();
    MatMulP k{};
    k.batch = u32(m.batch);
    k.m = u32(m.m);
    k.n = u32(m.n);
    k.k = u32(m.k);
    for (int d = 0; d < 3; ++d) {
      k.aStrides[d] = i32(m.aStrides[d]);
      k.bStrides[d] = i32(m.bStrides[d]);
    }
    k.hasBias = m.hasBias ? 1 : 0;
    for (int d = 0; d < 2 && m.hasBias; ++d)
      k.biasStrides[d] = i32(m.biasStrides[d]);
    return {launch(k, m.batch * m.m * m.n)};
  }
  case PrimitiveKind::Conv2d: {
    const auto& c = p.as<Conv2dParams>();
    const Shape& x = t[p.inputs[0]].shape;
    const Shape& w = t[p.inputs[1]].shape;
    Conv2dP k{};
    k.n = u32(x[0]);
    k.c = u32(x[1]);
    k.h = u32(x[2]);
    k.w = u32(x[3]);
    k.o = u32(out.shape[1]);
    k.oh = u32(out.shape[2]);
    k.ow = u32(out.shape[3]);
    k.groups = u32(c.group);
    k.cg = u32(w[1]);
    k.og = k.o / k.groups;
    k.kh = u32(w[2]);
    k.kw = u32(w[3]);
    k.sh = i32(c.stride[0]);
    k.sw = i32(c.stride[1]);
    k.pt = i32(c.pads[0]);
    k.pl = i32(c.pads[1]);
    k.dh = i32(c.dilation[0]);
    k.dw = i32(c.dilation[1]);
    k.hasBias = c.hasBias ? 1 : 0;
    // tessel_conv2d_c4 (kernelName) takes four channels a work-item.
    return {launch(k, k.og % 4 == 0 ? out.numel() / 4 : out.numel())};
  }
  case PrimitiveKind::Pool: {
    const auto& pp = p.as<PoolParams>();
    const Shape& x = t[p.inputs[0]].shape;
    PoolP k{};
    k.planes = u32(x[0] * x[1]);
    k.h = u32(x[2]);
    k.w = u32(x[3]);
    k.oh = u32(out.shape[2]);
    k.ow = u32(out.shape[3]);
    k.kh = i32(pp.kernel[0]);
    k.kw = i32(pp.kernel[1]);
    k.sh = i32(pp.stride[0]);
    k.sw = i32(pp.stride[1]);
    k.pt = i32(pp.pads[0]);
    k.pl = i32(pp.pads[1]);
    k.pb = i32(pp.pads[2]);
    k.pr = i32(pp.pads[3]);
    k.kind = static_cast<uint32_t>(pp.kind);
    k.countIncludePad = pp.countIncludePad ? 1 : 0;
    return {launch(k, out.numel())};
  }
  case PrimitiveKind::Select: {
    const auto& s = p.as<SelectParams>();
    SelectP k{};
    k.count = u32(out.numel());
    k.rank = u32(static_cast<int64_t>(out.shape.size()));
    k.words = u32(static_cast<int64_t>(dtypeSize(out.dtype) / 4));
    for (size_t d = 0; d < out.shape.size(); ++d) {
      k.dims[d] = u32(out.shape[d]);
      k.condStrides[d] = u32(s.condStrides[d]);
      k.lhsStrides[d] = u32(s.lhsStrides[d]);
      k.rhsStrides[d] = u32(s.rhsStrides[d]);
    }
    Launch l = launch(k, out.numel());
    l.condByteAt = offsetof(SelectP, condByte);
    return {l};
  }
  case PrimitiveKind::Gather: {
    const auto& g = p.as<GatherParams>();
    const int64_t rows = g.outer * g.inner;
    GatherP k{};
    k.outer = u32(g.outer);
    k.extent = u32(g.extent);
    k.inner = u32(g.inner);
    k.count = u32(rows > 0 ? out.numel() / rows : 0);
    k.words = u32(static_cast<int64_t>(dtypeSize(out.dtype) / 4));
    k.wide = t[p.inputs[1]].dtype == DType::I64 ? 1 : 0;
    k.elements = g.elements ? 1 : 0;
    Launch l = launch(k, rows > 0 ? out.numel() : 0);
    l.fault = true;
    return {l};
  }
  case PrimitiveKind::Elementwise: {
    const auto& e = p.as<ElementwiseParams>();
    return {launch(ElementwiseP{{},
                                u32(out.numel()),
                                u32(std::max<int64_t>(e.channels, 1)),
                                u32(std::max<int64_t>(e.inner, 1))},
                   out.numel())};
  }
  default: return {};
  }
}

// The kernel that runs p: tessel_<primitive>, or for a conv2d whose groups have a multiple of 4
// output channels the one taking four channels a work-item.
std::string kernelName(const Primitive& p, const std::vector<TensorDesc>& t) {
  if (p.kind() == PrimitiveKind::Conv2d &&
      t[p.inputs[1]].shape[0] / p.as<Conv2dParams>().group % 4 == 0)
    return "tessel_conv2d_c4";
  return "tessel_" + std::string(primitiveName(p.kind()));
}

class OpenClDescriptor final : public BackendDescriptor {
public:
  std::string_view name() const override { return "opencl"; }
  std::string_view memorySpace() const override { return kSpace; }
  std::string deviceSignature() const override {
    auto c = context();
    return c.isOk() ? (*c)->identity : std::string();
  }
  bool supports(const Primitive& p, const std::vector<TensorDesc>& t) const override {
    auto c = context();
    return c.isOk() && gpu::supports(p, t, (*c)->limits);
  }
  double estimateSeconds(const Primitive& p, const std::vector<TensorDesc>& t, const KernelChoice&,
                         int) const override {
    auto c = context();
    return gpu::roughSeconds(
        p, t, c.isOk() ? (*c)->flopsPerSecond : gpu::nominalFlops(gpu::DeviceKind::Discrete));
  }
};

class OpenClBackend final : public Backend {
public:
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  Result<std::shared_ptr<Device>> device() override {
    TESSEL_ASSIGN_OR_RETURN(Context * c, context());
    static std::shared_ptr<Device> device = std::make_shared<OpenClDevice>(*c);
    return device;
  }
  Result<std::unique_ptr<PreparedKernel>> prepare(const PrepareArgs& args, Device&) const override {
    const Primitive& p = *args.primitive;
    if (!descriptor_.supports(p, *args.tensors))
      return unsupported("opencl: primitive not supported");
    TESSEL_ASSIGN_OR_RETURN(Context * c, context());
    TESSEL_ASSIGN_OR_RETURN(cl_program program, c->program(postOpDefines(postOpsOf(p))));
    const std::string name = kernelName(p, *args.tensors);
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(program, name.c_str(), &err);
    if (err != CL_SUCCESS) return internalError(clError("clCreateKernel " + name, err));
    return std::unique_ptr<PreparedKernel>(
        std::make_unique<ClKernel>(k, launchesOf(p, *args.tensors)));
  }

private:
  OpenClDescriptor descriptor_;
};

// Registering costs nothing but loading this library and the ICD loader: the platform, device
// and programs are made the first time the planner or a session asks.
Status registerPlugin(BackendRegistry& registry) {
  registry.add(std::make_unique<OpenClBackend>());
  return Status::ok();
}

} // namespace
} // namespace tessel

TESSEL_BACKEND_PLUGIN(tessel::registerPlugin)
