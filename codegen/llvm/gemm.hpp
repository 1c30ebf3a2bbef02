// The generated GEMM, as two layers (see gemm_spec.hpp for the spec, the packed layout of B and the
// blocking):
//
//   the kernel library of a tile   compiled once per machine (jit::gemm_library caches its object
//                                  on disk and in the process) and linked into every compiled
//                                  network that uses the tile: micro-kernels for every row count
//                                  and panel group, packing routines, and the blocking loops. Every
//                                  size, stride and block length is a run-time argument; the
//                                  register tile and the k loop are specialized.
//   a spec's thin functions        emitted into the network's module: a constant table of the
//                                  spec's sizes, strides and plan, and one call into the library.
//
// So a network with six products compiles six two-instruction functions instead of six specialized
// GEMMs (~1.5 s of LLVM time for an LSTM before this split).
//
// For a spec whose symbol is S (gemm_symbol(spec)) the network's module gets:
//
//   void S(const float* A, const float* B, float* C, float* scratch, int64_t n_begin, int64_t n_end,
//          int64_t m_begin, int64_t m_end)
//       C[m_begin:m_end, n_begin:n_end] (+)= op(A)[m_begin:m_end, :] · op(B)[:, n_begin:n_end]. B is
//       strided or packed as the spec says; scratch holds gemm_scratch_floats(spec) floats, private
//       to the call. Each C element is computed by the one call whose ranges hold it, by the same
//       fma sequence whatever the ranges, so splitting N or M between threads gives bitwise
//       identical results. The ranges are clamped to [0, n) and [0, m); column splits at multiples
//       of gemm_column_granule(spec) and row splits at multiples of gemm_row_granule(spec) waste no
//       work. A split of N packs all of A in every call, a split of M all the B panels (strided B)
//       in every call: split the dimension whose other operand is cheaper to pack twice. A product
//       with fewer rows than a tile (k-split kernels, see gemm_spec.hpp) is split by columns only.
//       C must not overlap A, B or scratch.
//   void S_pack(const float* B, float* packed, int64_t n_begin, int64_t n_end)
//       Writes the packed panels of op(B) whose first column lies in [n_begin, n_end): calls over a
//       partition of [0, n) write every panel exactly once.
//
// Both have external linkage so the JIT can look them up; they call the library functions
// gemm_library_symbol(tile, "gemm") and (..., "pack"), which the JIT must be given
// (jit::gemm_library).
#pragma once

#include <string>

#include "codegen/llvm/gemm_spec.hpp"

namespace llvm {
class Function;
class Module;
}  // namespace llvm

namespace cellforge::llvm_backend {

/// Names the version of the code the spec functions and the library contain, and the calling
/// convention between them. It changes whenever either does, and belongs in the cache key of every
/// module that calls a gemm and of the library itself.
constexpr const char* gemm_generator_version = "gemm-v7";

/// The gemm function of `spec` in `module` (a call into the tile's library), emitted if the module
/// has none of that symbol yet. Throws InternalError for an invalid spec.
llvm::Function* get_or_emit_gemm(llvm::Module& module, const GemmSpec& spec);

/// The gemm function of `spec` over several blocks of columns in one call (symbol gemm_symbol(spec)
/// + "_blocks"), emitted if absent:
///   void S_blocks(A, B, C, scratch, n_begin, n_end, n_blocks, n_block_stride, m_begin, m_end)
/// computes S over columns [n_begin + j·n_block_stride, n_end + j·n_block_stride) for j in
/// [0, n_blocks), in that order (a negative stride lists them from the last; blocks must not
/// overlap), packing A once for all of them; each element is computed as by S.
llvm::Function* get_or_emit_gemm_blocks(llvm::Module& module, const GemmSpec& spec);

/// The pack function of `spec` in `module` (symbol gemm_symbol(spec) + "_pack"), emitted if absent.
llvm::Function* get_or_emit_gemm_pack(llvm::Module& module, const GemmSpec& spec);

/// The kernel library of `tile`, emitted into an empty module: its two entry points
/// gemm_library_symbol(tile, "gemm"|"pack") are external, everything else internal.
void emit_gemm_library(llvm::Module& module, const GemmTile& tile);

/// The symbol of a library entry point: "cf_gemmlib_<tile name>_<entry>". (No version in it: the
/// cache keys of a network and of the library both hold the code generator's source hash, so a
/// network object is never linked with a library of another version.)
std::string gemm_library_symbol(const GemmTile& tile, const std::string& entry);

/// Throws InternalError naming the field if `spec` cannot be generated (sizes < 1, a C row stride
/// shorter than a row, or a tile check_gemm_tile rejects).
void check_gemm_spec(const GemmSpec& spec);

/// Throws InternalError if no library can be built for `tile`: rows 1..16, vectors 1..8 of 8 or 16
/// floats, accumulators + B vectors + a broadcast within `registers`. Vectors of 16 floats need a
/// host with AVX-512F (UserError otherwise: the code would not run here).
void check_gemm_tile(const GemmTile& tile);

}  // namespace cellforge::llvm_backend
