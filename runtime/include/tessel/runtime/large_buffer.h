// Memory for large buffers that are filled once and read often: a loaded artifact, packed or
// transformed weights, a session's arena. From 2 MiB on they are mapped on their own, 2 MiB
// aligned and marked for transparent huge pages where the system has them (madvise mode is
// common): a fault then maps 2 MiB instead of 4 KiB. Where page faults are costly (virtual
// machines) loading resnet18 took 200 ms reading the file and 380 ms packing, mostly faults.
// Smaller ones come from the heap, 64-byte aligned. Large buffers freed are kept a while for
// the next allocation they fit (at most 4 and 64 MiB): a session planning a new input shape
// frees an arena and allocates another, which then needs no fresh pages.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace tessel {

inline constexpr size_t kLargeBufferBytes = size_t{2} << 20;

// 64-byte aligned (2 MiB from kLargeBufferBytes on), not initialized; null when the system has
// no memory left.
void* allocateLarge(size_t bytes);
// Frees what allocateLarge(bytes) returned, with the same byte count.
void freeLarge(void* p, size_t bytes);
// Anonymous pages of their own at any size, zero (whole pages can be given back with madvise),
// huge from kLargeBufferBytes on as above; freed with unmapAnonymous(p, bytes).
void* mapAnonymous(size_t bytes);
void unmapAnonymous(void* p, size_t bytes);

// std::vector's allocator over allocateLarge.
template <typename T> struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <typename U> LargeAllocator(const LargeAllocator<U>&) {}
  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    void* p = allocateLarge(n * sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { freeLarge(p, n * sizeof(T)); }
  template <typename U> bool operator==(const LargeAllocator<U>&) const { return true; }
};

// Packed weights and other large float tables.
using LargeFloats = std::vector<float, LargeAllocator<float>>;

} // namespace tessel
