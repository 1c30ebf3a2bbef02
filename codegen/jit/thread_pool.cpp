// The thread pool and its barrier; see thread_pool.hpp.
#include "codegen/jit/thread_pool.hpp"

namespace cellforge::jit {

void SpinBarrier::wait() {
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
    arrived_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    return;
  }
  for (int spin = 0; generation_.load(std::memory_order_acquire) == generation; ++spin)
    if (spin > 4000) std::this_thread::yield();
}

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads), barrier_(threads_) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run(const std::function<void(int, int)>& work) {
  if (threads_ == 1) {
    work(0, 1);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    work_ = &work;
    finished_ = 0;
    ++round_;
  }
  wake_.notify_all();
  work(0, threads_);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return finished_ == threads_ - 1; });
  work_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int, int)>* work;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || round_ != seen; });
      if (stop_) return;
      seen = round_;
      work = work_;
    }
    (*work)(index, threads_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++finished_;
    }
    done_.notify_one();
  }
}

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace cellforge::jit

extern "C" void cellforge_barrier_wait(void* barrier) { static_cast<cellforge::jit::SpinBarrier*>(barrier)->wait(); }
