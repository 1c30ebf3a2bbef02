// A persistent pool of threads that run one function together (SPMD): every thread calls it with
// its index, and generated code synchronizes through cellforge_barrier_wait(). The calling thread
// is thread 0, so a pool of one thread runs everything inline. Between calls a worker spins for
// 50 µs before it sleeps, and the caller spins as long for the workers to finish: a forward call
// followed by its backward call hands over without waking a sleeping thread (docs/design.md,
// "Threads spin briefly between calls").
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cellforge::jit {

/// A barrier for a fixed number of threads, spinning briefly before yielding.
class SpinBarrier {
 public:
  explicit SpinBarrier(int threads) : threads_(threads) {}
  void wait();

 private:
  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<uint64_t> generation_{0};
};

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }
  /// Runs work(thread, threads) on every thread and returns when all are done. Calls from several
  /// threads at once take turns.
  void run(const std::function<void(int, int)>& work);
  SpinBarrier& barrier() { return barrier_; }

 private:
  void worker(int index);

  const int threads_;
  SpinBarrier barrier_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one run() at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int, int)>* work_ = nullptr;
  bool stop_ = false;
  // Changed only under mutex_ (so the condition variables miss no wake-up), read without it by
  // the spins: a worker that finished a round watches round_ for a while before it sleeps, and
  // run() watches finished_ before it sleeps.
  std::atomic<uint64_t> round_{0};
  std::atomic<int> finished_{0};
};

/// The number of hardware threads, at least 1.
int hardware_threads();

/// The process's pool of `threads` threads, shared by every network of that many threads while
/// any holds it. Networks called one after another (a language model's cells, then its head) run
/// on the same workers: with a pool each, the idle pool's workers spun beside the busy one's, more
/// threads than cores (docs/design.md, "One thread pool per process").
std::shared_ptr<ThreadPool> shared_thread_pool(int threads);

}  // namespace cellforge::jit

/// Called by generated code; `barrier` is a cellforge::jit::SpinBarrier.
extern "C" void cellforge_barrier_wait(void* barrier);
