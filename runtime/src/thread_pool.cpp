#include "tessel/runtime/thread_pool.h"

#include <sched.h>

namespace tessel {
namespace {
// About 50 us of spinning before a worker sleeps.
constexpr int kSpinIterations = 20000;

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
struct ThreadPool::Loop {
  struct alignas(64) Next {
    std::atomic<int64_t> task{0};
  };
  const TaskFn* fn = nullptr;
  int64_t tasks = 0;
  int parts = 1;
  std::unique_ptr<Next[]> next; // per range: its next task
  std::atomic<int64_t> done{0};
  std::atomic<int> slots{1}; // slot 0 is the caller's
  std::mutex mutex;
  std::condition_variable finished;

  int64_t rangeStart(int part) const { return tasks * part / parts; }
};

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    stoppingFlag_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_)
    t.join();
}

int ThreadPool::workerCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(workers_.size());
}

void ThreadPool::ensureWorkers(int count) {
  // Called with mutex_ held.
  while (static_cast<int>(workers_.size()) < count)
    workers_.emplace_back([this] { workerMain(); });
}

void ThreadPool::drain(Loop& loop, int slot) {
  int64_t finished = 0;
  for (int k = 0; k < loop.parts; ++k) {
    const int part = (slot + k) % loop.parts;
    const int64_t end = loop.rangeStart(part + 1);
    std::atomic<int64_t>& next = loop.next[part].task;
    for (int64_t t = next.fetch_add(1); t < end; t = next.fetch_add(1)) {
      (*loop.fn)(t, slot);
      ++finished;
    }
  }
  if (finished && loop.done.fetch_add(finished) + finished == loop.tasks) {
    std::lock_guard<std::mutex> lock(loop.mutex);
    loop.finished.notify_all();
  }
}

void ThreadPool::workerMain() {
  for (;;) {
    // Spin a little before sleeping: a model runs its loops back to back, and waking a sleeping
    // thread costs more than a small loop.
    for (int spin = 0; spin < kSpinIterations && queued_.load(std::memory_order_acquire) == 0 &&
                       !stoppingFlag_.load(std::memory_order_relaxed);
         ++spin)
      cpuRelax();
    std::shared_ptr<Loop> loop;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      loop = std::move(queue_.front());
      queue_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    // A helper that arrives after the others took every task finds nothing to do and leaves.
    if (loop->done.load() < loop->tasks) drain(*loop, loop->slots.fetch_add(1));
  }
}

void ThreadPool::parallelFor(int64_t tasks, int threads, const TaskFn& fn) {
  if (tasks <= 0) return;
  const int helpers = static_cast<int>(std::min<int64_t>(std::max(threads, 1), tasks)) - 1;
  if (helpers == 0) {
    for (int64_t t = 0; t < tasks; ++t)
      fn(t, 0);
    return;
  }
  auto loop = std::make_shared<Loop>();
  loop->fn = &fn;
  loop->tasks = tasks;
  loop->parts = helpers + 1;
  loop->next = std::make_unique<Loop::Next[]>(static_cast<size_t>(loop->parts));
  for (int part = 0; part < loop->parts; ++part)
    loop->next[part].task.store(loop->rangeStart(part), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ensureWorkers(helpers);
    for (int i = 0; i < helpers; ++i)
      queue_.push_back(loop);
    queued_.fetch_add(helpers, std::memory_order_release);
  }
  if (helpers == 1)
    wake_.notify_one();
  else
    wake_.notify_all();
  drain(*loop, 0);
  // Tasks a helper has taken may still run: wait for them (spinning first: a helper usually
  // finishes within microseconds, and a sleep and wake-up costs more); fn must outlive every
  // call.
  for (int spin = 0;
       spin < kSpinIterations && loop->done.load(std::memory_order_acquire) != loop->tasks; ++spin)
    cpuRelax();
  if (loop->done.load() != loop->tasks) {
    std::unique_lock<std::mutex> lock(loop->mutex);
    loop->finished.wait(lock, [&] { return loop->done.load() == loop->tasks; });
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
