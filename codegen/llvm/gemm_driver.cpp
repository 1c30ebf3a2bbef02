// The entry points of the GEMM library (see gemm_library.hpp): the blocking loops of Goto/BLIS
// over run-time sizes read from the spec's shape table, calling the tile's packing routines and
// micro-kernels:
//
//   for each block of panels (strided B: pack it into scratch)        q0..q1, nc_panels at a time
//     for each K block                                                p0..p0+kc, balanced
//       for each block of rows of A in [m_begin, m_end): pack it      row0..row0+mc
//         (plan.a_in_place: pack only its edge rows)
//         for each block of columns (gemm_blocks; gemm: one)          [n_begin, n_end) + j·stride
//           for each group of its panels                              q, edge_panels at a time
//             for each panel of the group, each full tile of rows:    kernel_<mr>x<nr>
//               (plan.a_in_place: kernel_<mr>x<nr>_a_in_place, reading rows of A where they are)
//             the edge rows (m % mr) over the whole group:            kernel_<edge>x<group·nr>
//
// Several blocks of columns in one call (a thread's columns of every gate of its features, in a
// time loop split by features) pack A once for all of them.
//
// The edge kernel depends on the number of edge rows and of panels left in the group, both known
// only at run time: it is read from a constant table of the library's kernels (by rows and panel
// count, or by rows for the K-split kernels of matrix-vector products) and called indirectly, once
// per group; the full-tile kernel is called directly. Which kernel runs never changes the
// arithmetic of an element: that is fixed by the plan (see gemm_spec.hpp).
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <string>
#include <vector>

#include "codegen/llvm/gemm.hpp"
#include "codegen/llvm/gemm_library.hpp"
#include "codegen/llvm/gemm_pack.hpp"

namespace cellforge::llvm_backend::gemm_detail {

namespace {

using llvm::Function;
using llvm::Value;

// IR helpers over one builder, for the loop nests of the entry points.
struct Builder {
  llvm::IRBuilder<>& b;
  Value* i64(int64_t v) { return b.getInt64(v); }
  Value* at(Value* base, Value* index, const std::string& name = "") {
    return b.CreateInBoundsGEP(b.getFloatTy(), base, index, name);
  }
  Value* mul(Value* x, Value* y, const std::string& name = "") { return b.CreateMul(x, y, name, true, true); }
  Value* mul(Value* x, int64_t y, const std::string& name = "") { return mul(x, i64(y), name); }
  Value* add(Value* x, Value* y, const std::string& name = "") { return b.CreateAdd(x, y, name, true, true); }
  Value* min(Value* x, Value* y, const std::string& name) { return b.CreateSelect(b.CreateICmpSLT(x, y), x, y, name); }
  Value* max(Value* x, Value* y, const std::string& name) { return b.CreateSelect(b.CreateICmpSGT(x, y), x, y, name); }
  Value* ceil_div(Value* x, int64_t y, const std::string& name) {
    return b.CreateUDiv(b.CreateAdd(x, i64(y - 1)), i64(y), name);
  }
};

// Loads the shape table: field i of the i64 array at `shape`.
std::vector<Value*> load_shape(llvm::IRBuilder<>& b, Value* shape) {
  static const char* const names[shape_fields] = {
      "m", "n", "k", "a_row_stride", "a_col_stride", "b_row_stride", "b_col_stride", "c_row_stride", "prepacked",
      "accumulate", "kc", "k_blocks", "kc_last", "mc", "m_blocks", "mc_last", "edge_rows", "edge_panels",
      "edge_k_split", "panels", "nc_panels", "scratch_a_floats", "a_in_place"};
  std::vector<Value*> fields;
  for (unsigned i = 0; i < shape_fields; ++i)
    fields.push_back(b.CreateAlignedLoad(b.getInt64Ty(), b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), shape, i),
                                         llvm::Align(8), names[i]));
  return fields;
}

// A constant table of kernel addresses, named `what` in the library.
llvm::GlobalVariable* kernel_table(llvm::Module& module, const GemmTile& tile, const std::string& what,
                                   const std::vector<llvm::Constant*>& entries) {
  auto* type = llvm::ArrayType::get(llvm::PointerType::get(module.getContext(), 0), entries.size());
  return new llvm::GlobalVariable(module, type, true, llvm::GlobalValue::InternalLinkage,
                                  llvm::ConstantArray::get(type, entries), library_internal_name(tile, what));
}

}  // namespace

