// The null backend's entry point as a plugin (libtessel_backend_null.so): the runtime calls it
// with each registry it fills. A GPU backend's entry would look for its driver and device here
// and return why not when there is none.
#include "tessel/backends/null.h"

namespace {

tessel::Status registerPlugin(tessel::BackendRegistry& registry) {
  tessel::registerNullBackend(registry);
  return tessel::Status::ok();
}

} // namespace

TESSEL_BACKEND_PLUGIN(registerPlugin)
