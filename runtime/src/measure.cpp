#include "tessel/runtime/measure.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

namespace tessel {
namespace {

// Host bytes for a non-constant input: floats in [-1, 1) from a fixed sequence, else zeros.
std::vector<uint8_t> filler(const TensorDesc& d) {
  std::vector<uint8_t> bytes(static_cast<size_t>(d.byteSize()), 0);
  if (d.dtype == DType::F32) {
    uint32_t state = 12345;
    for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
      state = state * 1664525u + 1013904223u;
      const float v = static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
      std::memcpy(&bytes[i], &v, 4);
    }
  }
  return bytes;
}

} // namespace

Result<double> measurePrimitive(Backend& backend, const MeasureRequest& r) {
  const Primitive& p = *r.primitive;
  const std::vector<TensorDesc>& t = *r.tensors;
  if (r.constants.size() != p.inputs.size())
    return invalidArgument("measure: one constant entry per input");
  TESSEL_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, backend.device());
  PrepareArgs args;
  args.primitive = &p;
  args.tensors = &t;
  args.constants = r.constants;
  args.choice = r.choice;
  args.threads = std::max(r.threads, 1);
  args.precision = r.precision;
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<PreparedKernel> kernel, backend.prepare(args, *device));
  TESSEL_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, device->createStream());
  // Every buffer this measurement allocates, released on every path out.
  struct Buffers {
    Device& device;
    std::vector<BufferRef> held;
    ~Buffers() {
      for (const BufferRef& b : held)
        device.release(b);
    }
    Result<BufferRef> make(int64_t bytes) {
      TESSEL_ASSIGN_OR_RETURN(BufferRef b, device.allocate(std::max<int64_t>(bytes, 64)));
      held.push_back(b);
      return b;
    }
  } buffers{*device, {}};
  std::vector<TensorArg> in;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const TensorDesc& d = t[static_cast<size_t>(p.inputs[i])];
    TESSEL_ASSIGN_OR_RETURN(BufferRef b, buffers.make(d.byteSize()));
    if (r.constants[i]) {
      TESSEL_RETURN_IF_ERROR(device->upload(*stream, b, r.constants[i], d.byteSize()));
    } else {
      const std::vector<uint8_t> bytes = filler(d);
      TESSEL_RETURN_IF_ERROR(device->upload(*stream, b, bytes.data(), d.byteSize()));
      TESSEL_RETURN_IF_ERROR(stream->wait()); // the filler goes out of scope
    }
    in.push_back({&d, b});
  }
  const TensorDesc& out = t[static_cast<size_t>(p.outputs[0])];
  TESSEL_ASSIGN_OR_RETURN(BufferRef y, buffers.make(out.byteSize()));
  ExecContext ctx;
  ctx.device = device.get();
  ctx.stream = stream.get();
  ctx.pool = device->threadPool();
  ctx.threads = std::max(r.threads, 1);
  ctx.workspaceBytes = kernel->workspaceBytes(ctx.threads);
  if (ctx.workspaceBytes > 0) {
    TESSEL_ASSIGN_OR_RETURN(ctx.workspace, buffers.make(ctx.workspaceBytes));
  }
  TESSEL_RETURN_IF_ERROR(stream->wait());
  double best = std::numeric_limits<double>::infinity();
  int runs = std::max(r.runs, 1);
  for (int run = 0; run <= runs; ++run) { // run 0 warms
    const auto t0 = std::chrono::steady_clock::now();
    TESSEL_RETURN_IF_ERROR(kernel->run(ctx, in, {&out, y}));
    TESSEL_RETURN_IF_ERROR(stream->wait());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (run > 0) best = std::min(best, s);
    // A slow kernel gets fewer runs (at least two): what `runs` would take past 50 ms.
    if (run == 0 && s * runs > 0.05) runs = std::clamp(static_cast<int>(0.05 / s), 2, runs);
  }
  return best;
}

} // namespace tessel
