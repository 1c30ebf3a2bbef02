// Accuracy and special values of the inline transcendentals (codegen/llvm/math.hpp), run through
// the JIT kernels of codegen/jit/math_kernels.hpp. Test plan families N1 (ULP error against double
// libm rounded to float), N2 (activation invariants) and N8 (the comparator itself).
//
// The sweep takes every 257th bit pattern of all 2^32 (16.7 M inputs per function, every
// exponent and scattered mantissa bits) plus the special values, every 7th subnormal and 4096
// floats on each side of every threshold of the implementation. The exhaustive version is
// bench/ulp_sweep.cpp; its numbers are in docs/numerics.md. About 5 s on one core.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "codegen/jit/math_kernels.hpp"

namespace {

using cellforge::jit::all_math_functions;
using cellforge::jit::MathFunction;
using cellforge::jit::MathKernel;
using cellforge::jit::MathKernels;
using cellforge::jit::math_function_name;
using cellforge::jit::max_ulp_error;
using cellforge::jit::ulp_distance;

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr float quiet_nan = std::numeric_limits<float>::quiet_NaN();

const MathKernels& kernels() {
  static const MathKernels compiled = [] {
    cellforge::jit::CompileOptions options;
    options.use_disk_cache = false;  // tests leave no files behind
    return cellforge::jit::compile_math_kernels(options);
  }();
  return compiled;
}

float from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t to_bits(float x) { return std::bit_cast<uint32_t>(x); }

// The oracle: double-precision libm, rounded to float once.
float reference(MathFunction function, float x) {
  double d = x;
  switch (function) {
    case MathFunction::exp: return static_cast<float>(std::exp(d));
    case MathFunction::log: return static_cast<float>(std::log(d));
    case MathFunction::tanh: return static_cast<float>(std::tanh(d));
    case MathFunction::sigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-d)));
    case MathFunction::sqrt: return static_cast<float>(std::sqrt(d));
    case MathFunction::rsqrt: return static_cast<float>(1.0 / std::sqrt(d));
  }
  return quiet_nan;
}

std::vector<float> run(MathKernel kernel, const std::vector<float>& in) {
  std::vector<float> out(in.size());
  kernel(in.data(), out.data(), static_cast<int64_t>(in.size()));
  return out;
}

float call(MathFunction function, float x) {
  float y = 0;
  kernels().vector(function)(&x, &y, 1);
  return y;
}

// `count` adjacent floats on each side of x, in increasing order.
void add_neighbourhood(std::vector<float>& inputs, float x, int count) {
  float below = x;
  for (int k = 0; k < count; ++k) below = std::nextafter(below, -inf);
  for (int k = 0; k <= 2 * count; ++k, below = std::nextafter(below, inf)) inputs.push_back(below);
}

// Where each implementation switches formula, saturates or underflows (math.cpp), and where libm's
// result crosses a binade or rounds to a limit.
std::vector<float> thresholds(MathFunction function) {
  const float half_ln2 = 0.34657359f;
  switch (function) {
    case MathFunction::exp:
      return {0, half_ln2, -half_ln2, 3 * half_ln2, -3 * half_ln2, 1, -1, 88.7228317f, 88.7228394f,
              -87.3365479f, -103.972076f, -104, 0x1p-24f, -0x1p-25f};
    case MathFunction::log:
      return {1, 0.70710677f, 1.41421354f, 2, 0.5f, 0x1p-126f, 0x1p-149f, 3.4028235e38f, 2.7182817f};
    case MathFunction::tanh:
      return {0, 1, -1, 0.5493061f, 9.0109129f, -9.0109129f, 10, -10, 0x1p-12f, 0.625f, 2, 4};
    case MathFunction::sigmoid:
      return {0, half_ln2, -half_ln2, 1, -1.0988f, -4.15f, 16.635532f, -16.635532f, -87.3365479f, -103.27893f,
              -103.972076f, -104, 104, 0x1p-24f, -0x1p-24f};
    case MathFunction::sqrt:
    case MathFunction::rsqrt: return {0, 1, 2, 4, 0x1p-126f, 0x1p-149f, 3.4028235e38f};
  }
  return {};
}