std::string library_internal_name(const GemmTile& tile, const std::string& what) {
  return "gemm_" + gemm_tile_name(tile) + "." + what;
}

void allow_vector_width(llvm::Function* f, const GemmTile& tile) {
  const int64_t bits = 32 * tile.vector_floats;
  if (bits > 256) f->addFnAttr("min-legal-vector-width", std::to_string(bits));
}

Function* emit_library_gemm(llvm::Module& module, const GemmTile& tile) {
  llvm::LLVMContext& context = module.getContext();
  llvm::IRBuilder<> ir(context);
  Builder x{ir};
  llvm::Type* i64 = ir.getInt64Ty();
  llvm::Type* ptr = ir.getPtrTy();
  const int64_t mr = tile.rows, nr = tile.vectors * tile.vector_floats;

  // The kernels: full tiles, and for each edge row count its panel groups and its K-split form.
  Function* tile_kernel = kernel_function(module, tile, mr, 1, 1);
  Function* tile_kernel_a_in_place = kernel_function(module, tile, mr, 1, 1, KernelA::in_place);
  int64_t max_group = 1;
  for (int64_t rows = 1; rows < mr; ++rows) max_group = std::max(max_group, gemm_edge_panels(tile, rows));
  llvm::Constant* null = llvm::ConstantPointerNull::get(llvm::PointerType::get(context, 0));
  std::vector<llvm::Constant*> by_panels(static_cast<size_t>(mr * (max_group + 1)), null), by_rows(static_cast<size_t>(mr), null);
  for (int64_t rows = 1; rows < mr; ++rows) {
    for (int64_t panels = 1; panels <= gemm_edge_panels(tile, rows); ++panels)
      by_panels[static_cast<size_t>(rows * (max_group + 1) + panels)] = kernel_function(module, tile, rows, panels, 1);
    by_rows[static_cast<size_t>(rows)] = kernel_function(module, tile, rows, 1, gemm_edge_k_split(tile, rows));
  }
  llvm::GlobalVariable* edge_table = kernel_table(module, tile, "edge_kernels", by_panels);
  llvm::GlobalVariable* k_split_table = kernel_table(module, tile, "k_split_kernels", by_rows);
  llvm::FunctionType* kernel_type = tile_kernel->getFunctionType();
  Function* pack_a = pack_a_function(module, tile);
  Function* pack_b = pack_b_function(module, tile);

  Function* f = new_void_function(module, gemm_library_symbol(tile, "gemm_blocks"),
                                  {ptr, ptr, ptr, ptr, ptr, i64, i64, i64, i64, i64, i64},
                                  {"shape", "a", "b", "c", "scratch", "n_begin", "n_end", "n_blocks", "n_block_stride",
                                   "m_begin", "m_end"},
                                  false);
  for (unsigned i : {0u, 1u, 2u}) f->getArg(i)->addAttr(llvm::Attribute::ReadOnly);
  ir.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", f));
  const std::vector<Value*> s = load_shape(ir, f->getArg(0));
  Value *a = f->getArg(1), *b = f->getArg(2), *c = f->getArg(3), *scratch = f->getArg(4);
  // Column block j is [n_begin + j·stride, n_end + j·stride); the loops below run over the panels
  // of their union's span and, per block of A rows, over each block's panels.
  Value* n_blocks = f->getArg(7);
  Value* n_block_stride = f->getArg(8);
  auto block_range = [&](Value* block) -> std::pair<Value*, Value*> {
    Value* shift = x.mul(block, n_block_stride, "column_block.shift");
    return {x.max(x.add(f->getArg(5), shift), x.i64(0), "column_block.begin"),
            x.min(x.add(f->getArg(6), shift), s[shape_n], "column_block.end")};
  };
  // (A negative stride lists the blocks from the last: the span is the same.)
  auto [first_begin, first_end] = block_range(x.i64(0));
  auto [last_begin, last_end] = block_range(ir.CreateSub(n_blocks, x.i64(1)));
  Value* n_begin = x.min(first_begin, last_begin, "n_begin");
  Value* n_end = x.max(first_end, last_end, "n_end");
  Value* m_begin = x.max(f->getArg(9), x.i64(0), "m_begin.clamped");
  Value* m_end = x.min(f->getArg(10), s[shape_m], "m_end.clamped");
  Value* prepacked = ir.CreateICmpNE(s[shape_prepacked], x.i64(0), "is_prepacked");
  Value* a_in_place = ir.CreateICmpNE(s[shape_a_in_place], x.i64(0), "a_in_place");
  Value* a_rows_contiguous = ir.CreateICmpEQ(s[shape_a_col_stride], x.i64(1), "a_rows_contiguous");
  Value* a_packed = scratch;
  Value* b_scratch = x.at(scratch, s[shape_scratch_a_floats], "b_scratch");
  Value* c_row_stride = s[shape_c_row_stride];

  Value* any_columns = ir.CreateAnd(ir.CreateICmpSGT(n_blocks, x.i64(0)), ir.CreateICmpSLT(n_begin, n_end));
  emit_if(ir, ir.CreateAnd(any_columns, ir.CreateICmpSLT(m_begin, m_end)), "any", [&] {
    Value* q_first = ir.CreateUDiv(n_begin, x.i64(nr), "q_first");
    Value* q_end = x.ceil_div(n_end, nr, "q_end");
    Value* nc_panels = ir.CreateSelect(prepacked, s[shape_panels], s[shape_nc_panels], "nc_panels");
    emit_loop(ir, "q_block", q_first, q_end, nc_panels, [&](Value* q0) {
      Value* q1 = x.min(x.add(q0, nc_panels), q_end, "q_block.end");
      emit_loop(ir, "k_block", x.i64(0), s[shape_k_blocks], 1, [&](Value* kb) {
        Value* p0 = x.mul(kb, s[shape_kc], "p0");
        Value* is_last_k = ir.CreateICmpEQ(kb, ir.CreateSub(s[shape_k_blocks], x.i64(1)));
        Value* kc = ir.CreateSelect(is_last_k, s[shape_kc_last], s[shape_kc], "kc");
        Value* overwrite = ir.CreateAnd(ir.CreateICmpEQ(s[shape_accumulate], x.i64(0)),
                                        ir.CreateICmpEQ(kb, x.i64(0)), "overwrite");
        // Panel q of this K block is at b_base + (q - b_first_panel)·panel_stride.
        emit_if(ir, ir.CreateNot(prepacked), "strided_b", [&] {
          Value* b_block = x.at(b, x.mul(p0, s[shape_b_row_stride]), "b_block");
          ir.CreateCall(pack_b, {b_block, b_scratch, q0, q1, kc, s[shape_n], s[shape_b_row_stride],
                                 s[shape_b_col_stride]});
        });
        Value* b_base = ir.CreateSelect(prepacked, x.at(b, x.mul(p0, nr)), b_scratch, "b_k_block");
        Value* panel_stride = ir.CreateSelect(prepacked, x.mul(s[shape_k], nr), x.mul(kc, nr), "panel_stride");
        Value* b_first_panel = ir.CreateSelect(prepacked, x.i64(0), q0, "b_first_panel");
        // The M blocks that meet [m_begin, m_end), each cut to that range: a thread given a range of
        // rows packs only those rows of A. Ranges at multiples of mr leave the edge rows (m % mr)
        // to the last one; a row is computed by the same fma chain whatever the range.
        Value* mb_first = ir.CreateUDiv(m_begin, s[shape_mc], "m_block.first");
        Value* mb_end = ir.CreateUDiv(ir.CreateAdd(m_end, ir.CreateSub(s[shape_mc], x.i64(1))), s[shape_mc], "m_block.end");
        emit_loop(ir, "m_block", mb_first, mb_end, 1, [&](Value* mb) {
          Value* block_begin = x.mul(mb, s[shape_mc], "m_block.begin");
          Value* is_last_m = ir.CreateICmpEQ(mb, ir.CreateSub(s[shape_m_blocks], x.i64(1)), "last_m_block");
          Value* block_rows = ir.CreateSelect(is_last_m, s[shape_mc_last], s[shape_mc]);
          Value* row0 = x.max(block_begin, m_begin, "row0");
          Value* row_end = x.min(x.add(block_begin, block_rows), m_end, "row_end");
          Value* rows = ir.CreateSub(row_end, row0, "rows");
          Value* full_tiles = ir.CreateUDiv(rows, x.i64(mr), "full_tiles");
          Value* edge_rows = ir.CreateURem(rows, x.i64(mr), "edge_rows");
          Value* a_row_stride = s[shape_a_row_stride];
          Value* a_block = x.at(a, x.add(x.mul(row0, a_row_stride), x.mul(p0, s[shape_a_col_stride])), "a_block");
          // Packed A: every tile of the block. A read in place: only the edge rows are packed.
          Value* packed_tiles = ir.CreateSelect(a_in_place, x.i64(0), full_tiles, "packed_tiles");
          // A single edge row with unit column stride is its own packed panel (k after k): the
          // edge kernel reads it where it is (a matrix-vector product packed its vector per call).
          Value* edge_row_in_place = ir.CreateAnd(ir.CreateICmpEQ(edge_rows, x.i64(1)), a_rows_contiguous,
                                                  "edge_row_in_place");
          Value* packed_edge_rows = ir.CreateSelect(edge_row_in_place, x.i64(0), edge_rows, "packed_edge_rows");
          Value* pack_from = x.at(a_block, x.mul(x.mul(ir.CreateSub(full_tiles, packed_tiles), mr), a_row_stride), "a_pack_from");
          ir.CreateCall(pack_a, {pack_from, a_packed, packed_tiles, packed_edge_rows, kc, a_row_stride,
                                 s[shape_a_col_stride]});
          // Edge kernels exist for up to edge_panels(rows) panels; a row range that cuts a tile
          // leaves other edge rows than the plan's, which go one panel at a time.
          Value* group = ir.CreateSelect(ir.CreateICmpEQ(edge_rows, s[shape_edge_rows]), s[shape_edge_panels], x.i64(1),
                                         "panel_group.size");
          emit_loop(ir, "column_block", x.i64(0), n_blocks, 1, [&](Value* column_block) {
          auto [block_begin_column, block_end_column] = block_range(column_block);
          // One kernel call over `panels` panels from q: its B, its C tile and its column window.
          auto call = [&](llvm::FunctionCallee kernel, Value* a_panel, Value* a_stride, Value* c_rows, Value* q,
                          Value* panels) {
            Value* b_panel = x.at(b_base, ir.CreateMul(ir.CreateSub(q, b_first_panel), panel_stride), "b_panel");
            Value* column0 = x.mul(q, nr, "column0");
            Value* col_lo = x.max(ir.CreateSub(block_begin_column, column0), x.i64(0), "col_lo");
            Value* col_hi = x.min(ir.CreateSub(block_end_column, column0), x.mul(panels, nr), "col_hi");
            ir.CreateCall(kernel, {a_panel, a_stride, b_panel, panel_stride, x.at(c_rows, column0, "c_tile"),
                                   c_row_stride, kc, overwrite, col_lo, col_hi});
          };
          Value* block_q0 = x.max(q0, ir.CreateUDiv(block_begin_column, x.i64(nr)), "column_block.q0");
          Value* block_q1 = x.min(q1, x.ceil_div(block_end_column, nr, "column_block.q_end"), "column_block.q1");
          emit_loop(ir, "panel_group", block_q0, block_q1, group, [&](Value* q) {
            Value* group_end = x.min(x.add(q, group), block_q1, "panel_group.end");
            emit_loop(ir, "panel", q, group_end, 1, [&](Value* panel) {
              emit_loop(ir, "tile", x.i64(0), full_tiles, 1, [&](Value* t) {
                Value* c_rows = x.at(c, x.mul(x.add(row0, x.mul(t, mr)), c_row_stride), "c_rows");
                emit_if(ir, a_in_place, "a_in_place", [&] {
                  Value* a_rows = x.at(a_block, x.mul(x.mul(t, mr), a_row_stride), "a_rows");
                  call(tile_kernel_a_in_place, a_rows, a_row_stride, c_rows, panel, x.i64(1));
                }, [&] {
                  call(tile_kernel, x.at(a_packed, ir.CreateMul(x.mul(t, mr), kc), "a_panel"), a_row_stride, c_rows,
                       panel, x.i64(1));
                });
              });
            });
            emit_if(ir, ir.CreateICmpSGT(edge_rows, x.i64(0)), "edge_rows", [&] {
              Value* edge_row = x.add(row0, x.mul(full_tiles, mr), "edge_row");
              Value* a_edge = ir.CreateSelect(edge_row_in_place, x.at(a_block, x.mul(x.mul(full_tiles, mr), a_row_stride)),
                                              x.at(a_packed, ir.CreateMul(x.mul(packed_tiles, mr), kc)), "a_edge_panel");
              Value* c_edge = x.at(c, x.mul(edge_row, c_row_stride), "c_edge_rows");
              Value* panels_left = ir.CreateSub(group_end, q, "panels_left");
              Value* by_panel_count =
                  ir.CreateInBoundsGEP(ptr, edge_table, {x.add(x.mul(edge_rows, max_group + 1), panels_left)});
              Value* by_row_count = ir.CreateInBoundsGEP(ptr, k_split_table, {edge_rows});
              Value* slot = ir.CreateSelect(ir.CreateICmpSGT(s[shape_edge_k_split], x.i64(1)), by_row_count,
                                            by_panel_count, "edge_kernel.slot");
              Value* kernel = ir.CreateAlignedLoad(ptr, slot, llvm::Align(8), "edge_kernel");
              call(llvm::FunctionCallee(kernel_type, kernel), a_edge, a_row_stride, c_edge, q, panels_left);
            });
          });
          });
        });
      });
    });
  });
  ir.CreateRetVoid();

  // gemm(shape, a, b, c, scratch, n_begin, n_end, m_begin, m_end): one block of columns.
  Function* one = new_void_function(module, gemm_library_symbol(tile, "gemm"), {ptr, ptr, ptr, ptr, ptr, i64, i64, i64, i64},
                                    {"shape", "a", "b", "c", "scratch", "n_begin", "n_end", "m_begin", "m_end"}, false);
  for (unsigned i : {0u, 1u, 2u}) one->getArg(i)->addAttr(llvm::Attribute::ReadOnly);
  ir.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", one));
  ir.CreateCall(f, {one->getArg(0), one->getArg(1), one->getArg(2), one->getArg(3), one->getArg(4), one->getArg(5),
                    one->getArg(6), x.i64(1), x.i64(0), one->getArg(7), one->getArg(8)});
  ir.CreateRetVoid();
  return one;
}

