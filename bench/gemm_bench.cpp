// gemm_bench: the speed of the generated GEMM (codegen/llvm/gemm.hpp) on the shapes cellforge's
// networks run, against limits measured on this machine by the same program: the single-core FMA
// peaks for 8-wide and, with AVX-512, 16-wide FMAs (FMA-bound loops: 12 independent vfmadd231ps
// ymm / zmm chains), and the read bandwidth of a buffer the size of the batch-1 weights. It also
// reports how long the tile's kernel library takes to compile (once per machine; then cached), and
// how fast the weights are packed in both layouts against a memcpy of the same bytes.
//
//   gemm_bench [--quick] [--tile RxV/REGS[wF]] [filter]
//       one thread, median of repeated runs, GFLOP/s and % of both peaks. --tile picks another
//       register tile (rows × vectors of F floats, vector registers; default: the host's tile,
//       default_gemm_tile(host_gemm_target())); filter: only the shapes whose description contains
//       it.
//
// Leading dimensions are padded by 16 floats (the trap in research/perf-peers.md: rows of exactly
// 1024 or 2048 floats alias in the caches); one row shows the unpadded case for comparison.
// Prepacked B is packed once outside the timed loop (as a network packs its weights once per call);
// strided B is packed inside every call, so its time includes that work.
#include <immintrin.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/fma_loops.hpp"
#include "codegen/jit/gemm_kernels.hpp"

namespace {

using cellforge::jit::GemmKernel;
using cellforge::llvm_backend::dense_gemm;
using cellforge::llvm_backend::GemmB;
using cellforge::llvm_backend::GemmSpec;
using cellforge::llvm_backend::Transpose;

using cellforge::bench::thread_cpu_seconds;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double fma_peak_sample(int width);
bool has_avx512 = false;

struct Timing {
  double seconds = 0;            // median seconds per call
  double peak_fraction_8 = 0;    // median over samples of (rate of this sample / 8-wide FMA peak measured right after it)
  double peak_fraction_16 = 0;   // the same for the 16-wide peak (0 without AVX-512)
};

// Runs `work` in samples of ~20 ms of calls, each followed by a short FMA-peak sample, until
// ~`budget` seconds are spent (at least 5 samples). Pairing each sample with a peak measured right
// after it keeps the ratio honest on a machine whose speed changes (shared cores, boost clocks).
template <class Work>
Timing time_per_call(Work&& work, double flops, double budget) {
  work();  // warm up caches and page tables
  double start = thread_cpu_seconds();
  work();
  const double once = std::max(thread_cpu_seconds() - start, 1e-7);
  const int per_sample = std::max(1, static_cast<int>(0.02 / once));
  std::vector<double> samples, fractions_8, fractions_16;
  const double begin = thread_cpu_seconds();
  while (samples.size() < 5 || (thread_cpu_seconds() - begin < budget && samples.size() < 51)) {
    start = thread_cpu_seconds();
    for (int i = 0; i < per_sample; ++i) work();
    const double seconds = (thread_cpu_seconds() - start) / per_sample;
    samples.push_back(seconds);
    if (flops > 0) fractions_8.push_back(flops / seconds / 1e9 / fma_peak_sample(8));
    if (flops > 0 && has_avx512) fractions_16.push_back(flops / seconds / 1e9 / fma_peak_sample(16));
  }
  return {median(samples), fractions_8.empty() ? 0.0 : median(fractions_8),
          fractions_16.empty() ? 0.0 : median(fractions_16)};
}

// Thread CPU seconds of `iterations` rounds of the FMA loop of `width` floats.
double fma_loop_seconds(int width, long iterations) {
  const double start = thread_cpu_seconds();
  if (width == 16) cellforge::bench::fma_loop_16(iterations);
  else cellforge::bench::fma_loop_8(iterations);
  return thread_cpu_seconds() - start;
}

// GFLOP/s of a ~5 ms run of the FMA loop of `width` floats.
double fma_peak_sample(int width) {
  const long iterations = width == 16 ? 500'000 : 1'000'000;
  const double seconds = fma_loop_seconds(width, iterations);
  return iterations * cellforge::bench::kFmaChains * 2.0 * width / seconds / 1e9;
}

double measure_fma_peak_gflops(int width) {
  fma_peak_sample(width);
  std::vector<double> rates;
  for (int i = 0; i < 21; ++i) rates.push_back(fma_peak_sample(width));
  return median(rates);
}

// Reads `floats` floats with 8-wide loads into 8 independent sums (more than the add latency
// needs, so the loop is bound by the loads, not by the adds).
__attribute__((target("avx2,fma"))) float sum_buffer(const float* data, size_t floats) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  for (size_t i = 0; i + 64 <= floats; i += 64) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(data + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(data + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(data + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_loadu_ps(data + i + 24));
    s4 = _mm256_add_ps(s4, _mm256_loadu_ps(data + i + 32));
    s5 = _mm256_add_ps(s5, _mm256_loadu_ps(data + i + 40));
    s6 = _mm256_add_ps(s6, _mm256_loadu_ps(data + i + 48));
    s7 = _mm256_add_ps(s7, _mm256_loadu_ps(data + i + 56));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)),
                           _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7)));
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  return lanes[0] + lanes[7];
}

