// GemmKernel: one GemmSpec JIT-compiled on its own into callable code (the gemm and its pack
// function), for the tests and the benchmarks of the generated GEMM. Generated networks do not use
// this: they call the gemm from their own module (codegen/llvm/gemm.hpp). No LLVM types here.
//
//   auto kernel = jit::GemmKernel::compile(llvm_backend::dense_gemm(32, 1024, 256, ...));
//   kernel->pack()(weights, packed.data(), 0, n);             // once, if the spec is prepacked
//   kernel->gemm()(a, packed.data(), c, scratch.data(), 0, n); // any column range [n_begin, n_end)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codegen/jit/engine.hpp"
#include "codegen/llvm/gemm_spec.hpp"

namespace cellforge::jit {

class GemmKernel {
 public:
  /// C[:, n_begin:n_end] (+)= op(A)·op(B)[:, n_begin:n_end]; see codegen/llvm/gemm.hpp.
  using GemmFunction = void (*)(const float* a, const float* b, float* c, float* scratch, int64_t n_begin,
                                int64_t n_end);
  /// Packs the panels of op(B) whose first column is in [n_begin, n_end); see gemm_spec.hpp.
  using PackFunction = void (*)(const float* b, float* packed, int64_t n_begin, int64_t n_end);

  /// Generates and compiles the gemm and pack functions of `spec`. The disk cache key includes
  /// llvm_backend::gemm_generator_version and every field of the spec.
  static std::unique_ptr<GemmKernel> compile(const llvm_backend::GemmSpec& spec, const CompileOptions& options = {});

  const llvm_backend::GemmSpec& spec() const { return spec_; }
  GemmFunction gemm() const { return gemm_; }
  PackFunction pack() const { return pack_; }
  /// Floats of scratch per concurrent gemm call, and of the packed B buffer.
  int64_t scratch_floats() const { return llvm_backend::gemm_scratch_floats(spec_); }
  int64_t packed_floats() const { return llvm_backend::gemm_packed_floats(spec_); }
  const CompileStats& stats() const { return code_->stats(); }

 private:
  GemmKernel(llvm_backend::GemmSpec spec, std::unique_ptr<CompiledCode> code);
  llvm_backend::GemmSpec spec_;
  std::unique_ptr<CompiledCode> code_;
  GemmFunction gemm_ = nullptr;
  PackFunction pack_ = nullptr;
};

/// The module of `spec` (gemm and pack function) as LLVM IR, optimized IR or assembly for this CPU.
std::string emit_gemm(const llvm_backend::GemmSpec& spec, Stage stage, int opt_level = 3);

}  // namespace cellforge::jit
