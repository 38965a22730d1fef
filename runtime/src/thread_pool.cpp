#include "tessel/runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <sched.h>

namespace tessel {
namespace {
// About 50 us of spinning before a worker sleeps, or before a caller waiting for a helper's last
// task starts to poll.
constexpr int kSpinIterations = 20000;

// A worker's state: idle, a loop posted to it (the Loop's address), running one, or stopping.
constexpr uintptr_t kIdle = 0, kBusy = 1, kStop = 2;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}
} // namespace

// The tasks are cut into one contiguous range per thread: slot s runs its own range first, in
// order, then takes what is left of the others' (so a late or busy helper delays nothing). The
// same slot thus computes the same part of a tensor on every run: on cores that share no cache,
// results that moved between threads from run to run (tasks handed out first come, first
// served) cost more than the second thread gave.
//
// A loop lives on its caller's stack and is posted straight to idle workers, one cache line
// each: no allocation, lock or queue per loop (on vCPUs that share no cache a parallelFor of
// two empty tasks took 2.9 us through a locked queue, about ten cache lines crossing cores).
struct ThreadPool::Loop {
  struct alignas(64) Next {
    std::atomic<int64_t> task{0};
  };
  static constexpr int kInlineParts = 8;
  const TaskFn* fn = nullptr;
  int64_t tasks = 0;
  int parts = 1;
  Next* next = nullptr; // per range: its next task
  Next inlineNext[kInlineParts];
  std::unique_ptr<Next[]> moreNext;
  std::atomic<int> slots{1}; // slot 0 is the caller's
  // Helpers posted this loop that may still read it; a helper's last access is its decrement.
  alignas(64) std::atomic<int> active{0};

  int64_t rangeStart(int part) const { return tasks * part / parts; }
};

struct alignas(64) ThreadPool::Worker {
  std::atomic<uintptr_t> state{kIdle};
};

ThreadPool::ThreadPool() : slots_(new Worker[kMaxWorkers]) {}

ThreadPool::~ThreadPool() {
  // No loop is in flight (callers outlive none of theirs), so every worker is idle.
  stopping_.store(true);
  const int started = started_.load();
  for (int i = 0; i < started; ++i) {
    slots_[i].state.store(kStop);
    slots_[i].state.notify_one();
  }
  for (std::thread& t : threads_)
    t.join();
}

int ThreadPool::workerCount() const {
  return started_.load();
}

void ThreadPool::ensureWorkers(int count) {
  count = std::min(count, kMaxWorkers);
  if (started_.load(std::memory_order_acquire) >= count) return;
  std::lock_guard<std::mutex> lock(growMutex_);
  for (int i = started_.load(); i < count; ++i) {
    threads_.emplace_back([this, i] { workerMain(slots_[i]); });
    started_.store(i + 1, std::memory_order_release);
  }
}

void ThreadPool::drain(Loop& loop, int slot) {
  for (int k = 0; k < loop.parts; ++k) {
    const int part = (slot + k) % loop.parts;
    const int64_t end = loop.rangeStart(part + 1);
    std::atomic<int64_t>& next = loop.next[part].task;
    for (int64_t t = next.fetch_add(1); t < end; t = next.fetch_add(1))
      (*loop.fn)(t, slot);
  }
}

bool ThreadPool::post(Worker& w, Loop& loop) {
  uintptr_t expected = kIdle;
  loop.active.fetch_add(1, std::memory_order_relaxed);
  if (!w.state.compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(&loop),
                                       std::memory_order_acq_rel)) {
    loop.active.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  w.state.notify_one(); // a system call only when the worker sleeps
  return true;
}

void ThreadPool::workerMain(Worker& w) {
  for (;;) {
    // Spin a little before sleeping: a model runs its loops back to back, and waking a sleeping
    // thread costs more than a small loop.
    uintptr_t s = w.state.load(std::memory_order_acquire);
    for (int spin = 0; s == kIdle && spin < kSpinIterations; ++spin) {
      cpuRelax();
      s = w.state.load(std::memory_order_acquire);
    }
    if (s == kIdle) {
      w.state.wait(kIdle, std::memory_order_acquire);
      continue;
    }
    if (s == kStop) return;
    // Take the posted loop unless its caller has already taken it back.
    if (!w.state.compare_exchange_strong(s, kBusy, std::memory_order_acq_rel)) continue;
    Loop& loop = *reinterpret_cast<Loop*>(s);
    drain(loop, loop.slots.fetch_add(1, std::memory_order_relaxed));
    // Idle again before the loop's caller can see this helper done (it may post again at once).
    w.state.store(stopping_.load() ? kStop : kIdle, std::memory_order_release);
    loop.active.fetch_sub(1, std::memory_order_acq_rel); // the last access to the loop
  }
}

void ThreadPool::parallelFor(int64_t tasks, int threads, const TaskFn& fn) {
  if (tasks <= 0) return;
  const int want = static_cast<int>(
      std::min<int64_t>({std::max(threads, 1), tasks, int64_t{kMaxWorkers} + 1}) - 1);
  if (want == 0) {
    for (int64_t t = 0; t < tasks; ++t)
      fn(t, 0);
    return;
  }
  ensureWorkers(want);
  Loop loop;
  loop.fn = &fn;
  loop.tasks = tasks;
  loop.parts = want + 1;
  if (loop.parts <= Loop::kInlineParts) {
    loop.next = loop.inlineNext;
  } else {
    loop.moreNext = std::make_unique<Loop::Next[]>(static_cast<size_t>(loop.parts));
    loop.next = loop.moreNext.get();
  }
  for (int part = 0; part < loop.parts; ++part)
    loop.next[part].task.store(loop.rangeStart(part), std::memory_order_relaxed);
  // Idle workers, first come: the ones this caller posted to, to take the loop back from those
  // that have not started when its own drain ends.
  constexpr int kInlinePosted = 16;
  Worker* inlinePosted[kInlinePosted];
  std::unique_ptr<Worker*[]> morePosted;
  Worker** posted = inlinePosted;
  if (want > kInlinePosted) {
    morePosted = std::make_unique<Worker*[]>(static_cast<size_t>(want));
    posted = morePosted.get();
  }
  int count = 0;
  const int started = started_.load(std::memory_order_acquire);
  for (int i = 0; i < started && count < want; ++i)
    if (post(slots_[i], loop)) posted[count++] = &slots_[i];
  drain(loop, 0);
  // Every task is taken: a helper that has not started yet is not waited for.
  for (int i = 0; i < count; ++i) {
    uintptr_t expected = reinterpret_cast<uintptr_t>(&loop);
    if (posted[i]->state.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel))
      loop.active.fetch_sub(1, std::memory_order_relaxed);
  }
  // Tasks a helper has taken may still run: wait for them, spinning first (a helper usually
  // finishes within microseconds), then polling (a helper the system descheduled mid-task).
  // fn and the loop must outlive every helper's last access.
  for (int spin = 0; loop.active.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations)
      cpuRelax();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

int defaultThreadCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

} // namespace tessel
