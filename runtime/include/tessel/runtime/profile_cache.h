// Measured kernel times kept between processes, for the search (docs/search.md, Profile cache):
// a text file of keys and seconds. A key covers everything a time depends on (the kernel
// library's version, the device, the backend and candidate, the thread count, the primitive and
// its tensors, which inputs are constant), so an entry from another build or device never
// matches and is ignored. The file is untrusted input: parse() accepts only the exact format.
#pragma once

#include "tessel/runtime/backend.h"
#include "tessel/search/assign.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace tessel {

// A kernel's measured times against its backend's estimates, fitted as a line (in relative
// error): measured ~ overhead + factor * estimate (`apply`). A group's (a backend's kernels on
// one device at one thread count) also has what its kernels took as a session's steps against
// their times measured alone, as one ratio (`session`: the sum of the session times over the sum
// of those kernels' own times; 1 without session times, and for a kernel's own line), and so has
// each session class of the group (its kernels of one primitive kind, sessionClassKey: the
// ratio alone), which inSession applies. What `--search model` weighs a kernel at, given a
// profile cache, in place of the bare estimate: calibrated(), the line then the ratio.
//
// The overhead is what the fitted kernels paid at the smallest estimates measured (`smallest`);
// below them the line is not extrapolated but drawn to zero (from the origin to its value at
// `smallest`): PP-OCR's squeeze-excite 1x1 convolutions of 24 channels on one position run in
// 0.3-0.4 us, while the other models' pointwise convolutions fitted an overhead of 7-15 us that
// sent them to the reference backend.
struct KernelFit {
  double overhead = 0; // seconds
  double factor = 1;
  int points = 0; // the measurements fitted
  double session = 1;
  int sessionPoints = 0; // the session times in that ratio
  double smallest = 0;   // the least estimate among the points (0: none known)
  double apply(double estimate) const {
    if (estimate < smallest && estimate >= 0)
      return (overhead + factor * smallest) * (estimate / smallest);
    return overhead + factor * estimate;
  }
};

class ProfileCache {
public:
  static constexpr int64_t kMaxBytes = int64_t{64} << 20;
  static constexpr size_t kMaxEntries = 1 << 20;
  static constexpr size_t kMaxDevices = 64;
  static constexpr int kMaxReadThreads = 4096;

  // The file's entries; a missing file is an empty cache; anything else that is not the format
  // is an error naming the line. The format: a first line "tessel-profile 7" (or 6, without
  // kernels lines; 5, without chain lines; 4, without memory lines; 3, whose session lines name no
  // class and without transfers; 2, without session lines; or 1, the format before kernel fits,
  // whose lines are only times), then lines of
  //   device NAME HASH                  the device a backend measured on (deviceKey)
  //   KEY SECONDS                       a time (profileKey)
  //   KEY SECONDS KERNEL GROUP ESTIMATE the kernel it was (kernelKey), its backend's kernels on
  //                                     that device (groupKey) and the backend's estimate
  //   session KEY SECONDS [CLASS]       what the primitive and kernel of KEY took as a step of a
  //                                     session running a plan (its least over profiled runs),
  //                                     and its session class (sessionClassKey; version 4)
  //   transfer DEVICE SECONDS BYTES/S   copies between the host and a device (its deviceKey): a
  //                                     copy's fixed time and the bytes a second (version 4)
  //   memory DEVICE THREADS BYTES/S     what a device (its deviceKey) reads from memory past its
  //                                     caches with THREADS threads (1-4096), in bytes a second
  //                                     (measureReadRate; version 5)
  //   chain KEY FUSED UNFUSED           a fused chain and the steps reading its output, timed
  //                                     in a session fused and unfused (chainSessionKey; the
  //                                     least over profiled runs; version 6)
  //   kernels KEY FIRST SECOND          two kernels of one primitive, each with the steps reading
  //                                     its output, timed in a session against each other
  //                                     (kernelPairKey, in its keys' order; version 7)
  // keys and hashes 16 lowercase hex digits, a name [a-z0-9_]+ (at most 64), numbers finite and
  // positive, fields one space apart. A session time lasts while its key's time does.
  static Result<ProfileCache> load(const std::string& path);
  static Result<ProfileCache> parse(std::string_view text);

