// ulp_sweep: runs every one of the 2^32 float inputs through each JIT math kernel
// (codegen/jit/math_kernels.hpp, the <8 x float> form) and compares it with double-precision libm,
// then prints the tables of docs/numerics.md. Test plan families N1 and N2, exhaustive version;
// tests/unit/test_math.cpp runs a strided sample of the same checks on every build.
//
//   ulp_sweep [--threads N] [--only exp,log,...] [--no-timing | --timing-only]
//
// Per function it reports:
//  - the max error in ULPs against libm's double result rounded to float (an integer: how many
//    floats lie between ours and the reference), the input where it occurs, and a histogram;
//  - the max error in fractional ULPs against the unrounded double result (|y - ref| divided by
//    the ulp of float(ref)), which is immune to the rare double rounding of the reference;
//  - invariants: NaN only where C99 wants one, monotonicity over all adjacent float pairs, range
//    (tanh in [-1, 1], sigmoid in [0, 1]), oddness of tanh bit for bit, |sigmoid(x) + sigmoid(-x)
//    - 1|, and where tanh, sigmoid and exp saturate;
//  - the speed of the vector and scalar kernels in ns per element, next to the libm float loop.
// The work is split by magnitude over the threads: each handles a range of |x| for both signs.
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "codegen/jit/math_kernels.hpp"

namespace {

using cellforge::jit::all_math_functions;
using cellforge::jit::MathFunction;
using cellforge::jit::MathKernel;
using cellforge::jit::MathKernels;
using cellforge::jit::math_function_name;
using cellforge::jit::ulp_distance;

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr uint64_t mismatch = std::numeric_limits<uint64_t>::max();
constexpr uint32_t chunk = 1u << 16;
constexpr uint32_t sign_bit = 0x80000000u;

float from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t to_bits(float x) { return std::bit_cast<uint32_t>(x); }

double reference(MathFunction function, double x) {
  switch (function) {
    case MathFunction::exp: return std::exp(x);
    case MathFunction::log: return std::log(x);
    case MathFunction::tanh: return std::tanh(x);
    case MathFunction::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case MathFunction::sqrt: return std::sqrt(x);
    case MathFunction::rsqrt: return 1.0 / std::sqrt(x);
  }
  return NAN;
}

// C99: which inputs may give NaN.
bool nan_allowed(MathFunction function, float x) {
  if (std::isnan(x)) return true;
  bool has_domain = function == MathFunction::log || function == MathFunction::sqrt || function == MathFunction::rsqrt;
  return has_domain && x < 0;
}

// |y - ref| in ulps of float(ref); 0 when both are the same special value, infinite otherwise.
double fractional_ulps(float y, double ref) {
  float rounded = static_cast<float>(ref);
  if (!std::isfinite(rounded) || !std::isfinite(y)) return ulp_distance(y, rounded) == 0 ? 0 : INFINITY;
  int exponent = 0;
  std::frexp(static_cast<double>(rounded), &exponent);  // |rounded| in [2^(exponent-1), 2^exponent)
  double ulp = rounded == 0 ? 0x1p-149 : std::ldexp(1.0, std::max(exponent - 1, -126) - 23);
  return std::fabs(static_cast<double>(y) - ref) / ulp;
}

// Increasing (exp, log, tanh, sigmoid, sqrt) or, for rsqrt, decreasing on x > 0.
int direction(MathFunction function) { return function == MathFunction::rsqrt ? -1 : 1; }

struct Result {
  uint64_t max_ulp = 0;
  float worst_x = 0;
  double max_fraction = 0;
  float worst_fraction_x = 0;
  uint64_t histogram[4] = {0, 0, 0, 0};  // 0, 1, 2, >= 3 ULP (mismatches included in the last)
  uint64_t bad_nan = 0, missing_nan = 0;
  uint64_t not_monotone = 0;
  float first_not_monotone = 0;
  uint64_t out_of_range = 0, not_odd = 0, bad_sum = 0;
  double max_sum_error = 0;            // |sigmoid(x) + sigmoid(-x) - 1| / 2^-24
  uint32_t first_saturated = ~0u;      // bits of the smallest x >= 0 from which f(x) stays at its limit
  uint32_t last_unsaturated = 0;

