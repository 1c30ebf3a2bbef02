// The thread pool (codegen/jit/thread_pool.hpp): every round runs the work once on every thread,
// what the workers wrote is visible when run() returns, and the handoff between rounds is right
// whether the workers are still spinning for the next round (calls back to back, as forward then
// backward) or have gone to sleep (a pause longer than their spin).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "codegen/jit/thread_pool.hpp"

namespace {

using cellforge::jit::ThreadPool;

// One round: each thread writes round + thread into its slot, passes the barrier, then checks the
// others' slots (so the barrier must hold them until all wrote). Returns the slots as run() left them.
std::vector<long> run_round(ThreadPool& pool, long round, std::atomic<int>& barrier_errors) {
  std::vector<long> slots(static_cast<size_t>(pool.size()), -1);
  pool.run([&](int thread, int threads) {
    slots[static_cast<size_t>(thread)] = round + thread;
    pool.barrier().wait();
    for (int other = 0; other < threads; ++other)
      if (slots[static_cast<size_t>(other)] != round + other) barrier_errors.fetch_add(1);
  });
  return slots;
}

void check_rounds(int threads, int rounds, std::chrono::microseconds pause) {
  ThreadPool pool(threads);
  REQUIRE(pool.size() == threads);
  std::atomic<int> barrier_errors{0};
  int wrong = 0;
  for (long round = 0; round < rounds; ++round) {
    const std::vector<long> slots = run_round(pool, round * 1000, barrier_errors);
    for (int t = 0; t < threads; ++t) wrong += slots[static_cast<size_t>(t)] != round * 1000 + t;
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  CHECK(wrong == 0);
  CHECK(barrier_errors.load() == 0);
}

}  // namespace

TEST_CASE("thread pool: rounds back to back hand over to spinning workers") {
  for (int threads : {1, 2, 3}) {
    INFO(threads << " threads");
    check_rounds(threads, 3000, std::chrono::microseconds(0));
  }
}

TEST_CASE("thread pool: rounds after the workers went to sleep wake them") {
  for (int threads : {2, 3}) {
    INFO(threads << " threads");
    check_rounds(threads, 40, std::chrono::milliseconds(2));  // far longer than the spin
  }
}

TEST_CASE("thread pool: rounds at every distance from the spin's end") {
  for (int pause_us : {10, 30, 45, 50, 55, 80, 150}) {
    INFO("pause " << pause_us << " us");
    check_rounds(2, 60, std::chrono::microseconds(pause_us));
  }
}

TEST_CASE("thread pool: a pool is destroyed while its workers spin or sleep") {
  using namespace std::chrono_literals;
  for (auto pause : {0us, 20us, 3000us}) {
    const auto start = std::chrono::steady_clock::now();
    {
      ThreadPool pool(3);
      std::atomic<int> ran{0};
      pool.run([&](int, int) { ran.fetch_add(1); });
      CHECK(ran.load() == 3);
      std::this_thread::sleep_for(pause);
    }
    // Destruction ends a spin at once and wakes a sleeper: nowhere near a second.
    CHECK(std::chrono::steady_clock::now() - start < 1s);
  }
}

TEST_CASE("thread pool: networks of a thread count share the process's pool while one holds it") {
  std::shared_ptr<ThreadPool> a = cellforge::jit::shared_thread_pool(3);
  std::shared_ptr<ThreadPool> b = cellforge::jit::shared_thread_pool(3);
  CHECK(a.get() == b.get());
  CHECK(a->size() == 3);
  CHECK(cellforge::jit::shared_thread_pool(2).get() != a.get());
  const ThreadPool* old = a.get();
  a.reset();
  b.reset();  // the last holder: the pool and its workers go
  std::shared_ptr<ThreadPool> c = cellforge::jit::shared_thread_pool(3);
  CHECK(c->size() == 3);
  std::atomic<int> barrier_errors{0};
  CHECK(run_round(*c, 5, barrier_errors) == std::vector<long>{5, 6, 7});
  CHECK(barrier_errors == 0);
  (void)old;
}

TEST_CASE("thread pool: calls from several threads at once take turns") {
  // Two caller threads drive one pool (networks of the same thread count called from two threads):
  // each of their rounds must still run on every worker with an intact barrier.
  std::shared_ptr<ThreadPool> pool = cellforge::jit::shared_thread_pool(2);
  std::atomic<int> barrier_errors{0}, wrong{0};
  auto caller = [&](long base) {
    for (long round = 0; round < 300; ++round) {
      const std::vector<long> slots = run_round(*pool, base + round * 10, barrier_errors);
      if (slots != std::vector<long>{base + round * 10, base + round * 10 + 1}) wrong.fetch_add(1);
    }
  };
  std::thread first(caller, 0L), second(caller, 1000000L);
  first.join();
  second.join();
  CHECK(wrong == 0);
  CHECK(barrier_errors == 0);
}