std::vector<float> special_values() {
  std::vector<float> values = {0.0f, -0.0f, inf, -inf, quiet_nan, -quiet_nan,
                               std::numeric_limits<float>::signaling_NaN(), from_bits(0x7fc12345u),
                               from_bits(0xffbfffffu), std::numeric_limits<float>::max(),
                               -std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                               -std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                               -std::numeric_limits<float>::denorm_min(), 1, -1, 0.5f, -0.5f, 1e30f, -1e30f};
  for (uint32_t bits = 1; bits < 0x00800000u; bits += 7) {  // every 7th subnormal, both signs
    values.push_back(from_bits(bits));
    values.push_back(from_bits(bits | 0x80000000u));
  }
  return values;
}

std::vector<float> sweep_inputs(MathFunction function) {
  std::vector<float> inputs;
  inputs.reserve((1ull << 32) / 257 + 2'000'000);
  for (uint64_t bits = 0; bits < (1ull << 32); bits += 257) inputs.push_back(from_bits(static_cast<uint32_t>(bits)));
  std::vector<float> specials = special_values();
  inputs.insert(inputs.end(), specials.begin(), specials.end());
  for (float t : thresholds(function)) {
    add_neighbourhood(inputs, t, 4096);
    add_neighbourhood(inputs, -t, 4096);
  }
  return inputs;
}

struct WorstCase {
  uint64_t ulp = 0;
  float x = 0, got = 0, want = 0;
};

WorstCase worst_case(MathFunction function, const std::vector<float>& inputs, const std::vector<float>& outputs) {
  WorstCase worst;
  for (size_t k = 0; k < inputs.size(); ++k) {
    float want = reference(function, inputs[k]);
    uint64_t ulp = ulp_distance(outputs[k], want);
    if (ulp > worst.ulp) worst = {ulp, inputs[k], outputs[k], want};
  }
  return worst;
}

std::string describe(const WorstCase& w) {
  char text[200];
  std::snprintf(text, sizeof text, "worst: %llu ULP at x = %a (%.9g): got %a, want %a",
                static_cast<unsigned long long>(w.ulp), w.x, w.x, w.got, w.want);
  return text;
}

void check_accuracy(MathFunction function) {
  std::vector<float> inputs = sweep_inputs(function);
  std::vector<float> outputs = run(kernels().vector(function), inputs);
  WorstCase worst = worst_case(function, inputs, outputs);
  INFO(math_function_name(function) << " over " << inputs.size() << " inputs, " << describe(worst));
  CHECK(worst.ulp <= static_cast<uint64_t>(max_ulp_error(function)));
}

// Checks f(x_k) <= f(x_k+1) for `count` adjacent floats from `start` upwards.
void check_monotone(MathFunction function, float start, int count) {
  std::vector<float> inputs;
  float x = start;
  for (int k = 0; k < count; ++k, x = std::nextafter(x, inf)) inputs.push_back(x);
  std::vector<float> outputs = run(kernels().vector(function), inputs);
  size_t violations = 0, first = 0;
  for (size_t k = 1; k < outputs.size(); ++k)
    if (!(outputs[k - 1] <= outputs[k]) && violations++ == 0) first = k;
  INFO(math_function_name(function) << " from " << start << ": " << violations << " decreases, first at x = "
                                    << inputs[first] << " (" << outputs[first - (first > 0)] << " then "
                                    << outputs[first] << ")");
  CHECK(violations == 0);
}

}  // namespace

TEST_CASE("math: ulp_distance counts floats between and fails on NaN, infinity and zero-sign mismatches") {
  CHECK(ulp_distance(1.0f, 1.0f) == 0);
  CHECK(ulp_distance(1.0f, std::nextafter(1.0f, 2.0f)) == 1);
  CHECK(ulp_distance(std::nextafter(1.0f, 0.0f), std::nextafter(1.0f, 2.0f)) == 2);  // across a binade
  CHECK(ulp_distance(std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min()) == 2);
  CHECK(ulp_distance(0.0f, std::numeric_limits<float>::denorm_min()) == 1);
  CHECK(ulp_distance(-1.0f, 1.0f) == 2ull * to_bits(1.0f));
  const uint64_t mismatch = std::numeric_limits<uint64_t>::max();
  CHECK(ulp_distance(quiet_nan, 1.0f) == mismatch);  // a std::max-based comparator would say 0 here
  CHECK(ulp_distance(1.0f, quiet_nan) == mismatch);
  CHECK(ulp_distance(quiet_nan, -quiet_nan) == 0);
  CHECK(ulp_distance(inf, std::numeric_limits<float>::max()) == mismatch);
  CHECK(ulp_distance(inf, -inf) == mismatch);
  CHECK(ulp_distance(-inf, -inf) == 0);
  CHECK(ulp_distance(0.0f, -0.0f) == mismatch);
}

