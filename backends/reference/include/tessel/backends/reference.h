#pragma once

#include "tessel/runtime/backend.h"

// The backend's sources are compiled with hidden visibility: only this function is exported.
#pragma GCC visibility push(default)
namespace tessel {
void registerReferenceBackend(BackendRegistry& registry);
} // namespace tessel
#pragma GCC visibility pop
