// Standalone JIT kernels for the inline transcendentals of codegen/llvm/math.hpp: one function
// `void(const float* in, float* out, int64_t n)` per activation, so tests, the exhaustive ULP sweep
// (bench/ulp_sweep.cpp) and `inspect` can run exactly the IR that fused loops inline.
//
//   jit::MathKernels kernels = jit::compile_math_kernels();
//   kernels.vector(jit::MathFunction::tanh)(in, out, n);
//
// Two kernels per function: `vector` runs <8 x float> lanes with a masked tail (llvm.masked.load /
// store, so it never reads or writes past n), `scalar` runs the same IR on `float`, one element
// at a time. Both give the same bits.
//
// The accuracy contract is stated in ULPs; `ulp_distance` is the metric the tests and the sweep
// use, and `max_ulp_error` the bound each function is tested against (docs/numerics.md).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "codegen/jit/engine.hpp"

namespace cellforge::jit {

enum class MathFunction { exp, log, tanh, sigmoid, sqrt, rsqrt };
inline constexpr std::array<MathFunction, 6> all_math_functions = {
    MathFunction::exp, MathFunction::log, MathFunction::tanh, MathFunction::sigmoid, MathFunction::sqrt,
    MathFunction::rsqrt};

/// "exp", "log", "tanh", "sigmoid", "sqrt", "rsqrt".
const char* math_function_name(MathFunction function);

/// The largest error, in ULPs against the correctly rounded result, that the tests accept and
/// docs/numerics.md states (measured over all 2^32 inputs against double libm rounded to float).
int max_ulp_error(MathFunction function);

/// out[i] = f(in[i]) for 0 <= i < n; n <= 0 does nothing. `in` and `out` may be the same buffer
/// but must not otherwise overlap; no alignment is required.
using MathKernel = void (*)(const float* in, float* out, int64_t n);

/// The compiled kernels; owns the code (the function pointers die with it).
class MathKernels {
 public:
  MathKernel vector(MathFunction function) const { return vector_[index(function)]; }
  MathKernel scalar(MathFunction function) const { return scalar_[index(function)]; }
  const CompileStats& stats() const { return code_->stats(); }

  MathKernels(std::unique_ptr<CompiledCode> code, std::array<MathKernel, 6> vector, std::array<MathKernel, 6> scalar)
      : code_(std::move(code)), vector_(vector), scalar_(scalar) {}

 private:
  static size_t index(MathFunction function) { return static_cast<size_t>(function); }

  std::unique_ptr<CompiledCode> code_;
  std::array<MathKernel, 6> vector_;
  std::array<MathKernel, 6> scalar_;
};

/// JIT-compiles the twelve kernels into one module (about 0.1-0.3 s at O3; a disk-cache hit
/// skips it). The cache key is a hash of the module's IR text, so a change to the math can never
/// be served stale code.
MathKernels compile_math_kernels(const CompileOptions& options = {});

/// The kernels' module as `emit` shows it (IR as built, optimized IR, or assembly).
std::string emit_math_kernels(Stage stage, int opt_level = 3);

/// The symbol of a kernel in the module: "cf_math_<name>_f32x8" or "cf_math_<name>_f32".
std::string math_kernel_symbol(MathFunction function, bool vector);

/// Distance between two floats in units in the last place, counting the representable floats
/// between them (so it is exact across binades and into the subnormals). Mismatches that no ULP
/// count describes are infinite (UINT64_MAX): NaN against a number, an infinity against a finite
/// value or the other infinity, and +0 against -0. NaN against NaN is 0 (any payload).
inline uint64_t ulp_distance(float a, float b) {
  constexpr uint64_t mismatch = std::numeric_limits<uint64_t>::max();
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : mismatch;
  if (std::isinf(a) || std::isinf(b)) return a == b ? 0 : mismatch;
  if (a == 0 && b == 0) return std::signbit(a) == std::signbit(b) ? 0 : mismatch;
  // Map the sign-magnitude bit patterns onto a line where adjacent floats differ by 1.
  auto ordered = [](float f) {
    int64_t bits = std::bit_cast<int32_t>(f);
    return bits < 0 ? std::numeric_limits<int32_t>::min() - bits : bits;
  };
  int64_t difference = ordered(a) - ordered(b);
  return static_cast<uint64_t>(difference < 0 ? -difference : difference);
}

}  // namespace cellforge::jit
