// Plugin backends: shared libraries loaded on first use, so the runtime neither links nor needs
// what they need (a GPU API). See registerBuiltinBackends in tessel/runtime/backend.h.
#include "runtime_directory.h"
#include "tessel/runtime/backend.h"

#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <mutex>

namespace tessel {

std::string runtimeDirectory() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&runtimeDirectory), &info) || !info.dli_fname) return "";
  const std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

namespace {

// A plugin's entry point, or why there is none.
struct Plugin {
  BackendPluginEntry entry = nullptr;
  std::string why;
};

// Each plugin's library is looked for once per process and, once loaded, kept: the backends it
// registers run its code for as long as the process lives.
const Plugin& plugin(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, Plugin, std::less<>> plugins;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = plugins.find(name); it != plugins.end()) return it->second;
  const std::string file = "libtessel_backend_" + std::string(name) + ".so";
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TESSEL_BACKEND_DIR"); env && *env)
    candidates.push_back(std::string(env) + "/" + file);
  if (const std::string dir = runtimeDirectory(); !dir.empty())
    candidates.push_back(dir + "/" + file);
  Plugin p;
  for (const std::string& path : candidates) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* err = dlerror();
      p.why = err ? err : path + " could not be loaded";
      continue;
    }
    p.entry = reinterpret_cast<BackendPluginEntry>(dlsym(handle, "tessel_backend_plugin_v2"));
    p.why = p.entry ? "" : path + " has no entry point tessel_backend_plugin_v2 (another version)";
    break;
  }
  if (candidates.empty()) p.why = file + ": the runtime's directory is unknown";
  return plugins.emplace(std::string(name), std::move(p)).first->second;
}

} // namespace

void loadPluginBackends(BackendRegistry& registry, std::span<const std::string_view> names) {
  for (std::string_view name : names) {
    const Plugin& p = plugin(name);
    if (!p.entry) {
      registry.addUnavailable(std::string(name), p.why);
      continue;
    }
    if (Status st = p.entry(registry); !st.isOk())
      registry.addUnavailable(std::string(name), st.message());
  }
}

} // namespace tessel
