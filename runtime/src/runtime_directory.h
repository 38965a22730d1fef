// The directory libtessel_runtime.so was loaded from ("" when unknown): where the libraries it
// loads when needed lie beside it (libtessel_graph, the plugin backends).
#pragma once

#include <string>

namespace tessel {
std::string runtimeDirectory();
} // namespace tessel