  std::optional<double> find(const std::string& key) const;
  // A time; with `kernel`, `group` and the backend's `estimate`, a point of that kernel's fit
  // and of its group's. Whether the cache changed.
  bool put(const std::string& key, double seconds, const std::string& kernel = {},
           const std::string& group = {}, double estimate = 0);
  // A session time for the time under `key` (which must be there), of a session class
  // (sessionClassKey; "" for none, which only the group's ratio counts);
  // whether the cache changed.
  bool putSession(const std::string& key, double seconds, const std::string& sessionClass = {});
  std::optional<double> findSession(const std::string& key) const;
  // Copies between the host and a device (its deviceKey), as measured (measureTransfer).
  struct Transfer {
    double latencySeconds = 0, bytesPerSecond = 0;
  };
  std::optional<Transfer> transfer(const std::string& deviceKey) const;
  // Whether the cache changed.
  bool putTransfer(const std::string& deviceKey, const Transfer& transfer);
  // What a device (its deviceKey) reads from memory past its caches with `threads` threads, in
  // bytes a second, as measured (measureReadRate).
  std::optional<double> readRate(const std::string& deviceKey, int threads) const;
  // Whether the cache changed.
  bool putReadRate(const std::string& deviceKey, int threads, double bytesPerSecond);
  // Two times taken in one session, run by run in turn (the least of each over its profiled
  // runs): a fused chain's (chainSessionKey) with the chain fused (`first`) and unfused
  // (`second`), or two kernels' of one primitive (kernelPairKey), in their keys' order.
  struct SessionPair {
    double first = 0, second = 0;
  };
  // A fused chain and the steps that read its output as a session ran them.
  std::optional<SessionPair> chainSession(const std::string& key) const;
  // Whether the cache changed.
  bool putChainSession(const std::string& key, const SessionPair& times);
  // Two kernels of one primitive, each with the steps that read its output, as a session ran
  // them (kernelPairKey; docs/search.md, Kernels decided in a session).
  std::optional<SessionPair> kernelSession(const std::string& key) const;
  // Whether the cache changed.
  bool putKernelSession(const std::string& key, const SessionPair& times);
  // The same by the two kernels' profile keys, in either order: the times are `a`'s, then
  // `b`'s (kept in the keys' sorted order, kernelPairKey).
  std::optional<SessionPair> kernelSession(const std::string& a, const std::string& b) const;
  bool putKernelSession(const std::string& a, const std::string& b, const SessionPair& times);
  size_t kernelSessions() const { return kernelPairs_.size(); }
  // The device a backend's times were measured on (its deviceKey), "" when the file does not say.
  std::string device(std::string_view backend) const;
  void setDevice(std::string_view backend, const std::string& deviceKey);
  // Each kernel's fit over the entries naming it, and each group's over its kernels' entries
  // (the keys differ: a kernel without points of its own takes its group's line).
  std::map<std::string, KernelFit> fits() const;
  size_t size() const { return entries_.size(); }
  std::string text() const;
  // Writes the file whole (a temporary beside it, then renamed over it).
  Status save(const std::string& path) const;

private:
  struct Entry {
    double seconds = 0;
    std::string kernel, group; // "" when the time has no fit point
    double estimate = 0;
    double session = 0; // its time as a session's step, 0 when none
    std::string sessionClass;
    bool operator==(const Entry&) const = default;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string, std::less<>> devices_; // backend name -> device key
  std::map<std::string, Transfer> transfers_;               // device key -> its copies
  std::map<std::pair<std::string, int>, double> readRates_; // (device key, threads) -> bytes/s
  std::map<std::string, SessionPair> chains_;               // chainSessionKey -> its times
  std::map<std::string, SessionPair> kernelPairs_;          // kernelPairKey -> their times
};

// What a key says of the primitive, made once for all its candidates: a 64-bit hash, as 16 hex
// digits, of the primitive with its tensors' descriptions as the artifact writes them (every
// parameter, not the node's name) and of which inputs are constant (`constants`: per input, its
// bytes or null).
std::string primitiveSignature(const Primitive& p, const std::vector<TensorDesc>& tensors,
                               std::span<const void* const> constants);
// The same with which tensors are constant given per tensor (`constantTensors`, as
// Program::constants says): what the compiler, which holds no constants' bytes, keys by.
std::string primitiveSignature(const Primitive& p, const std::vector<TensorDesc>& tensors,
                               const std::vector<bool>& constantTensors);

// The key of one candidate's time: a 64-bit hash, as 16 hex digits, of the kernel library's
// version, the backend's name and device (BackendDescriptor::deviceSignature), the candidate's
// name and choice, the thread count and the primitive's signature.
std::string profileKey(const BackendDescriptor& backend, const std::string& primitiveSignature,
                       const KernelCandidate& candidate, int threads);

// The device key of a backend: a 64-bit hash, as 16 hex digits, of its name and
// deviceSignature.
std::string deviceKey(const BackendDescriptor& backend);

// The key of a kernel's fit: a hash of the kernel library's version, the backend's name and
// device (a deviceKey: the live backend's, or the one a profile cache names, to plan offline for
// the device it was measured on), the candidate's name and choice, and the thread count.
std::string kernelKey(std::string_view backend, const std::string& deviceKey,
                      const KernelCandidate& candidate, int threads);

// The key of a backend's kernels on one device at one thread count, together: a hash of the
// kernel library's version, the backend's name, the device key and the thread count.
std::string groupKey(std::string_view backend, const std::string& deviceKey, int threads);

// The key of a session class: a backend's kernels of one primitive kind on one device at one
// thread count (a hash like groupKey's, with the kind's name).
std::string sessionClassKey(std::string_view backend, const std::string& deviceKey, int threads,
                            PrimitiveKind kind);

// A candidate's estimate through its kernel's fit, else its group's (fits: ProfileCache::fits),
// else as it is; then as a session's step (inSession). One ratio for all of a backend's kernels
// of a kind: it never reorders the kernels of a primitive, and a kernel's own ratio, from the
// few of its primitives that plans chose, varied from 1.1 to 2.4 here and mispriced other
// shapes (resnet18's 3x3 stride-2 convolution as the direct kernel at 1.7x its time, so the plan
// took im2col).
double calibrated(const std::map<std::string, KernelFit>& fits, std::string_view backend,
                  const std::string& deviceKey, const KernelCandidate& candidate, int threads,
                  PrimitiveKind kind, double estimate);
// A session class's ratio rests on this many session times at the least; fewer take the
// group's.
inline constexpr int kMinClassSessions = 3;
// What a time measured alone takes as a session's step: its session class's ratio where that
// has kMinClassSessions times, else its group's.
double inSession(const std::map<std::string, KernelFit>& fits, std::string_view backend,
                 const std::string& deviceKey, int threads, PrimitiveKind kind, double seconds);

// The key of a fused chain's times in a session (ProfileCache::chainSession): a 64-bit hash, as
// 16 hex digits, of the chain's profileKey (`chainKey`: its fused kernel's, so the device, the
// thread count and the chain's primitives) and of what reads the output of its last primitive
// `last` (search::outputReaders), whose kernels the times depend on: each reader's `signature`
// (primitiveSignature), its backend in `assignment` (a descriptor's index) and its kernel.
std::string chainSessionKey(const std::string& chainKey, std::span<const Primitive> primitives,
                            size_t last, const search::Assignment& assignment,
                            std::span<const BackendDescriptor* const> descriptors,
                            const std::function<std::string(size_t)>& signature);

// The key of two kernels of one primitive timed against each other in a session
// (ProfileCache::kernelSession): a 64-bit hash, as 16 hex digits, of their profileKeys in sorted
// order, so either order gives it; `swapped` (where given) is set where `b`'s key sorts first,
// and the session's times are then (b's, a's).
std::string kernelPairKey(const std::string& a, const std::string& b, bool* swapped = nullptr);

// The kernel library's version in the keys: the source revision the build was configured at.
std::string_view kernelLibraryVersion();

} // namespace tessel