struct FloatBuffer {  // 64-byte aligned, random contents in [-1, 1]
  explicit FloatBuffer(size_t floats, uint32_t seed = 1)
      : size(floats), data(static_cast<float*>(std::aligned_alloc(64, (floats * 4 + 63) / 64 * 64)), std::free) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    for (size_t i = 0; i < floats; ++i) data.get()[i] = value(random);
  }
  float* get() const { return data.get(); }
  size_t size;
  std::unique_ptr<float, decltype(&std::free)> data;
};

double read_bandwidth_gbs(size_t bytes, double budget) {
  FloatBuffer buffer(bytes / 4);
  volatile float sink = 0;
  const Timing timing = time_per_call([&] { sink = sink + sum_buffer(buffer.get(), buffer.size); }, 0, budget);
  return static_cast<double>(bytes) / timing.seconds / 1e9;
}

struct Shape {
  const char* what;
  int64_t m, n, k;
  Transpose a, b;
  GemmB form;
  bool padded = true;
  int64_t threads = 1;  // > 1: one thread's share, the first n / threads columns (as a network's threads split N)
};

struct Result {
  double seconds = 0, gflops = 0, peak_fraction_8 = 0, peak_fraction_16 = 0, packed_mb = 0;
};

Result run_shape(const Shape& shape, const cellforge::llvm_backend::GemmTile& tile, double budget) {
  auto leading = [&](int64_t columns) { return shape.padded ? columns + 16 : columns; };
  const int64_t lda = leading(shape.a == Transpose::no ? shape.k : shape.m);
  const int64_t ldb = leading(shape.b == Transpose::no ? shape.n : shape.k);
  const int64_t ldc = leading(shape.n);
  GemmSpec spec = dense_gemm(shape.m, shape.n, shape.k, shape.a, lda, shape.b, ldb, ldc, shape.form);
  spec.tile = tile;
  cellforge::jit::CompileOptions options;
  options.use_disk_cache = false;
  auto kernel = GemmKernel::compile(spec, options);
  FloatBuffer a(static_cast<size_t>((shape.a == Transpose::no ? shape.m : shape.k) * lda), 1);
  FloatBuffer b(static_cast<size_t>((shape.b == Transpose::no ? shape.k : shape.n) * ldb), 2);
  FloatBuffer c(static_cast<size_t>(shape.m * ldc), 3);
  FloatBuffer scratch(static_cast<size_t>(kernel->scratch_floats()) + 16, 4);
  const float* b_operand = b.get();
  std::unique_ptr<FloatBuffer> packed;
  if (shape.form == GemmB::prepacked) {
    packed = std::make_unique<FloatBuffer>(static_cast<size_t>(kernel->packed_floats()), 5);
    kernel->pack()(b.get(), packed->get(), 0, shape.n);
    b_operand = packed->get();
  }
  const int64_t n_end = shape.n / shape.threads;
  const double flops = 2.0 * shape.m * n_end * shape.k;
  const Timing timing = time_per_call(
      [&] { kernel->gemm()(a.get(), b_operand, c.get(), scratch.get(), 0, n_end, 0, shape.m); }, flops, budget);
  Result result;
  result.seconds = timing.seconds;
  result.gflops = flops / timing.seconds / 1e9;
  result.peak_fraction_8 = timing.peak_fraction_8;
  result.peak_fraction_16 = timing.peak_fraction_16;
  result.packed_mb = packed ? kernel->packed_floats() * 4.0 / 1e6 : 0;
  return result;
}