  void merge(const Result& o) {
    if (o.max_ulp > max_ulp || (o.max_ulp == max_ulp && o.worst_x < worst_x)) max_ulp = o.max_ulp, worst_x = o.worst_x;
    if (o.max_fraction > max_fraction) max_fraction = o.max_fraction, worst_fraction_x = o.worst_fraction_x;
    for (int k = 0; k < 4; ++k) histogram[k] += o.histogram[k];
    bad_nan += o.bad_nan;
    missing_nan += o.missing_nan;
    if (o.not_monotone && !not_monotone) first_not_monotone = o.first_not_monotone;
    not_monotone += o.not_monotone;
    out_of_range += o.out_of_range;
    not_odd += o.not_odd;
    bad_sum += o.bad_sum;
    max_sum_error = std::max(max_sum_error, o.max_sum_error);
    last_unsaturated = std::max(last_unsaturated, o.last_unsaturated);
  }
};

// The limit of f(x) for large positive x that the saturation report looks for: exp overflows to
// inf, tanh and sigmoid reach 1.
bool saturated(MathFunction function, float y) {
  if (function == MathFunction::exp) return y == inf;
  return y == 1.0f;
}

void check_one(MathFunction function, float x, float y, Result& r) {
  double ref = reference(function, static_cast<double>(x));
  uint64_t ulp = ulp_distance(y, static_cast<float>(ref));
  r.histogram[std::min<uint64_t>(ulp, 3)]++;
  if (ulp > r.max_ulp) r.max_ulp = ulp, r.worst_x = x;
  double fraction = fractional_ulps(y, ref);
  if (fraction > r.max_fraction) r.max_fraction = fraction, r.worst_fraction_x = x;
  if (std::isnan(y) && !nan_allowed(function, x)) r.bad_nan++;
  if (!std::isnan(y) && std::isnan(x)) r.missing_nan++;
  if (function == MathFunction::tanh && !std::isnan(x)) r.out_of_range += !(y >= -1.0f && y <= 1.0f);
  if (function == MathFunction::sigmoid && !std::isnan(x)) r.out_of_range += !(y >= 0.0f && y <= 1.0f);
}

// One thread: |x| bit patterns [begin, end) with both signs. `kernel` is the vector kernel.
Result sweep_range(MathFunction function, MathKernel kernel, uint32_t begin, uint32_t end, int bound) {
  Result r;
  std::vector<float> positive(chunk), negative(chunk), y_positive(chunk), y_negative(chunk);
  auto evaluate = [&](uint32_t bits) {
    float x = from_bits(bits), y = 0;
    kernel(&x, &y, 1);
    return y;
  };
  // previous values in increasing x order: for x > 0 the one just below, for x < 0 the one above
  // f(-0) comes before f(+0), except for rsqrt, whose pole sits between them (-inf, +inf)
  float previous_positive = begin > 0 ? evaluate(begin - 1) : function == MathFunction::rsqrt ? NAN : evaluate(sign_bit);
  float previous_negative = evaluate((begin - (begin > 0)) | sign_bit);
  const int dir = direction(function);
  auto out_of_order = [dir](float lower_x_value, float higher_x_value) {
    if (std::isnan(lower_x_value) || std::isnan(higher_x_value)) return false;
    return dir > 0 ? lower_x_value > higher_x_value : lower_x_value < higher_x_value;
  };
  for (uint64_t start = begin; start < end; start += chunk) {
    uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(chunk, end - start));
    for (uint32_t k = 0; k < count; ++k) {
      positive[k] = from_bits(static_cast<uint32_t>(start + k));
      negative[k] = from_bits(static_cast<uint32_t>(start + k) | sign_bit);
    }
    kernel(positive.data(), y_positive.data(), count);
    kernel(negative.data(), y_negative.data(), count);
    for (uint32_t k = 0; k < count; ++k) {
      float x = positive[k], yp = y_positive[k], yn = y_negative[k];
      check_one(function, x, yp, r);
      check_one(function, negative[k], yn, r);
      // monotone: f(x_k-1) <= f(x_k) for x > 0, and f(-x_k) <= f(-x_k-1)
      if (out_of_order(previous_positive, yp) && r.not_monotone++ == 0) r.first_not_monotone = x;
      if (out_of_order(yn, previous_negative) && r.not_monotone++ == 0) r.first_not_monotone = negative[k];
      previous_positive = yp;
      previous_negative = yn;
      if (std::isnan(x)) continue;
      if (function == MathFunction::tanh) r.not_odd += to_bits(yn) != (to_bits(yp) ^ sign_bit);
      if (function == MathFunction::sigmoid) {
        double error = std::fabs(static_cast<double>(yp) + yn - 1.0);
        double ulps = (std::nextafter(yp, inf) - yp) + (yn == 0 ? 0x1p-149 : std::nextafter(yn, inf) - yn);
        r.max_sum_error = std::max(r.max_sum_error, error / 0x1p-24);
        r.bad_sum += !(error <= bound * ulps);
      }
      if (!saturated(function, yp) && !std::isinf(x)) r.last_unsaturated = static_cast<uint32_t>(start + k);
    }
  }
  return r;
}

