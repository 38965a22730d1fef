#include "tessel/runtime/profile_cache.h"

#include "tessel/runtime/artifact.h"
#include "tessel/search/plan_model.h"

#include <algorithm>
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

constexpr std::string_view kHeader = "tessel-profile 7", kHeaderV6 = "tessel-profile 6",
                           kHeaderV5 = "tessel-profile 5", kHeaderV4 = "tessel-profile 4",
                           kHeaderV3 = "tessel-profile 3", kHeaderV2 = "tessel-profile 2",
                           kHeaderV1 = "tessel-profile 1";

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

bool isKey(std::string_view s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), isHex);
}

bool isName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A finite positive number, as strtod reads it whole (at most 40 characters, no leading space).
bool positive(std::string_view text, double* value) {
  if (text.empty() || text.size() > 40 || text[0] == ' ') return false;
  const std::string number(text);
  char* stop = nullptr;
  errno = 0;
  *value = std::strtod(number.c_str(), &stop);
  return stop == number.c_str() + number.size() && errno != ERANGE && std::isfinite(*value) &&
         *value > 0;
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
  bool fitted = false;   // version 2 on: times may name their kernel
  bool sessions = false; // version 3 on: session times
  bool classes = false;  // version 4 on: a session time may name its class; transfers
  bool reads = false;    // version 5 on: memory read rates
  bool chains = false;   // version 6 on: chains timed in sessions
  bool pairs = false;    // version 7: kernels timed against each other in sessions
  std::vector<std::string_view> fields;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      return corrupt("profile cache: line " + std::to_string(line + 1) + " has no newline");
    const std::string_view l = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    const std::string where = "profile cache: line " + std::to_string(line);
    if (line == 1) {
      constexpr std::string_view headers[] = {kHeaderV1, kHeaderV2, kHeaderV3, kHeaderV4,
                                              kHeaderV5, kHeaderV6, kHeader};
      const auto* h = std::find(std::begin(headers), std::end(headers), l);
      if (h == std::end(headers))
        return corrupt(where + ": not \"tessel-profile 7\" (or 6, 5, 4, 3, 2, 1)");
      const auto version = h - std::begin(headers) + 1;
      fitted = version >= 2;
      sessions = version >= 3;
      classes = version >= 4;
      reads = version >= 5;
      chains = version >= 6;
      pairs = version >= 7;
      continue;
    }
    fields.clear();
    for (size_t from = 0;;) {
      const size_t space = l.find(' ', from);
      fields.push_back(l.substr(from, space == std::string_view::npos ? l.npos : space - from));
      if (space == std::string_view::npos || fields.size() > 5) break;
      from = space + 1;
    }
    if (fitted && fields.size() == 3 && fields[0] == "device") {
      if (!isName(fields[1])) return corrupt(where + ": the backend is not a name");
      if (!isKey(fields[2])) return corrupt(where + ": the device is not a 16-digit hex key");
      if (cache.devices_.size() >= kMaxDevices)
        return corrupt(where + ": more than " + std::to_string(kMaxDevices) + " devices");
      cache.devices_[std::string(fields[1])] = std::string(fields[2]);
      continue;
    }
    if (classes && fields.size() == 4 && fields[0] == "transfer") {
      if (!isKey(fields[1])) return corrupt(where + ": the device is not a 16-digit hex key");
      Transfer t;
      if (!positive(fields[2], &t.latencySeconds) || !positive(fields[3], &t.bytesPerSecond))
        return corrupt(where + ": a transfer's seconds and bytes a second are not finite "
                               "positive numbers");
      if (cache.transfers_.size() >= kMaxDevices && !cache.transfers_.count(std::string(fields[1])))
        return corrupt(where + ": more than " + std::to_string(kMaxDevices) + " transfers");
      cache.transfers_[std::string(fields[1])] = t;
      continue;
    }
    if (reads && fields.size() == 4 && fields[0] == "memory") {
      if (!isKey(fields[1])) return corrupt(where + ": the device is not a 16-digit hex key");
      double threads = 0, rate = 0;
      if (!positive(fields[2], &threads) || threads != std::floor(threads) ||
          threads > kMaxReadThreads || fields[2].find_first_not_of("0123456789") != fields[2].npos)
        return corrupt(where + ": the thread count is not a whole number from 1 to " +
                       std::to_string(kMaxReadThreads));
      if (!positive(fields[3], &rate))
        return corrupt(where + ": the bytes a second are not a finite positive number");
      const std::pair<std::string, int> key{std::string(fields[1]), static_cast<int>(threads)};
      if (cache.readRates_.size() >= kMaxDevices && !cache.readRates_.count(key))
        return corrupt(where + ": more than " + std::to_string(kMaxDevices) + " read rates");
      cache.readRates_[key] = rate;
      continue;
    }
    if ((chains && fields.size() == 4 && fields[0] == "chain") ||
        (pairs && fields.size() == 4 && fields[0] == "kernels")) {
      if (!isKey(fields[1])) return corrupt(where + ": the key is not 16 lowercase hex digits");
      const bool chain = fields[0] == "chain";
      SessionPair c;
      if (!positive(fields[2], &c.first) || !positive(fields[3], &c.second))
        return corrupt(
            where +
            (chain ? ": a chain's fused and unfused seconds" : ": the two kernels' seconds") +
            " are not finite positive numbers");
      std::map<std::string, SessionPair>& to = chain ? cache.chains_ : cache.kernelPairs_;
      if (to.size() >= kMaxEntries && !to.count(std::string(fields[1])))
        return corrupt("profile cache: more than " + std::to_string(kMaxEntries) +
                       (chain ? " chains" : " kernel pairs"));
      to[std::string(fields[1])] = c;
      continue;
    }
    if (sessions && (fields.size() == 3 || (classes && fields.size() == 4)) &&
        fields[0] == "session") {
      if (!isKey(fields[1])) return corrupt(where + ": the key is not 16 lowercase hex digits");
      auto it = cache.entries_.find(std::string(fields[1]));
      if (it == cache.entries_.end())
        return corrupt(where + ": a session time for a key with no time before it");
      if (!positive(fields[2], &it->second.session))
        return corrupt(where + ": the seconds are not a finite positive number");
      if (fields.size() == 4) {
        if (!isKey(fields[3])) return corrupt(where + ": the class is not 16 lowercase hex digits");
        it->second.sessionClass = std::string(fields[3]);
      }
      continue;
    }
    if (fields.size() != 2 && !(fitted && fields.size() == 5))
      return corrupt(where + (fitted ? ": not a time (key, seconds[, kernel, group, estimate]) "
                                       "or a device"
                                     : ": not a 16-digit key, a space and seconds"));
    if (!isKey(fields[0])) return corrupt(where + ": the key is not 16 lowercase hex digits");
    Entry e;
    if (!positive(fields[1], &e.seconds))
      return corrupt(where + ": the seconds are not a finite positive number");
    if (fields.size() == 5) {
      if (!isKey(fields[2])) return corrupt(where + ": the kernel is not 16 lowercase hex digits");
      if (!isKey(fields[3])) return corrupt(where + ": the group is not 16 lowercase hex digits");
      if (!positive(fields[4], &e.estimate))
        return corrupt(where + ": the estimate is not a finite positive number");
      e.kernel = std::string(fields[2]);
      e.group = std::string(fields[3]);
    }
    if (cache.entries_.size() >= kMaxEntries)
      return corrupt("profile cache: more than " + std::to_string(kMaxEntries) + " entries");
    auto [it, added] = cache.entries_.try_emplace(std::string(fields[0]), e);
    if (!added) { // a key again (files joined): the later time, the session time kept
      e.session = it->second.session;
      e.sessionClass = std::move(it->second.sessionClass);
      it->second = std::move(e);
    }
  }
  if (line == 0) return corrupt("profile cache: empty (no \"tessel-profile 7\" line)");
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
  return it->second.seconds;
}

