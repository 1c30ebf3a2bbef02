// Internal to the GEMM library (gemm*.cpp): the functions that pack blocks of A and panels of B
// into the layouts the micro-kernel reads, and the few IR-building helpers the library's files
// share. Forward declarations only: no LLVM header here.
//
// Strides and block lengths are run-time arguments (the library serves every spec of a tile); the
// packing routine picks a loop by the strides at run time, once per call, never inside a loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "codegen/llvm/gemm_spec.hpp"

namespace llvm {
class Function;
class IRBuilderBase;
class Module;
class Type;
class Value;
}  // namespace llvm

namespace cellforge::llvm_backend::gemm_detail {

/// Whether LLVM's loop vectorizer may transform a loop. The packing loops are written with explicit
/// vectors where that pays, and scalar otherwise: left to it, the vectorizer turns strided copies
/// into AVX-512 gathers (slow) on CPUs that have them.
enum class Vectorize { yes, no };

/// for (i = begin; i < end; i += step) body(i), at the builder's insertion point, which is left
/// after the loop. The induction variable is named `name`.
void emit_loop(llvm::IRBuilderBase& builder, const std::string& name, llvm::Value* begin, llvm::Value* end,
               llvm::Value* step, const std::function<void(llvm::Value*)>& body,
               Vectorize vectorize = Vectorize::yes);
void emit_loop(llvm::IRBuilderBase& builder, const std::string& name, llvm::Value* begin, llvm::Value* end,
               int64_t step, const std::function<void(llvm::Value*)>& body, Vectorize vectorize = Vectorize::yes);

/// if (condition) then_body(); else else_body(); the insertion point is left after both.
void emit_if(llvm::IRBuilderBase& builder, llvm::Value* condition, const std::string& name,
             const std::function<void()>& then_body, const std::function<void()>& else_body = nullptr);

/// A void function with named parameters; pointer parameters are noalias nocapture (the GEMM's
/// buffers never overlap) and the function is nounwind. Internal functions are also noinline: each
/// kernel and packing routine exists once, and the loop nests that call them stay small.
llvm::Function* new_void_function(llvm::Module& module, const std::string& name,
                                  const std::vector<llvm::Type*>& parameters, const std::vector<const char*>& names,
                                  bool internal);

/// pack_a(a_block, a_packed, full_tiles, edge_rows, kc, row_stride, col_stride): rows of op(A)
/// from a_block (the address of op(A)(row0, p0)), columns p0..p0+kc, as full_tiles micro-panels of
/// mr rows, then one of edge_rows rows if edge_rows > 0. A micro-panel of r rows stores, for each
/// k, its r values contiguously: a_packed[t·mr·kc + k·r + i].
llvm::Function* pack_a_function(llvm::Module& module, const GemmTile& tile);

/// pack_b(b_block, b_packed, q_begin, q_end, kc, n, row_stride, col_stride): panels
/// q_begin..q_end-1 of op(B) from b_block (the address of op(B)(p0, 0)), rows p0..p0+kc, in the
/// packed layout of gemm_spec.hpp with panel stride kc·nr (zero past column n), panel q_begin
/// first.
llvm::Function* pack_b_function(llvm::Module& module, const GemmTile& tile);

}  // namespace cellforge::llvm_backend::gemm_detail
