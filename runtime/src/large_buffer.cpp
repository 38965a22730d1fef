#include "tessel/runtime/large_buffer.h"

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>

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

void* allocateLarge(size_t bytes) {
  // aligned_alloc wants a multiple of the alignment; never null for 0 bytes.
  if (bytes < kLargeBufferBytes)
    return std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64 * !bytes);
  return mapAnonymous(bytes);
}

void freeLarge(void* p, size_t bytes) {
  if (bytes < kLargeBufferBytes)
    std::free(p);
  else
    unmapAnonymous(p, bytes);
}

} // namespace tessel