bool ProfileCache::put(const std::string& key, double seconds, const std::string& kernel,
                       const std::string& group, double estimate) {
  if (!std::isfinite(seconds) || seconds <= 0 || !isKey(key)) return false;
  auto it = entries_.find(key);
  if (it == entries_.end() && entries_.size() >= kMaxEntries) return false;
  const bool point = isKey(kernel) && isKey(group) && std::isfinite(estimate) && estimate > 0;
  Entry e{seconds,
          point ? kernel : std::string(),
          point ? group : std::string(),
          point ? estimate : 0,
          it != entries_.end() ? it->second.session : 0,
          it != entries_.end() ? it->second.sessionClass : std::string()};
  if (it != entries_.end() && it->second == e) return false;
  entries_[key] = std::move(e);
  return true;
}

bool ProfileCache::putSession(const std::string& key, double seconds,
                              const std::string& sessionClass) {
  auto it = entries_.find(key);
  if (it == entries_.end() || !std::isfinite(seconds) || seconds <= 0) return false;
  const std::string named = isKey(sessionClass) ? sessionClass : std::string();
  if (it->second.session == seconds && it->second.sessionClass == named) return false;
  it->second.session = seconds;
  it->second.sessionClass = named;
  return true;
}

std::optional<double> ProfileCache::findSession(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.session <= 0) return std::nullopt;
  return it->second.session;
}

