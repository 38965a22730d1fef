#pragma once

#include "tessel/runtime/backend.h"

namespace tessel {
void registerNullBackend(BackendRegistry& registry);
} // namespace tessel