Result sweep(MathFunction function, MathKernel kernel, int threads) {
  const uint64_t magnitudes = 1ull << 31;  // |x| bit patterns: 0 .. 0x7fffffff (NaNs included)
  std::vector<Result> parts(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    auto begin = static_cast<uint32_t>(magnitudes * t / threads);
    auto end = static_cast<uint32_t>(magnitudes * (t + 1) / threads);
    workers.emplace_back([&, t, begin, end] {
      parts[t] = sweep_range(function, kernel, begin, end, cellforge::jit::max_ulp_error(function));
    });
  }
  for (auto& worker : workers) worker.join();
  Result total = parts[0];
  for (int t = 1; t < threads; ++t) total.merge(parts[t]);
  total.first_saturated = total.last_unsaturated + 1;
  return total;
}

// ---- speed -------------------------------------------------------------------------------------

std::vector<float> timing_inputs(MathFunction function, size_t n) {
  std::vector<float> inputs(n);
  uint32_t state = 12345;
  for (float& x : inputs) {
    state = state * 1664525u + 1013904223u;
    double u = (state >> 8) * 0x1p-24;  // [0, 1)
    bool positive_domain = function == MathFunction::log || function == MathFunction::sqrt ||
                           function == MathFunction::rsqrt;
    x = positive_domain ? static_cast<float>(std::exp(u * 18 - 9)) : static_cast<float>(u * 20 - 10);
  }
  return inputs;
}

template <class Kernel>
double nanoseconds_per_element(Kernel&& run, size_t n) {
  double best = INFINITY;
  for (int repetition = 0; repetition < 30; ++repetition) {
    auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < 20; ++k) run();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, ns / (20.0 * static_cast<double>(n)));
  }
  return best;
}

void libm_loop(MathFunction function, const float* in, float* out, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    float x = in[k];
    switch (function) {
      case MathFunction::exp: out[k] = std::exp(x); break;
      case MathFunction::log: out[k] = std::log(x); break;
      case MathFunction::tanh: out[k] = std::tanh(x); break;
      case MathFunction::sigmoid: out[k] = 1.0f / (1.0f + std::exp(-x)); break;
      case MathFunction::sqrt: out[k] = std::sqrt(x); break;
      case MathFunction::rsqrt: out[k] = 1.0f / std::sqrt(x); break;
    }
  }
}

// ---- report ------------------------------------------------------------------------------------

std::string hex_and_decimal(float x) {
  char text[80];
  std::snprintf(text, sizeof text, "%a (%.9g)", x, x);
  return text;
}