std::optional<ProfileCache::Transfer> ProfileCache::transfer(const std::string& deviceKey) const {
  auto it = transfers_.find(deviceKey);
  if (it == transfers_.end()) return std::nullopt;
  return it->second;
}

bool ProfileCache::putTransfer(const std::string& deviceKey, const Transfer& t) {
  if (!isKey(deviceKey) || !std::isfinite(t.latencySeconds) || t.latencySeconds <= 0 ||
      !std::isfinite(t.bytesPerSecond) || t.bytesPerSecond <= 0)
    return false;
  auto it = transfers_.find(deviceKey);
  if (it == transfers_.end() && transfers_.size() >= kMaxDevices) return false;
  if (it != transfers_.end() && it->second.latencySeconds == t.latencySeconds &&
      it->second.bytesPerSecond == t.bytesPerSecond)
    return false;
  transfers_[deviceKey] = t;
  return true;
}

std::optional<double> ProfileCache::readRate(const std::string& deviceKey, int threads) const {
  auto it = readRates_.find({deviceKey, threads});
  if (it == readRates_.end()) return std::nullopt;
  return it->second;
}

bool ProfileCache::putReadRate(const std::string& deviceKey, int threads, double bytesPerSecond) {
  if (!isKey(deviceKey) || threads < 1 || threads > kMaxReadThreads ||
      !std::isfinite(bytesPerSecond) || bytesPerSecond <= 0)
    return false;
  const std::pair<std::string, int> key{deviceKey, threads};
  auto it = readRates_.find(key);
  if (it == readRates_.end() && readRates_.size() >= kMaxDevices) return false;
  if (it != readRates_.end() && it->second == bytesPerSecond) return false;
  readRates_[key] = bytesPerSecond;
  return true;
}

namespace {

std::optional<ProfileCache::SessionPair>
findPair(const std::map<std::string, ProfileCache::SessionPair>& pairs, const std::string& key) {
  auto it = pairs.find(key);
  if (it == pairs.end()) return std::nullopt;
  return it->second;
}

bool putPair(std::map<std::string, ProfileCache::SessionPair>* pairs, const std::string& key,
             const ProfileCache::SessionPair& c) {
  if (!isKey(key) || !std::isfinite(c.first) || c.first <= 0 || !std::isfinite(c.second) ||
      c.second <= 0)
    return false;
  auto it = pairs->find(key);
  if (it == pairs->end() && pairs->size() >= ProfileCache::kMaxEntries) return false;
  if (it != pairs->end() && it->second.first == c.first && it->second.second == c.second)
    return false;
  (*pairs)[key] = c;
  return true;
}

} // namespace

