// The generated GEMM: emits into an llvm::Module the functions that compute one GemmSpec, for the
// rest of the generated code to call (no BLAS in generated code). See gemm_spec.hpp for the spec,
// the packed layout of B and the blocking; gemm.cpp for how the code is built.
//
// For a spec whose symbol is S (gemm_symbol(spec)) the module gets:
//
//   void S(const float* A, const float* B, float* C, float* scratch, int64_t n_begin, int64_t n_end)
//       C[:, n_begin:n_end] (+)= op(A) · op(B)[:, n_begin:n_end]. B is strided or packed as the spec
//       says; scratch holds gemm_scratch_floats(spec) floats, private to the call. Each C element is
//       computed by the one call whose column range holds it, by the same fma sequence whatever the
//       range, so splitting N between threads gives bitwise identical results. The ranges are
//       clamped to [0, n); splits at multiples of gemm_column_granule(spec) waste no work. C must
//       not overlap A, B or scratch.
//   void S_pack(const float* B, float* packed, int64_t n_begin, int64_t n_end)
//       Writes the packed panels of op(B) whose first column lies in [n_begin, n_end): calls over a
//       partition of [0, n) write every panel exactly once.
//
// Both have external linkage so the JIT can look them up; code that only calls them from the same
// module may make them internal. Helpers (micro-kernels, A and B packing) are internal.
#pragma once

#include "codegen/llvm/gemm_spec.hpp"

namespace llvm {
class Function;
class Module;
}  // namespace llvm

namespace cellforge::llvm_backend {

/// Names the version of the code this generator emits. It changes whenever the emitted code does,
/// and belongs in the cache key of every module that contains a gemm.
constexpr const char* gemm_generator_version = "gemm-v1";

/// The gemm function of `spec` in `module`, emitted with its helpers if the module has none of that
/// symbol yet. Throws InternalError for an invalid spec.
llvm::Function* get_or_emit_gemm(llvm::Module& module, const GemmSpec& spec);

/// The pack function of `spec` in `module` (symbol gemm_symbol(spec) + "_pack"), emitted if absent.
llvm::Function* get_or_emit_gemm_pack(llvm::Module& module, const GemmSpec& spec);

/// Throws InternalError naming the field if `spec` cannot be generated (sizes < 1, a C row stride
/// shorter than a row, a tile that is not 1..8 rows × 1..4 vectors).
void check_gemm_spec(const GemmSpec& spec);

}  // namespace cellforge::llvm_backend
