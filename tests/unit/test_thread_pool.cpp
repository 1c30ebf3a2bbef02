// The thread pool (codegen/jit/thread_pool.hpp): every round runs the work once on every thread,
// what the workers wrote is visible when run() returns, and the handoff between rounds is right
// whether the workers are still spinning for the next round (calls back to back, as forward then
// backward) or have gone to sleep (a pause longer than their spin).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
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
