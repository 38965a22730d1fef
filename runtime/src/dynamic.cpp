#include "tessel/runtime/dynamic.h"

#include "runtime_directory.h"

#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <string>

namespace tessel {
namespace {

std::atomic<DynamicModelFactory>& factorySlot() {
  static std::atomic<DynamicModelFactory> slot{nullptr};
  return slot;
}

// Loads libtessel_graph once (its initializer registers the factory); the error of the last
// attempt otherwise.
Status loadGraphLibrary() {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (factorySlot().load()) return Status::ok();
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TESSEL_GRAPH_LIBRARY"); env && *env) candidates.push_back(env);
  if (const std::string dir = runtimeDirectory(); !dir.empty())
    candidates.push_back(dir + "/libtessel_graph.so");
  candidates.push_back("libtessel_graph.so");
  std::string why;
  for (const std::string& c : candidates) {
    // Kept loaded for the process: the factory and every model it made live in it.
    if (dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL) && factorySlot().load()) return Status::ok();
    const char* err = dlerror();
    why = err ? err : c + " registered no dynamic model factory";
  }
  return unsupported("the model plans at run time and needs libtessel_graph.so, which could not "
                     "be loaded (" +
                     why + ")");
}

} // namespace

void registerDynamicModelFactory(DynamicModelFactory factory) {
  factorySlot().store(factory);
}

Result<std::unique_ptr<DynamicModel>> openDynamicModel(std::shared_ptr<const Program> program) {
  if (!program || !program->plansAtRunTime)
    return invalidArgument("the model does not plan at run time");
  TESSEL_RETURN_IF_ERROR(loadGraphLibrary());
  return factorySlot().load()(std::move(program));
}

} // namespace tessel