TEST_CASE("math: exp is within its ULP bound of libm over a strided sweep, specials and thresholds") {
  check_accuracy(MathFunction::exp);
}
TEST_CASE("math: log is within its ULP bound of libm over a strided sweep, specials and thresholds") {
  check_accuracy(MathFunction::log);
}
TEST_CASE("math: tanh is within its ULP bound of libm over a strided sweep, specials and thresholds") {
  check_accuracy(MathFunction::tanh);
}
TEST_CASE("math: sigmoid is within its ULP bound of libm over a strided sweep, specials and thresholds") {
  check_accuracy(MathFunction::sigmoid);
}
TEST_CASE("math: sqrt and rsqrt are within their ULP bounds of libm over a strided sweep") {
  check_accuracy(MathFunction::sqrt);
  check_accuracy(MathFunction::rsqrt);
}

TEST_CASE("math: special values follow C99") {
  auto same = [](float got, float want) { return ulp_distance(got, want) == 0; };
  using F = MathFunction;
  for (float nan : {quiet_nan, -quiet_nan, std::numeric_limits<float>::signaling_NaN()})
    for (MathFunction function : all_math_functions) {
      INFO(math_function_name(function));
      CHECK(std::isnan(call(function, nan)));
    }
  CHECK(same(call(F::exp, inf), inf));
  CHECK(same(call(F::exp, -inf), 0.0f));
  CHECK(same(call(F::exp, 0.0f), 1.0f));
  CHECK(same(call(F::exp, -0.0f), 1.0f));
  CHECK(std::isfinite(call(F::exp, 88.7228317f)));  // the largest float with a finite e^x
  CHECK(same(call(F::exp, 88.7228394f), inf));
  CHECK(same(call(F::exp, -103.0f), std::numeric_limits<float>::denorm_min()));  // 1.32 * 2^-149
  CHECK(same(call(F::exp, -104.0f), 0.0f));
  CHECK(same(call(F::log, 0.0f), -inf));
  CHECK(same(call(F::log, -0.0f), -inf));
  CHECK(std::isnan(call(F::log, -1.0f)));
  CHECK(std::isnan(call(F::log, -std::numeric_limits<float>::denorm_min())));
  CHECK(std::isnan(call(F::log, -inf)));
  CHECK(same(call(F::log, inf), inf));
  CHECK(same(call(F::log, 1.0f), 0.0f));
  CHECK(ulp_distance(call(F::log, std::numeric_limits<float>::denorm_min()),
                     reference(F::log, std::numeric_limits<float>::denorm_min())) <= 1);
  CHECK(same(call(F::tanh, inf), 1.0f));
  CHECK(same(call(F::tanh, -inf), -1.0f));
  CHECK(same(call(F::tanh, -0.0f), -0.0f));
  CHECK(same(call(F::tanh, 0.0f), 0.0f));
  CHECK(same(call(F::tanh, -std::numeric_limits<float>::denorm_min()), -std::numeric_limits<float>::denorm_min()));
  CHECK(same(call(F::sigmoid, inf), 1.0f));
  CHECK(same(call(F::sigmoid, -inf), 0.0f));
  CHECK(same(call(F::sigmoid, 0.0f), 0.5f));
  CHECK(same(call(F::sigmoid, -0.0f), 0.5f));
  CHECK(call(F::sigmoid, -100.0f) > 0.0f);  // 3.7e-44, a subnormal
  CHECK(ulp_distance(call(F::sigmoid, -100.0f), reference(F::sigmoid, -100.0f)) <= 1);
  CHECK(same(call(F::sqrt, -0.0f), -0.0f));
  CHECK(std::isnan(call(F::sqrt, -1.0f)));
  CHECK(same(call(F::sqrt, inf), inf));
  CHECK(same(call(F::rsqrt, 0.0f), inf));
  CHECK(same(call(F::rsqrt, -0.0f), -inf));
  CHECK(same(call(F::rsqrt, inf), 0.0f));
  CHECK(std::isnan(call(F::rsqrt, -1.0f)));
  // No NaN from any finite or infinite input of tanh, sigmoid and exp.
  for (float x : {std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(), 1e10f, -1e10f, 200.0f,
                  -200.0f}) {
    CHECK(!std::isnan(call(F::tanh, x)));
    CHECK(!std::isnan(call(F::sigmoid, x)));
    CHECK(!std::isnan(call(F::exp, x)));
  }
}