std::optional<ProfileCache::SessionPair> ProfileCache::chainSession(const std::string& key) const {
  return findPair(chains_, key);
}

bool ProfileCache::putChainSession(const std::string& key, const SessionPair& c) {
  return putPair(&chains_, key, c);
}

std::optional<ProfileCache::SessionPair> ProfileCache::kernelSession(const std::string& key) const {
  return findPair(kernelPairs_, key);
}

bool ProfileCache::putKernelSession(const std::string& key, const SessionPair& c) {
  return putPair(&kernelPairs_, key, c);
}

std::optional<ProfileCache::SessionPair> ProfileCache::kernelSession(const std::string& a,
                                                                     const std::string& b) const {
  bool swapped = false;
  const std::optional<SessionPair> times = kernelSession(kernelPairKey(a, b, &swapped));
  if (!times || !swapped) return times;
  return SessionPair{times->second, times->first};
}

bool ProfileCache::putKernelSession(const std::string& a, const std::string& b,
                                    const SessionPair& c) {
  bool swapped = false;
  const std::string key = kernelPairKey(a, b, &swapped);
  return putKernelSession(key, swapped ? SessionPair{c.second, c.first} : c);
}

std::string ProfileCache::device(std::string_view backend) const {
  auto it = devices_.find(backend);
  return it == devices_.end() ? std::string() : it->second;
}

void ProfileCache::setDevice(std::string_view backend, const std::string& key) {
  if (isName(backend) && isKey(key) && (devices_.size() < kMaxDevices || devices_.count(backend)))
    devices_[std::string(backend)] = key;
}

std::map<std::string, KernelFit> ProfileCache::fits() const {
  // Least squares in relative error (weights 1 / measured^2) over each kernel's points, the
  // overhead held within [0, the least time measured]; one point fits a factor alone.
  struct Sums {
    double w = 0, we = 0, wee = 0, wm = 0, wem = 0, least = 0, smallest = 0;
    int n = 0;
    double alone = 0, inSession = 0; // over the entries with a session time
    int sessions = 0;
  };
  std::map<std::string, Sums> sums;
  // Per session class (a backend's kernels of one primitive kind on a device at a thread
  // count): the session ratio alone.
  std::map<std::string, Sums> classes;
  for (const auto& [key, e] : entries_) {
    if (e.session > 0 && !e.sessionClass.empty()) {
      Sums& c = classes[e.sessionClass];
      c.alone += e.seconds;
      c.inSession += e.session;
      ++c.sessions;
    }
    if (e.kernel.empty()) continue;
    const double w = 1 / (e.seconds * e.seconds);
    for (const std::string* name : {&e.kernel, &e.group}) {
      Sums& s = sums[*name];
      s.w += w;
      s.we += w * e.estimate;
      s.wee += w * e.estimate * e.estimate;
      s.wm += w * e.seconds;
      s.wem += w * e.estimate * e.seconds;
      s.least = s.n == 0 ? e.seconds : std::min(s.least, e.seconds);
      s.smallest = s.n == 0 ? e.estimate : std::min(s.smallest, e.estimate);
      ++s.n;
      if (e.session > 0 && name == &e.group) { // the session ratio is the group's
        s.alone += e.seconds;
        s.inSession += e.session;
        ++s.sessions;
      }
    }
  }
  std::map<std::string, KernelFit> out;
  for (const auto& [kernel, s] : sums) {
    KernelFit f;
    f.points = s.n;
    const double det = s.w * s.wee - s.we * s.we;
    if (s.n >= 2 && det > 1e-12 * s.w * s.wee)
      f.overhead = std::clamp((s.wee * s.wm - s.we * s.wem) / det, 0.0, s.least);
    f.factor = (s.wem - f.overhead * s.we) / s.wee; // the best factor for that overhead
    if (!std::isfinite(f.factor) || f.factor <= 0) f = {0, s.wem / s.wee, s.n};
    f.smallest = s.smallest;
    // The session ratio, held within [1/4, 4] (a file is untrusted; sessions measured here ran
    // 0.7 to 2 times their kernels' own times).
    if (s.sessions > 0) {
      f.session = std::clamp(s.inSession / s.alone, 0.25, 4.0);
      f.sessionPoints = s.sessions;
    }
    if (std::isfinite(f.factor) && f.factor > 0) out[kernel] = f;
  }
  for (const auto& [name, c] : classes) {
    KernelFit f; // the ratio alone: a class has no line (the kernels' and groups' have)
    f.session = std::clamp(c.inSession / c.alone, 0.25, 4.0);
    f.sessionPoints = c.sessions;
    out.try_emplace(name, f);
  }
  return out;
}

