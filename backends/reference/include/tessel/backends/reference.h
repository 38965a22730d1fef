#pragma once

#include "tessel/runtime/backend.h"

namespace tessel {
void registerReferenceBackend(BackendRegistry& registry);
} // namespace tessel