TEST_CASE("math: tanh is odd, within [-1, 1] and exactly +-1 from 9.0109 on") {
  std::vector<float> inputs;
  for (uint64_t bits = 0; bits < 0x7f800000u; bits += 61) inputs.push_back(from_bits(static_cast<uint32_t>(bits)));
  inputs.push_back(inf);
  std::vector<float> negated(inputs.size());
  std::transform(inputs.begin(), inputs.end(), negated.begin(), [](float x) { return -x; });
  std::vector<float> positive = run(kernels().vector(MathFunction::tanh), inputs);
  std::vector<float> negative = run(kernels().vector(MathFunction::tanh), negated);
  size_t not_odd = 0, out_of_range = 0, not_saturated = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    not_odd += to_bits(negative[k]) != (to_bits(positive[k]) ^ 0x80000000u);
    out_of_range += !(positive[k] >= 0.0f && positive[k] <= 1.0f);
    not_saturated += inputs[k] >= 9.0109129f && positive[k] != 1.0f;
  }
  CHECK(not_odd == 0);
  CHECK(out_of_range == 0);
  CHECK(not_saturated == 0);
}

TEST_CASE("math: sigmoid is within [0, 1] and sigmoid(x) + sigmoid(-x) = 1 within its ULP bound") {
  std::vector<float> inputs;
  for (uint64_t bits = 0; bits < 0x7f800000u; bits += 61) inputs.push_back(from_bits(static_cast<uint32_t>(bits)));
  inputs.push_back(inf);
  std::vector<float> negated(inputs.size());
  std::transform(inputs.begin(), inputs.end(), negated.begin(), [](float x) { return -x; });
  std::vector<float> upper = run(kernels().vector(MathFunction::sigmoid), inputs);
  std::vector<float> lower = run(kernels().vector(MathFunction::sigmoid), negated);
  size_t out_of_range = 0, bad_sum = 0;
  double worst_sum_error = 0;
  const double bound = max_ulp_error(MathFunction::sigmoid);
  for (size_t k = 0; k < inputs.size(); ++k) {
    out_of_range += !(upper[k] >= 0.5f && upper[k] <= 1.0f) + !(lower[k] >= 0.0f && lower[k] <= 0.5f);
    // Each term may be off by `bound` ULPs of itself; the sum is exact in double.
    double ulp_upper = std::nextafter(upper[k], inf) - upper[k];
    double ulp_lower = lower[k] == 0 ? 0x1p-149 : std::nextafter(lower[k], inf) - lower[k];
    double error = std::fabs(static_cast<double>(upper[k]) + lower[k] - 1.0);
    worst_sum_error = std::max(worst_sum_error, error / 0x1p-24);
    bad_sum += !(error <= bound * (ulp_upper + ulp_lower));
  }
  INFO("worst |sigmoid(x) + sigmoid(-x) - 1| = " << worst_sum_error << " * 2^-24");
  CHECK(out_of_range == 0);
  CHECK(bad_sum == 0);
}