std::string ProfileCache::text() const {
  std::string out(kHeader);
  out += '\n';
  for (const auto& [backend, key] : devices_)
    out += "device " + backend + " " + key + "\n";
  char buf[64];
  for (const auto& [key, t] : transfers_) {
    std::snprintf(buf, sizeof buf, " %.9g %.9g", t.latencySeconds, t.bytesPerSecond);
    out += "transfer " + key + buf + "\n";
  }
  for (const auto& [key, rate] : readRates_) {
    std::snprintf(buf, sizeof buf, " %d %.9g", key.second, rate);
    out += "memory " + key.first + buf + "\n";
  }
  for (const auto& [key, e] : entries_) {
    out += key;
    std::snprintf(buf, sizeof buf, " %.9g", e.seconds);
    out += buf;
    if (!e.kernel.empty()) {
      std::snprintf(buf, sizeof buf, " %.9g", e.estimate);
      out += " " + e.kernel + " " + e.group + buf;
    }
    out += '\n';
  }
  for (const auto& [key, c] : chains_) {
    std::snprintf(buf, sizeof buf, " %.9g %.9g", c.first, c.second);
    out += "chain " + key + buf + "\n";
  }
  for (const auto& [key, c] : kernelPairs_) {
    std::snprintf(buf, sizeof buf, " %.9g %.9g", c.first, c.second);
    out += "kernels " + key + buf + "\n";
  }
  for (const auto& [key, e] : entries_) {
    if (e.session <= 0) continue;
    std::snprintf(buf, sizeof buf, " %.9g", e.session);
    out += "session " + key + buf + (e.sessionClass.empty() ? "" : " " + e.sessionClass) + "\n";
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

namespace {
// primitiveSignature's, with `constant` per input.
std::string signatureOf(const Primitive& p, const std::vector<TensorDesc>& tensors,
                        const std::vector<uint8_t>& constant) {
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
  for (const uint8_t isConstant : constant)
    h = fnv(h, &isConstant, 1);
  return hex(h);
}
} // namespace

std::string primitiveSignature(const Primitive& p, const std::vector<TensorDesc>& tensors,
                               std::span<const void* const> constants) {
  std::vector<uint8_t> constant;
  for (const void* c : constants)
    constant.push_back(c != nullptr);
  return signatureOf(p, tensors, constant);
}

std::string primitiveSignature(const Primitive& p, const std::vector<TensorDesc>& tensors,
                               const std::vector<bool>& constantTensors) {
  std::vector<uint8_t> constant;
  for (int32_t id : p.inputs)
    constant.push_back(id >= 0 && static_cast<size_t>(id) < constantTensors.size() &&
                       constantTensors[static_cast<size_t>(id)]);
  return signatureOf(p, tensors, constant);
}

std::string deviceKey(const BackendDescriptor& backend) {
  uint64_t h = fnv(1469598103934665603ull, backend.name());
  return hex(fnv(h, backend.deviceSignature()));
}

std::string kernelKey(std::string_view backend, const std::string& device,
                      const KernelCandidate& candidate, int threads) {
  uint64_t h = 1469598103934665603ull;
  h = fnv(h, kernelLibraryVersion());
  h = fnv(h, backend);
  h = fnv(h, device);
  h = fnv(h, candidate.name);
  h = fnv(h, &candidate.choice.id, sizeof candidate.choice.id);
  for (int64_t v : candidate.choice.params)
    h = fnv(h, &v, sizeof v);
  h = fnv(h, &threads, sizeof threads);
  return hex(h);
}

namespace {
// A backend's kernels on a device at a thread count, hashed after `tag` (what the key is for).
uint64_t kernelsHash(std::string_view tag, std::string_view backend, const std::string& device,
                     int threads) {
  uint64_t h = fnv(1469598103934665603ull, tag);
  h = fnv(h, kernelLibraryVersion());
  h = fnv(h, backend);
  h = fnv(h, device);
  return fnv(h, &threads, sizeof threads);
}
} // namespace

std::string groupKey(std::string_view backend, const std::string& device, int threads) {
  return hex(kernelsHash("group", backend, device, threads));
}

std::string sessionClassKey(std::string_view backend, const std::string& device, int threads,
                            PrimitiveKind kind) {
  return hex(fnv(kernelsHash("session class", backend, device, threads), primitiveName(kind)));
}

double calibrated(const std::map<std::string, KernelFit>& fits, std::string_view backend,
                  const std::string& device, const KernelCandidate& candidate, int threads,
                  PrimitiveKind kind, double estimate) {
  auto line = fits.find(kernelKey(backend, device, candidate, threads));
  if (line == fits.end()) line = fits.find(groupKey(backend, device, threads));
  if (line == fits.end()) return estimate;
  return inSession(fits, backend, device, threads, kind, line->second.apply(estimate));
}

double inSession(const std::map<std::string, KernelFit>& fits, std::string_view backend,
                 const std::string& device, int threads, PrimitiveKind kind, double seconds) {
  auto ratio = fits.find(sessionClassKey(backend, device, threads, kind));
  if (ratio == fits.end() || ratio->second.sessionPoints < kMinClassSessions)
    ratio = fits.find(groupKey(backend, device, threads));
  return ratio == fits.end() ? seconds : seconds * ratio->second.session;
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

std::string chainSessionKey(const std::string& chainKey, std::span<const Primitive> primitives,
                            size_t last, const search::Assignment& assignment,
                            std::span<const BackendDescriptor* const> descriptors,
                            const std::function<std::string(size_t)>& signature) {
  uint64_t h = fnv(1469598103934665603ull, "chain in a session");
  h = fnv(h, chainKey);
  for (size_t r : search::outputReaders(primitives, last)) {
    const int b = assignment.backend[r];
    const KernelChoice& choice = assignment.kernel[r];
    h = fnv(h, signature(r));
    h = fnv(h, b >= 0 && static_cast<size_t>(b) < descriptors.size()
                   ? descriptors[static_cast<size_t>(b)]->name()
                   : std::string_view());
    h = fnv(h, &choice.id, sizeof choice.id);
    for (int64_t v : choice.params)
      h = fnv(h, &v, sizeof v);
  }
  return hex(h);
}

std::string kernelPairKey(const std::string& a, const std::string& b, bool* swapped) {
  const bool swap = b < a;
  if (swapped) *swapped = swap;
  uint64_t h = fnv(1469598103934665603ull, "kernels in a session");
  h = fnv(h, swap ? b : a);
  h = fnv(h, swap ? a : b);
  return hex(h);
}

} // namespace tessel
