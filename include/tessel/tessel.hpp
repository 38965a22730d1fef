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
  // Whether input or output i holds a tensor or a list of them (a sequence or optional).
  tessel_value_kind inputKind(size_t i) const {
    tessel_value_kind kind = TESSEL_VALUE_TENSOR;
    take(tessel_model_input_kind(get(), i, &kind));
    return kind;
  }
  tessel_value_kind outputKind(size_t i) const {
    tessel_value_kind kind = TESSEL_VALUE_TENSOR;
    take(tessel_model_output_kind(get(), i, &kind));
    return kind;
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
  // A sequence or optional input's tensors (shapes[k], bytes at data[k] of sizes[k]); an
  // optional without a value: setInputNoValue.
  Error setInputItems(size_t i, const std::vector<std::vector<int64_t>>& shapes,
                      const std::vector<const void*>& data, const std::vector<size_t>& sizes) {
    std::vector<const int64_t*> dims;
    std::vector<size_t> ranks;
    for (const std::vector<int64_t>& s : shapes) {
      dims.push_back(s.data());
      ranks.push_back(s.size());
    }
    if (data.size() != shapes.size() || sizes.size() != shapes.size())
      return {TESSEL_INVALID_ARGUMENT, "shapes, data and sizes differ in count"};
    return take(tessel_session_set_input_items(session_.get(), i, shapes.size(), dims.data(),
                                               ranks.data(), data.data(), sizes.data()));
  }
  Error setInputNoValue(size_t i) {
    return take(tessel_session_set_input_items(session_.get(), i, TESSEL_NO_VALUE, nullptr, nullptr,
                                               nullptr, nullptr));
  }
  // A sequence or optional output after the last run: its tensor count, and tensor k.
  Error outputItemCount(size_t i, size_t* count) const {
    return take(tessel_session_get_output_item_count(session_.get(), i, count));
  }
  Error outputItem(size_t i, size_t k, const void** data, size_t* size) const {
    return take(tessel_session_get_output_item(session_.get(), i, k, data, size));
  }
  Error outputItemShape(size_t i, size_t k, std::vector<int64_t>* dims) const {
    size_t rank = 0;
    Error e = take(tessel_session_get_output_item_shape(session_.get(), i, k, nullptr, 0, &rank));
    dims->assign(rank, 0);
    if (rank == 0) return e;
    return take(
        tessel_session_get_output_item_shape(session_.get(), i, k, dims->data(), rank, &rank));
  }
  int64_t arenaBytes() const { return tessel_session_arena_bytes(session_.get()); }

private:
  std::unique_ptr<tessel_session, void (*)(tessel_session*)> session_{nullptr,
                                                                      tessel_session_release};
};

} // namespace tessel::api
