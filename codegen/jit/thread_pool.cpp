// The thread pool and its barrier; see thread_pool.hpp.
#include "codegen/jit/thread_pool.hpp"

#include <chrono>
#include <map>

namespace cellforge::jit {

namespace {

// A hint to the core that this is a spin-wait loop (x86 pause).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

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
    round_.fetch_add(1, std::memory_order_release);  // ends a worker's spin at once
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

// How long a thread spins for its partner before it sleeps on a condition variable. Waking a
// sleeping thread costs a futex call and a trip through the scheduler (tens of microseconds on a
// virtual machine), once when a call starts and once when it ends: at batch 1 a whole forward call
// takes ~0.3 ms. OpenMP runtimes spin likewise (libgomp's GOMP_SPINCOUNT, KMP_BLOCKTIME). 50 µs
// covers the gap between a forward and a backward call; 200 µs was no faster on a quiet machine
// and, with another busy process, burnt the share of the CPU the computing thread needed (LSTM
// B = 1 two threads 1.6 -> 2.0 ms against 1.7 with 50 µs).
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(50);

// Spins until done() or kSpinBeforeSleep has passed; true if done() came true.
template <class Done>
bool spin_until(Done&& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleep;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
  }
}

void ThreadPool::run(const std::function<void(int, int)>& work) {
  std::lock_guard<std::mutex> one_at_a_time(run_mutex_);
  if (threads_ == 1) {
    work(0, 1);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    work_ = &work;
    finished_.store(0, std::memory_order_relaxed);
    round_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  work(0, threads_);
  auto all_finished = [&] { return finished_.load(std::memory_order_acquire) == threads_ - 1; };
  if (!spin_until(all_finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, all_finished);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  work_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return round_.load(std::memory_order_acquire) != seen; });
    const std::function<void(int, int)>* work;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || round_.load(std::memory_order_acquire) != seen; });
      if (stop_) return;
      seen = round_.load(std::memory_order_relaxed);
      work = work_;
    }
    (*work)(index, threads_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_.fetch_add(1, std::memory_order_release);
    }
    done_.notify_one();
  }
}

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

std::shared_ptr<ThreadPool> shared_thread_pool(int threads) {
  static std::mutex registry_mutex;
  static std::map<int, std::weak_ptr<ThreadPool>> registry;
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::weak_ptr<ThreadPool>& slot = registry[threads];
  std::shared_ptr<ThreadPool> pool = slot.lock();
  if (!pool) {
    pool = std::make_shared<ThreadPool>(threads);
    slot = pool;
  }
  return pool;
}

}  // namespace cellforge::jit

extern "C" void cellforge_barrier_wait(void* barrier) { static_cast<cellforge::jit::SpinBarrier*>(barrier)->wait(); }
