#include "tessel/runtime/profile_cache.h"

#include "tessel/runtime/artifact.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef TESSEL_SOURCE_REVISION
#define TESSEL_SOURCE_REVISION "unknown"
#endif

namespace tessel {
namespace {

constexpr std::string_view kHeader = "tessel-profile 1";

uint64_t fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
uint64_t fnv(uint64_t h, std::string_view s) {
  h = fnv(h, s.data(), s.size());
  return fnv(h, "\0", 1); // a separator: "ab"+"c" differs from "a"+"bc"
}

std::string hex(uint64_t h) {
  char key[17];
  std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(h));
  return key;
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

} // namespace

std::string_view kernelLibraryVersion() {
  return TESSEL_SOURCE_REVISION;
}

Result<ProfileCache> ProfileCache::parse(std::string_view text) {
  if (static_cast<int64_t>(text.size()) > kMaxBytes)
    return corrupt("profile cache: larger than " + std::to_string(kMaxBytes) + " bytes");
  ProfileCache cache;
  size_t pos = 0, line = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      return corrupt("profile cache: line " + std::to_string(line + 1) + " has no newline");
    const std::string_view l = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    const std::string where = "profile cache: line " + std::to_string(line);
    if (line == 1) {
      if (l != kHeader) return corrupt(where + ": not \"tessel-profile 1\"");
      continue;
    }
    if (l.size() < 18 || l[16] != ' ')
      return corrupt(where + ": not a 16-digit key, a space and seconds");
    for (size_t i = 0; i < 16; ++i)
      if (!isHex(l[i])) return corrupt(where + ": the key is not lowercase hex");
    const std::string number(l.substr(17));
    if (number.size() > 40) return corrupt(where + ": the seconds are too long");
    char* stop = nullptr;
    errno = 0;
    const double seconds = std::strtod(number.c_str(), &stop);
    if (number.empty() || stop != number.c_str() + number.size() || errno == ERANGE ||
        !std::isfinite(seconds) || seconds <= 0 || number[0] == ' ')
      return corrupt(where + ": the seconds are not a finite positive number");
    if (cache.entries_.size() >= kMaxEntries)
      return corrupt("profile cache: more than " + std::to_string(kMaxEntries) + " entries");
    cache.entries_[std::string(l.substr(0, 16))] = seconds;
  }
  if (line == 0) return corrupt("profile cache: empty (no \"tessel-profile 1\" line)");
  return cache;
}

Result<ProfileCache> ProfileCache::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ProfileCache{};
  if (!std::filesystem::is_regular_file(path, ec))
    return invalidArgument("profile cache '" + path + "': not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return ioError("profile cache '" + path + "': " + ec.message());
  if (static_cast<int64_t>(size) > kMaxBytes)
    return corrupt("profile cache '" + path + "': larger than " + std::to_string(kMaxBytes) +
                   " bytes");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return ioError("profile cache '" + path + "': cannot read");
  auto cache = parse(text.str());
  if (!cache.isOk()) return cache.status().withContext("'" + path + "'");
  return cache;
}

std::optional<double> ProfileCache::find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ProfileCache::put(const std::string& key, double seconds) {
  if (std::isfinite(seconds) && seconds > 0 && entries_.size() < kMaxEntries)
    entries_[key] = seconds;
}

std::string ProfileCache::text() const {
  std::string out(kHeader);
  out += '\n';
  char buf[64];
  for (const auto& [key, seconds] : entries_) {
    std::snprintf(buf, sizeof buf, " %.9g\n", seconds);
    out += key;
    out += buf;
  }
  return out;
}

Status ProfileCache::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::string t = text();
    out.write(t.data(), static_cast<std::streamsize>(t.size()));
    if (!out) return ioError("profile cache '" + path + "': cannot write");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return ioError("profile cache '" + path + "': " + ec.message());
  return Status::ok();
}

std::string primitiveSignature(const Primitive& p, const std::vector<TensorDesc>& tensors,
                               std::span<const void* const> constants) {
  // One program of one primitive over fresh tensor ids, no origin, no constant bytes.
  Program one;
  Primitive q = p;
  q.origin.clear();
  auto add = [&](int32_t id) {
    one.tensors.push_back(
        {"t" + std::to_string(one.tensors.size()), tensors[static_cast<size_t>(id)], nullptr});
    return static_cast<int32_t>(one.tensors.size() - 1);
  };
  for (int32_t& id : q.inputs)
    id = add(id);
  for (int32_t& id : q.outputs)
    id = add(id);
  one.inputs = q.inputs;
  one.outputs = q.outputs;
  one.primitives.push_back(std::move(q));
  const std::vector<uint8_t> bytes = writeArtifact(one, "profile");
  uint64_t h = fnv(1469598103934665603ull, bytes.data(), bytes.size());
  for (const void* c : constants) {
    const uint8_t isConstant = c != nullptr;
    h = fnv(h, &isConstant, 1);
  }
  return hex(h);
}

std::string profileKey(const BackendDescriptor& backend, const std::string& primitiveSignature,
                       const KernelCandidate& candidate, int threads) {
  uint64_t h = 1469598103934665603ull;
  h = fnv(h, kernelLibraryVersion());
  h = fnv(h, backend.name());
  h = fnv(h, backend.deviceSignature());
  h = fnv(h, candidate.name);
  h = fnv(h, &candidate.choice.id, sizeof candidate.choice.id);
  for (int64_t v : candidate.choice.params)
    h = fnv(h, &v, sizeof v);
  h = fnv(h, &threads, sizeof threads);
  h = fnv(h, primitiveSignature);
  return hex(h);
}

} // namespace tessel