// Packing the weights, which a network does once per call for each weight and layout (at batch 1
// that is most of what a step costs besides streaming the weights): the packed weights of one
// weight matrix [rows × cols], as the forward's products read it (op(B) = Wᵀ) and as the backward's
// (op(B) = W), against copying the same bytes with memcpy.
void report_packing(const cellforge::llvm_backend::GemmTile& tile, double budget) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1024, 256}, {2048, 512}}) {
    FloatBuffer w(static_cast<size_t>(rows * cols), 7);
    std::printf("packing W [%lld x %lld] (%.2f MB):", static_cast<long long>(rows), static_cast<long long>(cols),
                rows * cols * 4 / 1e6);
    for (Transpose form : {Transpose::yes, Transpose::no}) {
      // op(B) = Wᵀ: k = cols, n = rows; op(B) = W: k = rows, n = cols.
      const int64_t n = form == Transpose::yes ? rows : cols, k = form == Transpose::yes ? cols : rows;
      GemmSpec spec = dense_gemm(1, n, k, Transpose::no, k, form, cols, n, GemmB::prepacked);
      spec.tile = tile;
      cellforge::jit::CompileOptions options;
      options.use_disk_cache = false;
      auto kernel = GemmKernel::compile(spec, options);
      FloatBuffer packed(static_cast<size_t>(kernel->packed_floats()), 8);
      const Timing t = time_per_call([&] { kernel->pack()(w.get(), packed.get(), 0, n); }, 0, budget);
      std::printf(" %s %.1f µs (%.0f GB/s read+written);", form == Transpose::yes ? "Wᵀ (forward)" : "W (backward)",
                  t.seconds * 1e6, 2.0 * rows * cols * 4 / t.seconds / 1e9);
    }
    FloatBuffer copy(static_cast<size_t>(rows * cols), 9);
    const Timing t = time_per_call([&] { std::memcpy(copy.get(), w.get(), static_cast<size_t>(rows * cols * 4)); }, 0,
                                   budget);
    std::printf(" memcpy %.1f µs (%.0f GB/s)\n", t.seconds * 1e6, 2.0 * rows * cols * 4 / t.seconds / 1e9);
  }
}

