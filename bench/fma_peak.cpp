// fma_peak: the machine's floating-point limit, measured rather than taken from a data sheet. The
// benchmark table (bench/report.py) states every GFLOP/s figure as a percentage of it.
//
//   fma_peak [--threads N[,N...]] [--samples N] [--json]
//
// For each vector width the CPU has (8 floats: AVX2 ymm; 16 floats: AVX-512 zmm) and each thread
// count (default 1 and every hardware thread), every thread runs an FMA-bound loop of 12
// independent vfmadd231ps chains (enough to cover 2 FMA pipes x 4-6 cycles of latency on Zen 3/4/5
// and recent Intel cores) for ~10 ms per sample; the threads start together. A sample's rate is
// the sum over threads of flops / that thread's CPU time: time a thread spends descheduled by
// other work on a shared machine is not counted, so the number is what the cores can do, not what
// they happened to be free for. The best sample is the peak (clock boost and neighbours only ever
// make a sample slower); the median is printed beside it to show how stable the machine was.
// Each FMA counts as 2 flops per lane.
//
// Why assembly: the loop must issue nothing but FMAs, whatever the compiler's version or flags.
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/fma_loops.hpp"

namespace {

using namespace cellforge::bench;

// GFLOP/s of one sample: `threads` threads, started together, each running the loop of `width`.
double sample(int width, int threads, long iterations) {
  std::vector<double> cpu_seconds(static_cast<size_t>(threads));
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      const double start = thread_cpu_seconds();
      width == 16 ? fma_loop_16(iterations) : fma_loop_8(iterations);
      cpu_seconds[static_cast<size_t>(t)] = thread_cpu_seconds() - start;
    });
  for (std::thread& thread : pool) thread.join();
  double gflops = 0;
  for (double seconds : cpu_seconds) gflops += iterations * kFmaChains * 2.0 * width / seconds / 1e9;
  return gflops;
}

struct Peak {
  int width, threads;
  double best, median;
};

Peak measure(int width, int threads, int samples) {
  // ~10 ms per sample at ~4 GHz with 2 FMAs per cycle.
  const long iterations = 3'000'000;
  sample(width, threads, iterations / 10);  // wake the cores and the vector units
  std::vector<double> rates;
  for (int i = 0; i < samples; ++i) rates.push_back(sample(width, threads, iterations));
  std::sort(rates.begin(), rates.end());
  return {width, threads, rates.back(), rates[rates.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  int samples = 30;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      for (const char* p = argv[++i]; *p;) {
        thread_counts.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else if (a == "--samples" && i + 1 < argc) {
      samples = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr, "usage: fma_peak [--threads N[,N...]] [--samples N] [--json]\n");
      return 2;
    }
  }
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (thread_counts.empty()) thread_counts = hardware > 1 ? std::vector<int>{1, hardware} : std::vector<int>{1};
  for (int n : thread_counts)
    if (n < 1) {
      std::fprintf(stderr, "fma_peak: thread counts must be >= 1\n");
      return 2;
    }
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::fprintf(stderr, "fma_peak: this CPU has no AVX2+FMA\n");
    return 1;
  }
  std::vector<int> widths = {8};
  if (__builtin_cpu_supports("avx512f")) widths.push_back(16);

  std::vector<Peak> peaks;
  for (int width : widths)
    for (int threads : thread_counts) peaks.push_back(measure(width, threads, samples));

  if (json) {
    std::printf("{\"fma_peak\":[");
    for (size_t i = 0; i < peaks.size(); ++i)
      std::printf("%s{\"width\":%d,\"isa\":\"%s\",\"threads\":%d,\"gflops_best\":%.1f,\"gflops_median\":%.1f}",
                  i ? "," : "", peaks[i].width, peaks[i].width == 16 ? "avx512" : "avx2", peaks[i].threads,
                  peaks[i].best, peaks[i].median);
    std::printf("],\"chains\":%d,\"samples\":%d,\"hardware_threads\":%d}\n", kFmaChains, samples, hardware);
  } else {
    std::printf("%-22s %8s %14s %16s\n", "FMA loop", "threads", "best GFLOP/s", "median GFLOP/s");
    for (const Peak& p : peaks)
      std::printf("%-22s %8d %14.1f %16.1f\n", p.width == 16 ? "16-wide (AVX-512 zmm)" : "8-wide (AVX2 ymm)",
                  p.threads, p.best, p.median);
  }
  return 0;
}
