// ONNX file -> artifact bytes: the convert pipeline shared by `convert`, `run`, `check`, `bench`.
#pragma once

#include "tessel/frontend/graph.h"
#include "tessel/runtime/program.h"

#include <string>
#include <vector>

namespace tessel::cli {

struct ConvertOptions {
  frontend::ShapeOverrides shapes;
  std::vector<std::string> backends; // plan: first that supports each primitive; empty = all
  bool costModel = false;            // plan: search::planModel over them instead (--search model)
  std::string target = "host";       // the plan's target (--target)
  int threads = 1;                   // the thread count the estimates are for (--threads)
  std::string profile;               // kernels' fits from a device's profile cache (--profile)
  int64_t weightBudget = 0;          // the bytes of weights the kernels may keep (--weight-budget)
  int64_t memoryBudget = 0;          // the bytes of weights plus arenas (--memory-budget)
  std::string dumpMlirAfter;         // "import" or "lower": print the module to stderr
};

Result<std::vector<uint8_t>> convertOnnxFile(const std::string& path,
                                             const ConvertOptions& options);

// Loads a .tsl, or converts an .onnx in memory and loads the artifact it gives.
Result<std::shared_ptr<const Program>> loadModel(const std::string& path,
                                                 const ConvertOptions& options);

} // namespace tessel::cli
