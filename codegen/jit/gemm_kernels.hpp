// The GEMM on the JIT side: the kernel library of a tile as a jit::Library (compiled once per
// machine, cached on disk and in the process, linked into every compilation that uses the tile),
// and GemmKernel, one GemmSpec compiled on its own into callable code for the tests and the
// benchmarks. Generated networks call their gemms from their own module (codegen/llvm/gemm.hpp)
// and list the libraries of their tiles (gemm_libraries). No LLVM types here.
//
//   auto kernel = jit::GemmKernel::compile(llvm_backend::dense_gemm(32, 1024, 256, ...));
//   kernel->pack()(weights, packed.data(), 0, n);             // once, if the spec is prepacked
//   kernel->gemm()(a, packed.data(), c, scratch.data(), 0, n, 0, m); // any ranges of columns and rows
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codegen/jit/engine.hpp"
#include "codegen/llvm/gemm_spec.hpp"

namespace cellforge::jit {

/// The kernel library of `tile`. Its cache key names gemm_generator_version, the tile, a hash of the
/// code generator's sources, and (through cache_key) the CPU, its features and the LLVM version.
Library gemm_library(const llvm_backend::GemmTile& tile);

/// The libraries of the tiles `specs` use, each once.
std::vector<Library> gemm_libraries(const std::vector<llvm_backend::GemmSpec>& specs);

class GemmKernel {
 public:
  /// C[m_begin:m_end, n_begin:n_end] (+)= op(A)·op(B) there; see codegen/llvm/gemm.hpp.
  using GemmFunction = void (*)(const float* a, const float* b, float* c, float* scratch, int64_t n_begin,
                                int64_t n_end, int64_t m_begin, int64_t m_end);
  /// The same over columns [n_begin + j·n_block_stride, n_end + j·n_block_stride), j < n_blocks.
  using GemmBlocksFunction = void (*)(const float* a, const float* b, float* c, float* scratch, int64_t n_begin,
                                      int64_t n_end, int64_t n_blocks, int64_t n_block_stride, int64_t m_begin,
                                      int64_t m_end);
  /// Packs the panels of op(B) whose first column is in [n_begin, n_end); see gemm_spec.hpp.
  using PackFunction = void (*)(const float* b, float* packed, int64_t n_begin, int64_t n_end);

  /// Generates and compiles the gemm and pack functions of `spec`, linked with the library of its
  /// tile. The disk cache key of the spec's module includes llvm_backend::gemm_generator_version,
  /// every field of the spec and the code generator's source hash; the library is cached as
  /// gemm_library() says, whatever options.use_disk_cache.
  static std::unique_ptr<GemmKernel> compile(const llvm_backend::GemmSpec& spec, const CompileOptions& options = {});

  const llvm_backend::GemmSpec& spec() const { return spec_; }
  GemmFunction gemm() const { return gemm_; }
  GemmBlocksFunction gemm_blocks() const { return gemm_blocks_; }
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
  GemmBlocksFunction gemm_blocks_ = nullptr;
  PackFunction pack_ = nullptr;
};

/// The module of `spec` (its thin gemm and pack functions) as LLVM IR, optimized IR or assembly.
std::string emit_gemm(const llvm_backend::GemmSpec& spec, Stage stage, int opt_level = 3);

/// The kernel library of `tile` as LLVM IR, optimized IR or assembly for this CPU.
std::string emit_gemm_library(const llvm_backend::GemmTile& tile, Stage stage);

}  // namespace cellforge::jit
