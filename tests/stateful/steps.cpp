// Runs a stateful case from export_models.py through the C API for all its steps on one session,
// feeding each step's state outputs back as the next step's state inputs (zeros at step 0), and
// compares every output at every step with onnxruntime's (ort_steps.js), rtol 1e-4, atol 1e-5.
// Prints one line per case. Usage: stateful_steps MODEL.tsl CASE_DIR
#include "tessel/tessel.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Input {
  bool state = false;
  std::string name, type, from;
  std::vector<int64_t> dims;
  size_t index = 0;
};

bool ok(tessel_status s, const std::string& what) {
  if (!s) return true;
  std::fprintf(stderr, "%s: %s\n", what.c_str(), tessel_status_get_message(s));
  tessel_status_free(s);
  return false;
}

std::vector<char> readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const std::string dir = argv[2];
  std::ifstream spec(dir + "/spec.txt");
  int steps = 0;
  std::vector<Input> inputs;
  std::vector<std::string> outputs;
  for (std::string line; std::getline(spec, line);) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "steps") {
      words >> steps;
    } else if (kind == "output") {
      outputs.emplace_back();
      words >> outputs.back();
    } else if (kind == "input" || kind == "state") {
      Input in;
      in.state = kind == "state";
      words >> in.name >> in.type;
      std::vector<std::string> rest;
      for (std::string w; words >> w;)
        rest.push_back(w);
      if (in.state) {
        in.from = rest.back();
        rest.pop_back();
      }
      for (const std::string& d : rest)
        in.dims.push_back(std::stoll(d));
      inputs.push_back(in);
    }
  }
  tessel_model* model = nullptr;
  if (!ok(tessel_model_load_file(argv[1], &model), "load")) return 1;
  std::map<std::string, size_t> inputIndex, outputIndex;
  for (size_t i = 0; i < tessel_model_input_count(model); ++i) {
    tessel_tensor_info info;
    if (!ok(tessel_model_input_info(model, i, &info), "input info")) return 1;
    inputIndex[info.name] = i;
  }
  for (size_t i = 0; i < tessel_model_output_count(model); ++i) {
    tessel_tensor_info info;
    if (!ok(tessel_model_output_info(model, i, &info), "output info")) return 1;
    outputIndex[info.name] = i;
  }
  for (Input& in : inputs) {
    if (!inputIndex.count(in.name)) {
      std::fprintf(stderr, "the model has no input '%s'\n", in.name.c_str());
      return 1;
    }
    in.index = inputIndex[in.name];
  }
  tessel_session_options options;
  tessel_session_options_init(&options);
  options.threads = 1;
  tessel_session* session = nullptr;
  if (!ok(tessel_session_create(model, &options, &session), "session")) return 1;
  std::map<std::string, std::vector<char>> previous; // outputs of the last step, by name
  double worst = 0;
  for (int t = 0; t < steps; ++t) {
    for (const Input& in : inputs) {
      size_t count = 1;
      for (int64_t d : in.dims)
        count *= static_cast<size_t>(d);
      const size_t elem = in.type == "i64" ? 8 : 4;
      std::vector<char> data(count * elem, 0);
      if (in.state && t > 0)
        data = previous[in.from];
      else if (!in.state)
        data = readFile(dir + "/step_" + std::to_string(t) + "_" + in.name + ".bin");
      if (!ok(tessel_session_set_input_shape(session, in.index, in.dims.data(), in.dims.size()),
              "shape of " + in.name) ||
          !ok(tessel_session_set_input(session, in.index, data.data(), data.size()),
              "input " + in.name))
        return 1;
    }
    if (!ok(tessel_session_run(session), "step " + std::to_string(t))) return 1;
    for (const std::string& name : outputs) {
      const void* data = nullptr;
      size_t size = 0;
      if (!outputIndex.count(name) ||
          !ok(tessel_session_get_output(session, outputIndex[name], &data, &size),
              "output " + name))
        return 1;
      const std::vector<char> expected =
          readFile(dir + "/ort_" + std::to_string(t) + "_" + name + ".bin");
      if (expected.size() != size) {
        std::fprintf(stderr, "step %d output '%s': %zu bytes, onnxruntime's %zu\n", t, name.c_str(),
                     size, expected.size());
        return 1;
      }
      const auto* a = static_cast<const float*>(data);
      const auto* e = reinterpret_cast<const float*>(expected.data());
      for (size_t i = 0; i < size / 4; ++i) {
        const double err = std::fabs(double(a[i]) - double(e[i]));
        worst = std::max(worst, err);
        if (!(err <= 1e-5 + 1e-4 * std::fabs(double(e[i])))) {
          std::fprintf(stderr, "step %d output '%s' element %zu: %g, onnxruntime %g\n", t,
                       name.c_str(), i, double(a[i]), double(e[i]));
          return 1;
        }
      }
      previous[name].assign(static_cast<const char*>(data), static_cast<const char*>(data) + size);
    }
  }
  std::printf("%s: %d steps match onnxruntime (max abs err %.3g)\n", dir.c_str(), steps, worst);
  tessel_session_release(session);
  tessel_model_release(model);
  return 0;
}
