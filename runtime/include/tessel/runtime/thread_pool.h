// ThreadPool: persistent workers shared by every host backend and every session in the process.
// A parallel loop is run by its caller and up to threads-1 helpers; the caller always takes part,
// so a loop finishes even when every worker is busy with another session's loop.
#pragma once

#include <atomic>
#include <cstdint>
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

  ThreadPool();
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs fn over [0, tasks) with at most `threads` threads (the caller included); returns when
  // every task has finished. Starts workers on first need; never more than threads - 1 (nor more
  // than 255 in the process's pool: more threads than that run with 256). The
  // tasks are cut into one contiguous range per thread: slot s runs range s first, in order,
  // then what is left of the others' (docs/backend-contract.md, Threads).
  void parallelFor(int64_t tasks, int threads, const TaskFn& fn);
  int workerCount() const;

private:
  struct Loop;
  struct Worker;
  // Posts loop to worker w when it is idle; false when it serves another loop (the caller's
  // drain then takes its range).
  static bool post(Worker& w, Loop& loop);
  void ensureWorkers(int count);
  void workerMain(Worker& w);
  static void drain(Loop& loop, int slot);

  static constexpr int kMaxWorkers = 255;
  std::mutex growMutex_;            // starting workers
  std::unique_ptr<Worker[]> slots_; // kMaxWorkers, each its own cache line
  std::atomic<int> started_{0};     // workers running, slots_[0, started_)
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

// Threads a session gets when it asks for 0: the cores this process may run on.
int defaultThreadCount();

} // namespace tessel
