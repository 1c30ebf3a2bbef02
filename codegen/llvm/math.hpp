// Inline transcendentals for generated code: exp, log, tanh, sigmoid, sqrt and 1/sqrt as
// straight-line LLVM IR (selects, no branches, no calls), on `float` and on `<N x float>`.
//
// Why inline: a call to libm blocks the loop vectorizer, and LLVM 19 maps no vector tanhf to
// libmvec (docs/numerics.md, research/toolchain.md gotcha 9). Emitting the math ourselves keeps
// each fused elementwise loop one vectorized block of FMAs, whatever the activation, and gives the
// results a stated, tested accuracy that does not depend on the host's libm.
//
// Accuracy over all 2^32 float inputs, against double-precision libm rounded to float, is
// measured by bench/ulp_sweep.cpp and recorded in docs/numerics.md; tests/unit/test_math.cpp
// checks it on a dense sweep. Every function handles NaN, ±inf, ±0 and subnormals as C99 does.
//
// The emitted IR never carries fast-math flags, whatever flags the builder holds: the range
// reductions depend on exact rounding (reassociation would fold `(x + C) - C` to x) and the
// special-value selects compare against NaN and infinity. The builder's flags are restored on
// return.
//
// This header includes LLVM: only codegen/llvm/ and codegen/jit/ may include it.
#pragma once

#include <llvm/IR/IRBuilder.h>

#include <string>

namespace cellforge::llvm_backend {

// Each function takes a value of type float or <N x float> and returns a value of the same type.
// `name` names the result in the IR; the intermediate values are named `<name>.<part>`
// (`%tanh.small`, `%exp.scale`), so the IR can be read next to docs/numerics.md.

/// e^x. Max error 1 ULP. exp(NaN) = NaN, exp(+inf) = +inf, exp(-inf) = +0, +inf above
/// 88.7228317 (the largest float with a finite expf), subnormal results down to 2^-149, 0 below.
llvm::Value* emit_exp(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name = "exp");

/// Natural logarithm. Max error 1 ULP, including subnormal inputs. log(±0) = -inf,
/// log(x < 0) = NaN, log(+inf) = +inf, log(NaN) = NaN.
llvm::Value* emit_log(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name = "log");

/// Hyperbolic tangent. Max error 1 ULP; odd (bit-exact tanh(-x) = -tanh(x), tanh(-0) = -0);
/// within [-1, 1]; exactly ±1 from |x| ≥ 9.0109; tanh(±inf) = ±1; monotone.
llvm::Value* emit_tanh(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name = "tanh");

/// Logistic sigmoid 1 / (1 + e^-x). Max error 1 ULP, including the subnormal tail below
/// x = -87.3; within [0, 1]; σ(+inf) = 1, σ(-inf) = 0; monotone; no NaN for any non-NaN input.
llvm::Value* emit_sigmoid(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name = "sigmoid");

/// Square root (llvm.sqrt: correctly rounded, 0 ULP).
llvm::Value* emit_sqrt(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name = "sqrt");

/// 1 / sqrt(x) as a correctly rounded sqrt followed by a division: max error 1 ULP.
/// rsqrt(+0) = +inf, rsqrt(-0) = -inf, rsqrt(+inf) = +0, rsqrt(x < 0) = NaN.
llvm::Value* emit_rsqrt(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name = "rsqrt");

}  // namespace cellforge::llvm_backend
