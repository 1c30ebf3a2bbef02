// Internal to the GEMM (gemm*.cpp): the calling convention between a spec's thin functions and the
// kernel library of its tile, and the generators of the library's parts. Forward declarations
// only: no LLVM header here.
//
// A spec's functions pass the library a pointer to a constant table of int64 values, the *shape*:
// the spec's sizes, strides and form, and its plan (GemmPlan), indexed by GemmShapeField. The plan
// is computed once, in C++, by plan_gemm; the library never re-derives it, so the summation order
// of every C element is the one gemm_spec.hpp describes, whatever code runs it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "codegen/llvm/gemm_spec.hpp"

namespace llvm {
class Function;
class Module;
}  // namespace llvm

namespace cellforge::llvm_backend::gemm_detail {

/// The fields of the shape table, in order (each an int64): the spec's fields, then its plan's.
enum GemmShapeField : unsigned {
  shape_m, shape_n, shape_k,
  shape_a_row_stride, shape_a_col_stride, shape_b_row_stride, shape_b_col_stride, shape_c_row_stride,
  shape_prepacked, shape_accumulate,
  shape_kc, shape_k_blocks, shape_kc_last, shape_mc, shape_m_blocks, shape_mc_last,
  shape_edge_rows, shape_edge_panels, shape_edge_k_split, shape_panels, shape_nc_panels, shape_scratch_a_floats,
  shape_a_in_place,
  shape_fields  // the count
};

/// The shape table of a spec, in GemmShapeField order.
inline std::array<int64_t, shape_fields> gemm_shape(const GemmSpec& spec) {
  const GemmPlan plan = plan_gemm(spec);
  return {spec.m, spec.n, spec.k,
          spec.a_row_stride, spec.a_col_stride, spec.b_row_stride, spec.b_col_stride, spec.c_row_stride,
          spec.b == GemmB::prepacked ? 1 : 0, spec.accumulate ? 1 : 0,
          plan.kc, plan.k_blocks, plan.kc_last, plan.mc, plan.m_blocks, plan.mc_last,
          plan.edge_rows, plan.edge_panels, plan.edge_k_split, plan.panels, plan.nc_panels, plan.scratch_a_floats,
          plan.a_in_place ? 1 : 0};
}

/// Where a kernel reads A: from the packed panel (a_panel[k·rows + r]), or in place (see
/// GemmPlan::a_in_place) from rows of A (a_panel[r·a_stride + k]).
enum class KernelA { packed, in_place };

/// The micro-kernel of `tile` for `rows` rows over `panels` consecutive B panels, with `k_split`
/// accumulator sets (gemm_kernel.cpp), emitted into the library module if absent:
///   kernel(a_panel, a_stride, b_panel, b_panel_stride, c, c_row_stride, kc, overwrite, col_lo, col_hi)
/// All kernels of a library share this signature, so the driver can pick edge kernels from a table;
/// a_stride is read only by the in-place forms.
llvm::Function* kernel_function(llvm::Module& module, const GemmTile& tile, int64_t rows, int64_t panels,
                                int64_t k_split, KernelA a_form = KernelA::packed);

/// The library's entry points (gemm_driver.cpp):
///   gemm_blocks(shape, a, b, c, scratch, n_begin, n_end, n_blocks, n_block_stride, m_begin, m_end)
///                                                   the blocking loops (gemm_driver.cpp), over blocks of columns
///   gemm(shape, a, b, c, scratch, n_begin, n_end, m_begin, m_end)   one block
///   pack(shape, b, packed, n_begin, n_end)          packs the panels of [n_begin, n_end)
llvm::Function* emit_library_gemm(llvm::Module& module, const GemmTile& tile);
llvm::Function* emit_library_pack(llvm::Module& module, const GemmTile& tile);

/// The name of an internal function of the library of `tile`: "gemm_<tile name>.<what>".
std::string library_internal_name(const GemmTile& tile, const std::string& what);

/// Marks a library function that uses 16-float vectors as allowed 512-bit registers ("min-legal-
/// vector-width", as clang does for AVX-512 code): CPUs tuned to prefer 256-bit vectors would
/// otherwise split every <16 x float> in two.
void allow_vector_width(llvm::Function* f, const GemmTile& tile);

}  // namespace cellforge::llvm_backend::gemm_detail
