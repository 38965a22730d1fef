// The backend plugin contract. A backend runs primitives on one device; the runtime asks which
// primitives it supports and hands it tensors. Nothing in runtime/ names a specific backend.
#pragma once

#include "tessel/core/primitive.h"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessel {

struct TensorView {
  const TensorDesc* desc;
  void* data;
};

struct ConstTensorView {
  const TensorDesc* desc;
  const void* data;
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Whether run() accepts this primitive (its kind, params and tensor dtypes).
  virtual bool supports(const Primitive& p, const std::vector<TensorDesc>& tensors) const = 0;
  // Roofline estimate in seconds: the search weighs backends with it.
  virtual double estimateSeconds(const Primitive& p, const std::vector<TensorDesc>& tensors) const;
  // Runs one validated primitive. Host memory: device backends copy in and out behind this call
  // until the session learns device buffers.
  virtual Status run(const Primitive& p, std::span<const ConstTensorView> inputs,
                     const TensorView& output) = 0;
};

class BackendRegistry {
public:
  void add(std::unique_ptr<Backend> backend);
  Backend* find(std::string_view name) const;
  const std::vector<std::unique_ptr<Backend>>& all() const { return backends_; }

private:
  std::vector<std::unique_ptr<Backend>> backends_;
};

// Registers every backend compiled into this build (generated from the CMake backend list).
void registerBuiltinBackends(BackendRegistry& registry);

} // namespace tessel