void print_result(MathFunction function, const Result& r, const MathKernels& kernels) {
  const char* name = math_function_name(function);
  float worst_y = 0, x = r.worst_x;
  kernels.vector(function)(&x, &worst_y, 1);
  std::printf("%s\n", name);
  if (r.max_ulp == mismatch) {
    std::printf("  max error      : MISMATCH (NaN, infinity or zero sign) at x = %s\n", hex_and_decimal(x).c_str());
  } else {
    std::printf("  max error      : %" PRIu64 " ULP at x = %s: got %a, libm %a\n", r.max_ulp,
                hex_and_decimal(x).c_str(), worst_y, static_cast<float>(reference(function, x)));
  }
  std::printf("  max fractional : %.4f ULP at x = %s\n", r.max_fraction, hex_and_decimal(r.worst_fraction_x).c_str());
  std::printf("  histogram      : 0 ULP %" PRIu64 ", 1 ULP %" PRIu64 ", 2 ULP %" PRIu64 ", >=3 ULP or mismatch %" PRIu64
              "\n", r.histogram[0], r.histogram[1], r.histogram[2], r.histogram[3]);
  std::printf("  NaN            : %" PRIu64 " unexpected NaN, %" PRIu64 " NaN inputs without NaN output\n", r.bad_nan,
              r.missing_nan);
  std::printf("  monotone       : %" PRIu64 " adjacent pairs out of order", r.not_monotone);
  if (r.not_monotone) std::printf(" (first at x = %s)", hex_and_decimal(r.first_not_monotone).c_str());
  std::printf("\n");
  if (function == MathFunction::tanh || function == MathFunction::sigmoid)
    std::printf("  range          : %" PRIu64 " outputs outside [%d, 1]\n", r.out_of_range,
                function == MathFunction::tanh ? -1 : 0);
  if (function == MathFunction::tanh) std::printf("  odd            : %" PRIu64 " x with tanh(-x) != -tanh(x)\n", r.not_odd);
  if (function == MathFunction::sigmoid)
    std::printf("  sum rule       : max |s(x) + s(-x) - 1| = %.3f * 2^-24, %" PRIu64 " beyond the bound\n",
                r.max_sum_error, r.bad_sum);
  if (function == MathFunction::exp || function == MathFunction::tanh || function == MathFunction::sigmoid)
    std::printf("  saturates      : f(x) = %s for all x >= %s\n", function == MathFunction::exp ? "inf" : "1",
                hex_and_decimal(from_bits(r.first_saturated)).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string only;
  bool timing = true, sweeping = true;
  for (int k = 1; k < argc; ++k) {
    std::string arg = argv[k];
    if (arg == "--threads" && k + 1 < argc) threads = std::max(1, std::atoi(argv[++k]));
    else if (arg == "--only" && k + 1 < argc) only = argv[++k];
    else if (arg == "--no-timing") timing = false;
    else if (arg == "--timing-only") sweeping = false;
    else {
      std::fprintf(stderr, "usage: ulp_sweep [--threads N] [--only exp,log,tanh,sigmoid,sqrt,rsqrt] "
                           "[--no-timing | --timing-only]\n");
      return 2;
    }
  }
  cellforge::jit::CompileOptions options;
  options.use_disk_cache = false;
  MathKernels kernels = cellforge::jit::compile_math_kernels(options);
  const auto& host = cellforge::jit::host_target();
  std::printf("ulp_sweep: %s, %d threads, CPU %s, LLVM %s, kernels compiled in %.1f ms\n\n",
              sweeping ? "all 2^32 float inputs" : "timing only", threads, host.cpu.c_str(),
              host.llvm_version.c_str(), kernels.stats().total_ms);

  struct Row {
    MathFunction function;
    Result result;
  };
  std::vector<Row> rows;
  for (MathFunction function : all_math_functions) {
    if (!only.empty() && ("," + only + ",").find(std::string(",") + math_function_name(function) + ",") == std::string::npos)
      continue;
    if (!sweeping) {
      rows.push_back({function, Result{}});
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    Result result = sweep(function, kernels.vector(function), threads);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_result(function, result, kernels);
    std::printf("  (%.1f s)\n\n", seconds);
    std::fflush(stdout);
    rows.push_back({function, result});
  }

  if (sweeping) std::printf("| function | max ULP (vs libm rounded) | max fractional ULP (vs double) | inputs with 1 ULP | with >= 2 ULP "
              "| monotone violations | unexpected NaN |\n|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    if (!sweeping) break;
    const Result& r = row.result;
    std::printf("| %s | %s | %.3f | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n",
                math_function_name(row.function), r.max_ulp == mismatch ? "mismatch" : std::to_string(r.max_ulp).c_str(),
                r.max_fraction, r.histogram[1], r.histogram[2] + r.histogram[3], r.not_monotone, r.bad_nan);
  }

  if (timing) {
    const size_t n = 4096;
    std::printf("\n| function | vector kernel ns/element | scalar kernel ns/element | libm float loop ns/element |\n"
                "|---|---|---|---|\n");
    for (const Row& row : rows) {
      std::vector<float> in = timing_inputs(row.function, n), out(n);
      MathKernel vector = kernels.vector(row.function), scalar = kernels.scalar(row.function);
      double vector_ns = nanoseconds_per_element([&] { vector(in.data(), out.data(), n); }, n);
      double scalar_ns = nanoseconds_per_element([&] { scalar(in.data(), out.data(), n); }, n);
      double libm_ns = nanoseconds_per_element([&] { libm_loop(row.function, in.data(), out.data(), n); }, n);
      std::printf("| %s | %.3f | %.2f | %.2f |\n", math_function_name(row.function), vector_ns, scalar_ns, libm_ns);
    }
  }
  if (!sweeping) return 0;
  bool ok = true;
  for (const Row& row : rows) {
    const Result& r = row.result;
    ok = ok && r.max_ulp <= static_cast<uint64_t>(cellforge::jit::max_ulp_error(row.function)) && r.bad_nan == 0 &&
         r.missing_nan == 0 && r.not_monotone == 0 && r.out_of_range == 0 && r.not_odd == 0 && r.bad_sum == 0;
  }
  std::printf("\n%s\n", ok ? "all bounds and invariants hold" : "SOME BOUNDS OR INVARIANTS FAIL");
  return ok ? 0 : 1;
}