TEST_CASE("math: exp, log, tanh and sigmoid are monotone over adjacent floats where they switch formula") {
  const int count = 1 << 16;
  for (float start : {-0.3475f, 0.3456f, -0.26f, -1.04f, 88.71f, -87.34f, -103.98f, -104.1f, -0x1p-140f})
    check_monotone(MathFunction::exp, start, count);
  for (float start : {0.7070f, 0.9995f, 1.4140f, 0x1.fffp-127f, 0x1p-149f, 1e-40f})
    check_monotone(MathFunction::log, start, count);
  for (float start : {-1.004f, 0.998f, -0x1p-140f, 8.99f, 9.99f, -9.03f, -0.55f})
    check_monotone(MathFunction::tanh, start, count);
  for (float start : {-0x1p-140f, -0.26f, 0.24f, 16.6f, -17.0f, -87.34f, -103.98f, -104.1f})
    check_monotone(MathFunction::sigmoid, start, count);
}

TEST_CASE("math: vector and scalar kernels agree bit for bit and the masked tail stays inside n") {
  std::vector<float> inputs;
  for (uint64_t bits = 3; bits < (1ull << 32); bits += 4099) inputs.push_back(from_bits(static_cast<uint32_t>(bits)));
  for (float x : special_values()) inputs.push_back(x);
  for (MathFunction function : all_math_functions) {
    INFO(math_function_name(function));
    std::vector<float> vector = run(kernels().vector(function), inputs);
    std::vector<float> scalar = run(kernels().scalar(function), inputs);
    size_t different = 0;
    for (size_t k = 0; k < inputs.size(); ++k) different += to_bits(vector[k]) != to_bits(scalar[k]);
    CHECK(different == 0);

    const float canary = from_bits(0x7fa5a5a5u);
    for (int64_t n = -1; n <= 21; ++n) {
      INFO("n = " << n);
      std::vector<float> in(32), out(32, canary);
      for (size_t k = 0; k < in.size(); ++k) in[k] = 0.37f * static_cast<float>(k) - 2.0f;
      kernels().vector(function)(in.data(), out.data() + 1, n);
      size_t wrong = 0;
      for (int64_t k = 0; k < 32; ++k) {
        bool written = k >= 1 && k < 1 + n;
        float want = written ? reference(function, in[k - 1]) : canary;
        wrong += written ? ulp_distance(out[k], want) > static_cast<uint64_t>(max_ulp_error(function))
                         : to_bits(out[k]) != to_bits(canary);
      }
      CHECK(wrong == 0);
      std::vector<float> in_place = in;  // out == in is allowed
      kernels().vector(function)(in_place.data(), in_place.data(), std::max<int64_t>(n, 0));
      CHECK(std::equal(in_place.begin() + std::max<int64_t>(n, 0), in_place.end(), in.begin() + std::max<int64_t>(n, 0)));
    }
  }
}

TEST_CASE("math: kernels are vector FMA code with readable names and no libm calls") {
  std::string ir = cellforge::jit::emit_math_kernels(cellforge::jit::Stage::ir);
  for (const char* name : {"%exp.r = ", "%log.log1p_f = ", "%tanh.small = ", "%sigmoid.residual = ", "%rsqrt.sqrt = "}) {
    INFO(name);
    CHECK(ir.find(name) != std::string::npos);
  }
  std::string optimized = cellforge::jit::emit_math_kernels(cellforge::jit::Stage::optimized_ir);
  size_t position = 0, calls = 0, libm_calls = 0;
  while ((position = optimized.find(" call ", position)) != std::string::npos) {
    size_t end = optimized.find('\n', position);
    std::string line = optimized.substr(position, end - position);
    ++calls;
    libm_calls += line.find("@llvm.") == std::string::npos;
    position = end;
  }
  CHECK(calls > 0);
  CHECK(libm_calls == 0);
  CHECK(optimized.find("@llvm.fma.v8f32") != std::string::npos);
  if (cellforge::jit::host_target().avx2 && cellforge::jit::host_target().fma) {
    std::string assembly = cellforge::jit::emit_math_kernels(cellforge::jit::Stage::assembly);
    CHECK(assembly.find("ymm") != std::string::npos);
    CHECK(assembly.find("vfmadd") != std::string::npos);
    // the masked tail: vmaskmovps on AVX2, a {%k} mask register where AVX-512VL is present
    CHECK((assembly.find("vmaskmovps") != std::string::npos || assembly.find("{%k") != std::string::npos));
  }
}
