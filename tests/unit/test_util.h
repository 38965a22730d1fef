// Helpers for unit tests: seeded random data, running one primitive on a backend.
#pragma once

#include "tessel/runtime/backend.h"
#include "tessel/runtime/session.h"

#include <random>
#include <vector>

namespace tessel::test {

inline std::vector<float> randomFloats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v)
    x = d(rng);
  return v;
}

// Runs `p` (inputs 0..n-1, output n in `descs`) on `backend`; returns the output's floats.
inline std::vector<float> runOn(Backend& backend, Primitive p, const std::vector<TensorDesc>& descs,
                                const std::vector<std::vector<float>>& inputs) {
  std::vector<const void*> in;
  for (const auto& v : inputs)
    in.push_back(v.data());
  const TensorDesc& outDesc = descs[inputs.size()];
  std::vector<float> out(static_cast<size_t>(outDesc.numel()), -777.f);
  p.inputs.clear();
  for (size_t i = 0; i < inputs.size(); ++i)
    p.inputs.push_back(static_cast<int32_t>(i));
  p.outputs = {static_cast<int32_t>(inputs.size())};
  Status v = validatePrimitive(p, descs);
  if (!v.isOk()) throw std::runtime_error(v.message());
  Status s = runPrimitiveOnHost(backend, p, descs, in, out.data());
  if (!s.isOk()) throw std::runtime_error(s.message());
  return out;
}

// As runOn, for any backend of `registry` (device backends included): the primitive alone in a
// program whose inputs are the given tensors, in a session that prefers the backend named.
inline std::vector<float> runOnNamed(const BackendRegistry& registry, const std::string& name,
                                     Primitive p, const std::vector<TensorDesc>& descs,
                                     const std::vector<std::vector<float>>& inputs) {
  auto prog = std::make_shared<Program>();
  for (size_t i = 0; i < descs.size(); ++i)
    prog->tensors.push_back({"t" + std::to_string(i), descs[i], nullptr});
  p.inputs.clear();
  for (size_t i = 0; i < inputs.size(); ++i) {
    p.inputs.push_back(static_cast<int32_t>(i));
    prog->inputs.push_back(static_cast<int32_t>(i));
  }
  p.outputs = {static_cast<int32_t>(inputs.size())};
  prog->outputs = p.outputs;
  prog->primitives = {std::move(p)};
  if (Status v = validateProgram(*prog); !v.isOk()) throw std::runtime_error(v.message());
  SessionOptions opts;
  opts.backend = name;
  auto s = Session::create(prog, registry, opts);
  if (!s.isOk()) throw std::runtime_error(s.status().message());
  if ((*s)->backendOf(0)->name() != name) throw std::runtime_error(name + " did not take it");
  Status st = Status::ok();
  for (size_t i = 0; i < inputs.size() && st.isOk(); ++i)
    st = (*s)->setInput(i, inputs[i].data(), inputs[i].size() * sizeof(float));
  if (st.isOk()) st = (*s)->run();
  if (!st.isOk()) throw std::runtime_error(st.message());
  const auto* out = static_cast<const float*>((*s)->outputData(0));
  return {out, out + descs[inputs.size()].numel()};
}

// Runs `prog` in a session over `registry`'s backends with input 0 = x; every output's floats.
inline std::vector<std::vector<float>> runProgram(std::shared_ptr<const Program> prog,
                                                  const BackendRegistry& registry,
                                                  const std::vector<float>& x) {
  auto s = Session::create(prog, registry);
  if (!s.isOk()) throw std::runtime_error(s.status().message());
  Status st = (*s)->setInput(0, x.data(), x.size() * sizeof(float));
  if (st.isOk()) st = (*s)->run();
  if (!st.isOk()) throw std::runtime_error(st.message());
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < prog->outputs.size(); ++i) {
    const auto* p = static_cast<const float*>((*s)->outputData(i));
    outs.emplace_back(p, p + prog->tensors[prog->outputs[i]].desc.numel());
  }
  return outs;
}

// Output extent of a window op (conv, pool) along one axis, written out apart from the code
// under test: input `in`, kernel k, stride s, dilation d, pads pb and pe.
inline int64_t windowOut(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  const int64_t span = (k - 1) * d + 1;
  return in + pb + pe < span ? 0 : (in + pb + pe - span) / s + 1;
}

inline Backend& backendNamed(const char* name) {
  static BackendRegistry registry = [] {
    BackendRegistry r;
    registerBuiltinBackends(r);
    return r;
  }();
  Backend* b = registry.find(name);
  if (!b) throw std::runtime_error(std::string("no backend ") + name);
  return *b;
}

} // namespace tessel::test
