// ThreadPool: persistent workers shared by every host backend and every session in the process.
// A parallel loop is run by its caller and up to threads-1 helpers; the caller always takes part,
// so a loop finishes even when every worker is busy with another session's loop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tessel {

class ThreadPool {
public:
  // fn(task, slot): task in [0, tasks); slot in [0, threads) names the thread running it, so a
  // kernel can index per-thread workspace. Each task runs exactly once.
  using TaskFn = std::function<void(int64_t task, int slot)>;

  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs fn over [0, tasks) with at most `threads` threads (the caller included); returns when
  // every task has finished. Starts workers on first need; never more than threads - 1. The
  // tasks are cut into one contiguous range per thread: slot s runs range s first, in order,
  // then what is left of the others' (docs/backend-contract.md, Threads).
  void parallelFor(int64_t tasks, int threads, const TaskFn& fn);
  int workerCount() const;

private:
  struct Loop;
  void ensureWorkers(int count);
  void workerMain();
  static void drain(Loop& loop, int slot);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Loop>> queue_; // one entry per helper a loop asked for
  std::atomic<int> queued_{0};              // queue_.size(), readable without the mutex
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  std::atomic<bool> stoppingFlag_{false};
};

// Threads a session gets when it asks for 0: the cores this process may run on.
int defaultThreadCount();

} // namespace tessel
