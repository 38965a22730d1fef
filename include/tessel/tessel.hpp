// Thin C++ wrapper over tessel.h: RAII handles, errors as tessel::Error values (no exceptions).
#pragma once

#include "tessel/tessel.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tessel::api {

struct Error {
  tessel_status_code code = TESSEL_OK;
  std::string message;
  explicit operator bool() const { return code != TESSEL_OK; }
};

inline Error take(tessel_status s) {
  if (!s) return {};
  Error e{tessel_status_get_code(s), tessel_status_get_message(s)};
  tessel_status_free(s);
  return e;
}

class Model {
public:
  static Error load(const std::string& path, Model* out) {
    tessel_model* m = nullptr;
    Error e = take(tessel_model_load_file(path.c_str(), &m));
    if (!e) out->model_.reset(m);
    return e;
  }
  const tessel_model* get() const { return model_.get(); }
  size_t inputCount() const { return tessel_model_input_count(get()); }
  size_t outputCount() const { return tessel_model_output_count(get()); }
  tessel_tensor_info input(size_t i) const {
    tessel_tensor_info info{};
    take(tessel_model_input_info(get(), i, &info));
    return info;
  }
  tessel_tensor_info output(size_t i) const {
    tessel_tensor_info info{};
    take(tessel_model_output_info(get(), i, &info));
    return info;
  }

private:
  std::unique_ptr<tessel_model, void (*)(tessel_model*)> model_{nullptr, tessel_model_release};
};

class Session {
public:
  static Error create(const Model& model, const std::string& backend, Session* out,
                      int32_t threads = 0) {
    tessel_session_options opts;
    tessel_session_options_init(&opts);
    opts.backend = backend.c_str();
    opts.threads = threads;
    tessel_session* s = nullptr;
    Error e = take(tessel_session_create(model.get(), &opts, &s));
    if (!e) out->session_.reset(s);
    return e;
  }
  Error setInputShape(size_t i, const std::vector<int64_t>& dims) {
    return take(tessel_session_set_input_shape(session_.get(), i, dims.data(), dims.size()));
  }
  Error setInput(size_t i, const void* data, size_t size) {
    return take(tessel_session_set_input(session_.get(), i, data, size));
  }
  Error run() { return take(tessel_session_run(session_.get())); }
  Error output(size_t i, const void** data, size_t* size) const {
    return take(tessel_session_get_output(session_.get(), i, data, size));
  }
  // Output i's shape after the last run.
  Error outputShape(size_t i, std::vector<int64_t>* dims) const {
    size_t rank = 0;
    Error e = take(tessel_session_get_output_shape(session_.get(), i, nullptr, 0, &rank));
    dims->assign(rank, 0);
    if (rank == 0) return e;
    return take(tessel_session_get_output_shape(session_.get(), i, dims->data(), rank, &rank));
  }
  int64_t arenaBytes() const { return tessel_session_arena_bytes(session_.get()); }

private:
  std::unique_ptr<tessel_session, void (*)(tessel_session*)> session_{nullptr,
                                                                      tessel_session_release};
};

} // namespace tessel::api