// Compiles the kernel library of `tile` from scratch (no cache) and prints how long that took.
void report_library_compile(const cellforge::llvm_backend::GemmTile& tile) {
  const cellforge::jit::Library library = cellforge::jit::gemm_library(tile);
  cellforge::jit::CompileOptions options;
  options.use_disk_cache = false;
  const auto code = cellforge::jit::compile(library.key, library.build, options);
  const cellforge::jit::CompileStats& s = code->stats();
  std::printf("kernel library %s: %.0f ms to compile once per machine (build %.1f, optimize %.0f, codegen %.0f ms), "
              "%zu bytes of code\n",
              cellforge::llvm_backend::gemm_tile_name(tile).c_str(), s.total_ms, s.build_ms, s.optimize_ms,
              s.codegen_ms, s.object_bytes);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string filter;  // run only the shapes whose description contains this
  cellforge::llvm_backend::GemmTile tile = cellforge::llvm_backend::host_gemm_tile();
  for (int i = 1; i < argc; ++i) {
    long long rows = 0, vectors = 0, registers = 0, floats = 8;
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--tile") == 0 && i + 1 < argc &&
               std::sscanf(argv[i + 1], "%lldx%lld/%lldw%lld", &rows, &vectors, &registers, &floats) >= 3) {
      tile = {rows, vectors, registers, floats};
      ++i;
    } else {
      filter = argv[i];
    }
  }
  has_avx512 = cellforge::jit::host_target().avx512f;
  const double budget = quick ? 0.15 : 1.0;
  const double peak_8 = measure_fma_peak_gflops(8);
  const double peak_16 = has_avx512 ? measure_fma_peak_gflops(16) : 0;
  std::printf("cellforge generated GEMM, one thread (host CPU: %s)\n", cellforge::jit::host_target().cpu.c_str());
  std::printf("measured FMA peak, 8-wide (ymm) vfmadd231ps: %.1f GFLOP/s", peak_8);
  if (has_avx512) std::printf("; 16-wide (zmm): %.1f GFLOP/s", peak_16);
  std::printf("\nmeasured read bandwidth (8-wide loads), by buffer size:");
  for (size_t kib : {256, 1024, 4096, 65536})
    std::printf(" %zu KiB %.0f GB/s;", kib, read_bandwidth_gbs(kib << 10, budget));
  std::printf("\n");
  report_library_compile(tile);
  report_packing(tile, budget);
  std::printf("\n");

  const Shape shapes[] = {
      {"forward pre-GEMM x.W^T", 1600, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"forward pre-GEMM, B strided", 1600, 1024, 256, Transpose::no, Transpose::no, GemmB::strided},
      {"forward pre-GEMM x.W^T", 6400, 2048, 512, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"forward pre-GEMM, B strided", 6400, 2048, 512, Transpose::no, Transpose::no, GemmB::strided},
      {"step h.U^T (B=32)", 32, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"step, unpadded ld", 32, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked, false},
      {"step h.U^T (B=64)", 64, 2048, 512, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"step h.U^T (B=50)", 50, 512, 128, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"step, batch 1 (matvec)", 1, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"batch 1, half the columns", 1, 512, 256, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"step, batch 4", 4, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"weight grad dz^T.x", 1024, 256, 1600, Transpose::yes, Transpose::no, GemmB::strided},
      {"weight grad H=512 dz^T.x", 2048, 512, 6400, Transpose::yes, Transpose::no, GemmB::strided},
      {"data grad dz.W, W strided", 32, 256, 1024, Transpose::no, Transpose::no, GemmB::strided},
      {"data grad dz.W, W prepacked", 32, 256, 1024, Transpose::no, Transpose::no, GemmB::prepacked},
      {"input grad dz.W, all rows", 1600, 256, 1024, Transpose::no, Transpose::no, GemmB::prepacked},
      {"input grad, 1 of 2 threads", 800, 256, 1024, Transpose::no, Transpose::no, GemmB::prepacked},
      {"input grad H=512, all rows", 6400, 512, 2048, Transpose::no, Transpose::no, GemmB::prepacked},
      {"data grad (B=64, H=512)", 64, 512, 2048, Transpose::no, Transpose::no, GemmB::prepacked},
      {"data grad (B=64, H=512), 1 of 2", 64, 512, 2048, Transpose::no, Transpose::no, GemmB::prepacked, true, 2},
      {"data grad (B=50, H=128)", 50, 128, 512, Transpose::no, Transpose::no, GemmB::prepacked},
      {"pre-GEMM (char-rnn H=128)", 2500, 512, 128, Transpose::no, Transpose::yes, GemmB::prepacked},
      {"weight grad (char-rnn H=128)", 512, 128, 2500, Transpose::yes, Transpose::no, GemmB::strided},
      {"input grad (char-rnn H=128)", 2500, 128, 512, Transpose::no, Transpose::no, GemmB::prepacked},
      {"step (B=32), 1 of 2 threads", 32, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked, true, 2},
      {"data grad (B=32), 1 of 2 threads", 32, 256, 1024, Transpose::no, Transpose::no, GemmB::prepacked, true, 2},
      {"step (B=50), 1 of 2 threads", 50, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked, true, 2},
      {"data grad (B=50), 1 of 2 threads", 50, 256, 1024, Transpose::no, Transpose::no, GemmB::prepacked, true, 2},
  };
  std::printf("register tile %lldx%lld (%lld-float vectors, %lld vector registers)\n", static_cast<long long>(tile.rows),
              static_cast<long long>(tile.vector_floats * tile.vectors), static_cast<long long>(tile.vector_floats),
              static_cast<long long>(tile.registers));
  std::printf("%-30s %5s %5s %5s  %-9s %10s %9s %8s %8s\n", "shape", "M", "N", "K", "B", "time", "GFLOP/s", "% peak8",
              "% peak16");
  for (const Shape& shape : shapes) {
    if (!filter.empty() && std::string(shape.what).find(filter) == std::string::npos) continue;
    const Result r = run_shape(shape, tile, budget);
    std::printf("%-30s %5lld %5lld %5lld  %-9s %8.1f µs %9.1f %7.1f%% %7.1f%%", shape.what,
                static_cast<long long>(shape.m), static_cast<long long>(shape.n), static_cast<long long>(shape.k),
                shape.form == GemmB::prepacked ? "prepacked" : "strided", r.seconds * 1e6, r.gflops,
                100.0 * r.peak_fraction_8, 100.0 * r.peak_fraction_16);
    if (shape.m == 1) {  // memory bound: compare with reading a buffer of the same size
      const double rate = r.packed_mb * 1e6 / r.seconds / 1e9;
      std::printf("   packed B %.2f MB at %.0f GB/s = %.0f%% of reading %.2f MB", r.packed_mb, rate,
                  100.0 * rate / read_bandwidth_gbs(static_cast<size_t>(r.packed_mb * 1e6), budget), r.packed_mb);
    }
    std::printf("\n");
  }
  return 0;
}
