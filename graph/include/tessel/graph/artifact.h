// The artifact's graph table (docs/artifact-format.md, "The graph"): a source graph written into
// a .tsl beside (or instead of) a compiled program, and read back, untrusted, from a loaded one.
#pragma once

#include "tessel/graph/graph.h"

#include <memory>
#include <string>
#include <vector>

namespace tessel::graph {

// An artifact that plans at run time: no program, the source graph with its constants in the
// data section.
std::vector<uint8_t> writeGraphArtifact(const Graph& source, const std::string& producer);

// The graph a loaded artifact carries (null when it has none), checked before use: value ids,
// dtypes and shapes, constants inside the data section with their exact sizes, attribute kinds,
// node inputs defined before they are read, outputs defined. Constants are copied out of the
// file.
Result<std::shared_ptr<const Graph>> artifactGraph(const Program& loaded);

} // namespace tessel::graph
