// Splitting fused forms back into plain primitives, for backends that lack them: a conv2d,
// matmul or elementwise primitive with post-ops becomes the primitive without them followed by
// one unary or binary primitive per post-op (on a [outer, channels, inner] view of the result).
#pragma once

#include "tessel/runtime/program.h"

#include <memory>
#include <vector>

namespace tessel {

// A copy of `program` with every primitive i where split[i] is set (and that has post-ops)
// replaced by its plain form (plain-layout results only). Constants and tensor ids of the
// original stay valid.
std::shared_ptr<Program> splitPostOps(const Program& program, const std::vector<bool>& split);

} // namespace tessel
