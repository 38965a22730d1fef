#include "tessel/runtime/large_buffer.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace tessel {
namespace {

// Whole pages: a huge page is used only where 2 MiB of the map lie inside it, so a
// tail rounded up to 2 MiB would have been resident whole for a few bytes (squeezenet1_1's
// peak RSS grew by 5.6 MiB that way).
size_t mappedBytes(size_t bytes) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return bytes == 0 ? page : (bytes + page - 1) / page * page;
}

} // namespace

void* mapAnonymous(size_t bytes) {
  const size_t size = mappedBytes(bytes);
  if (bytes < kLargeBufferBytes) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  if (size < bytes || size + kLargeBufferBytes < size) return nullptr;
  // Map one huge page more than needed, then give back the unaligned head and the tail.
  void* raw = ::mmap(nullptr, size + kLargeBufferBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kLargeBufferBytes - 1) / kLargeBufferBytes * kLargeBufferBytes;
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = start + size + kLargeBufferBytes;
  if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  ::madvise(p, size, MADV_HUGEPAGE); // advice only: without huge pages it is small ones
#endif
  return p;
}

void unmapAnonymous(void* p, size_t bytes) {
  if (p) ::munmap(p, mappedBytes(bytes));
}

namespace {

// Large buffers given back, kept for the next allocation they fit (up to twice its size): a
// session that plans again for a new input shape frees one arena and allocates another, and
// fresh pages fault again on their first run (a 4 KiB fault cost 12 us on a VM here, a 2 MiB
// one 200 us), where the heap handed back resident memory. At most kKeep buffers and
// kKeepBytes in all stay; live ones are remembered with their mapped size, since a buffer
// handed out again may be larger than its new owner asked for.
class Reuse {
public:
  void* take(size_t bytes) {
    const size_t size = mappedBytes(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    size_t best = kept_.size();
    for (size_t i = 0; i < kept_.size(); ++i)
      if (kept_[i].size >= size && kept_[i].size <= 2 * size &&
          (best == kept_.size() || kept_[i].size < kept_[best].size))
        best = i;
    Block b;
    if (best < kept_.size()) {
      b = kept_[best];
      kept_.erase(kept_.begin() + static_cast<std::ptrdiff_t>(best));
      keptBytes_ -= b.size;
    } else {
      b.p = mapAnonymous(bytes);
      b.size = size;
      if (!b.p) return nullptr;
    }
    live_.push_back(b);
    return b.p;
  }

  void give(void* p) {
    std::vector<Block> drop;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = std::find_if(live_.begin(), live_.end(), [p](const Block& b) { return b.p == p; });
      if (it == live_.end()) return; // not ours: nothing to free
      const Block b = *it;
      live_.erase(it);
      if (b.size > kKeepBytes) {
        drop.push_back(b);
      } else {
        kept_.push_back(b);
        keptBytes_ += b.size;
        while (kept_.size() > kKeep || keptBytes_ > kKeepBytes) { // the oldest first
          drop.push_back(kept_.front());
          keptBytes_ -= kept_.front().size;
          kept_.erase(kept_.begin());
        }
      }
    }
    for (const Block& b : drop)
      ::munmap(b.p, b.size);
  }

private:
  static constexpr size_t kKeep = 4, kKeepBytes = size_t{64} << 20;
  struct Block {
    void* p = nullptr;
    size_t size = 0;
  };
  std::mutex mutex_;
  std::vector<Block> live_, kept_;
  size_t keptBytes_ = 0;
};

Reuse& reuse() {
  static Reuse* r = new Reuse(); // never destroyed: buffers may be freed during exit
  return *r;
}

} // namespace

void* allocateLarge(size_t bytes) {
  // aligned_alloc wants a multiple of the alignment; never null for 0 bytes.
  if (bytes < kLargeBufferBytes)
    return std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64 * !bytes);
  return reuse().take(bytes);
}

void freeLarge(void* p, size_t bytes) {
  if (!p) return;
  if (bytes < kLargeBufferBytes)
    std::free(p);
  else
    reuse().give(p);
}

} // namespace tessel
