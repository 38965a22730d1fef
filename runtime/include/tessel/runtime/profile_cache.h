// Measured kernel times kept between processes, for the search (docs/search.md, Profile cache):
// a text file of keys and seconds. A key covers everything a time depends on (the kernel
// library's version, the device, the backend and candidate, the thread count, the primitive and
// its tensors, which inputs are constant), so an entry from another build or device never
// matches and is ignored. The file is untrusted input: parse() accepts only the exact format.
#pragma once

#include "tessel/runtime/backend.h"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tessel {

class ProfileCache {
public:
  static constexpr int64_t kMaxBytes = int64_t{64} << 20;
  static constexpr size_t kMaxEntries = 1 << 20;

  // The file's entries; a missing file is an empty cache; anything else that is not the format
  // (a first line "tessel-profile 1", then lines of a 16-digit hex key, one space and a finite
  // positive number of seconds) is an error naming the line.
  static Result<ProfileCache> load(const std::string& path);
  static Result<ProfileCache> parse(std::string_view text);

  std::optional<double> find(const std::string& key) const;
  void put(const std::string& key, double seconds);
  size_t size() const { return entries_.size(); }
  std::string text() const;
  // Writes the file whole (a temporary beside it, then renamed over it).
  Status save(const std::string& path) const;

private:
  std::map<std::string, double> entries_;
};

// What a key says of the primitive, made once for all its candidates: a 64-bit hash, as 16 hex
// digits, of the primitive with its tensors' descriptions as the artifact writes them (every
// parameter, not the node's name) and of which inputs are constant (`constants`: per input, its
// bytes or null).
std::string primitiveSignature(const Primitive& p, const std::vector<TensorDesc>& tensors,
                               std::span<const void* const> constants);

// The key of one candidate's time: a 64-bit hash, as 16 hex digits, of the kernel library's
// version, the backend's name and device (BackendDescriptor::deviceSignature), the candidate's
// name and choice, the thread count and the primitive's signature.
std::string profileKey(const BackendDescriptor& backend, const std::string& primitiveSignature,
                       const KernelCandidate& candidate, int threads);

// The kernel library's version in the keys: the source revision the build was configured at.
std::string_view kernelLibraryVersion();

} // namespace tessel