Function* emit_library_pack(llvm::Module& module, const GemmTile& tile) {
  llvm::IRBuilder<> ir(module.getContext());
  Builder x{ir};
  llvm::Type* i64 = ir.getInt64Ty();
  llvm::Type* ptr = ir.getPtrTy();
  const int64_t nr = tile.vectors * tile.vector_floats;
  Function* pack_b = pack_b_function(module, tile);
  Function* f = new_void_function(module, gemm_library_symbol(tile, "pack"), {ptr, ptr, ptr, i64, i64},
                                  {"shape", "b", "b_packed", "n_begin", "n_end"}, false);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  f->getArg(1)->addAttr(llvm::Attribute::ReadOnly);
  ir.SetInsertPoint(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  const std::vector<Value*> s = load_shape(ir, f->getArg(0));
  // The panels whose first column q·nr lies in [n_begin, n_end): q in [ceil(n_begin/nr), ceil(n_end/nr)).
  auto clamp = [&](Value* v, const char* name) { return x.min(x.max(v, x.i64(0), ""), s[shape_n], name); };
  Value* q_begin = x.ceil_div(clamp(f->getArg(3), "n_begin.clamped"), nr, "q_begin");
  Value* q_end = x.ceil_div(clamp(f->getArg(4), "n_end.clamped"), nr, "q_end");
  emit_if(ir, ir.CreateICmpSLT(q_begin, q_end), "any", [&] {
    Value* first_panel = x.at(f->getArg(2), x.mul(q_begin, x.mul(s[shape_k], nr)), "first_panel");
    ir.CreateCall(pack_b, {f->getArg(1), first_panel, q_begin, q_end, s[shape_k], s[shape_n], s[shape_b_row_stride],
                           s[shape_b_col_stride]});
  });
  ir.CreateRetVoid();
  return f;
}

}  // namespace cellforge::llvm_backend::gemm_detail
