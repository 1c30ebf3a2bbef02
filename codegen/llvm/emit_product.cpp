// Lowering of products (matmul, matmul_t, outer) and batch sums, and of concatenations. Products
// of a one-hot input given as indices are gathers and scatters (emit_index_product.cpp).
//
// A product runs over all rows of its phase at once: the B rows of one step inside the time loop,
// all T*B rows before or after it. The output columns or rows (ProductPlan::split_rows) are split
// among threads — in a time loop split by features (ScanPlan::feature_split), the columns of each
// thread's features in every block of F — so each element is computed by one thread in a fixed
// order and results do not depend on the thread count.
#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/llvm/gemm.hpp"
#include "codegen/llvm/lowering_context.hpp"

namespace cellforge::llvm_backend {

using ir::NodeId;
using ir::Op;

namespace {

const Location& location_of(const ScanPlan& scan, const ir::Graph& g, NodeId id) {
  if (!scan.location[id].valid())
    internal_error("operand %", ir::printed_names(g)[id], " of a product has no location\n", ir::print(g));
  return scan.location[id];
}

// A product of the time loop with fewer rows than a tile and packed weights (ProductPlan::packed).
void emit_matrix_vector_product(Lowering& l, const ScanPlan& scan, const GemmSpec& spec, llvm::Value* step,
                                llvm::Value* a_ptr, llvm::Value* b_ptr, llvm::Value* c_ptr, const std::string& name) {
  auto& b = l.b();
  // Fewer rows than a tile: a matrix-vector product that streams the packed weights once per
  // step, at the speed of the cache they come from. This thread's columns are one range, or
  // in a time loop split by features (ScanPlan::feature_split = F) the range of its features
  // in every block of F columns. A thread's share of the weights larger than half of L2 (the
  // LSTM's at H = 256 on one thread: 1 MiB) would miss in it on every step if read in the
  // same order, so the product then walks them in chunks of two panels, ascending on even
  // steps and descending on odd ones: what a step read last, the next one reads first, still
  // in L2. A smaller share stays in L2 anyway and is one call for all blocks. Each column is
  // computed as in one call (any column range gives bitwise the same elements).
  const int64_t block_width = scan.feature_split > 0 ? scan.feature_split : spec.n;
  auto [begin, end] = scan.feature_split > 0 ? l.feature_range(scan)
                                             : l.thread_range(l.int64(spec.n), gemm_column_granule(spec));
  llvm::Value* blocks = l.int64(spec.n / block_width);
  if (spec.n > block_width) {
    // All the features (one thread): the blocks' ranges make one, of all N columns.
    llvm::Value* all = b.CreateICmpEQ(b.CreateSub(end, begin), l.int64(block_width), "all_features");
    blocks = b.CreateSelect(all, l.int64(1), blocks);
    begin = b.CreateSelect(all, l.int64(0), begin);
    end = b.CreateSelect(all, l.int64(spec.n), end);
  }
  llvm::Value* columns = b.CreateSub(end, begin);  // per block
  llvm::Value* share_bytes = b.CreateMul(b.CreateMul(columns, blocks), l.int64(spec.k * 4));
  // Walking: chunks of two panels of every block, one call each; else one call for all blocks
  // (A packed once).
  llvm::Value* walk = b.CreateICmpSGT(share_bytes, l.int64(gemm_l2_bytes), "walk");
  llvm::Value* chunk = b.CreateSelect(walk, l.int64(2 * gemm_column_granule(spec)),
                                      b.CreateSelect(b.CreateICmpSGT(columns, l.int64(1)), columns, l.int64(1)), "chunk");
  llvm::Value* chunks_per_block = b.CreateSDiv(b.CreateAdd(columns, b.CreateSub(chunk, l.int64(1))), chunk);
  llvm::Value* calls = b.CreateSelect(walk, b.CreateMul(chunks_per_block, blocks), chunks_per_block, "calls");
  llvm::Value* descending = b.CreateICmpNE(b.CreateAnd(step, l.int64(1)), l.int64(0), "descending");
  llvm::Function* gemm_blocks = get_or_emit_gemm_blocks(l.module(), spec);
  l.emit_for(l.int64(0), calls, 1, name + ".chunk", [&](llvm::Value* i) {
    llvm::Value* index = b.CreateSelect(descending, b.CreateSub(b.CreateSub(calls, l.int64(1)), i), i);
    llvm::Value* block_start = b.CreateMul(b.CreateSDiv(index, chunks_per_block), l.int64(block_width));
    llvm::Value* from = b.CreateAdd(b.CreateAdd(block_start, begin), b.CreateMul(b.CreateSRem(index, chunks_per_block), chunk));
    llvm::Value* block_end = b.CreateAdd(block_start, end);
    llvm::Value* to = b.CreateAdd(from, chunk);
    to = b.CreateSelect(b.CreateICmpSLT(to, block_end), to, block_end);
    llvm::Value* call_blocks = b.CreateSelect(walk, l.int64(1), blocks);
    llvm::Value* stride = l.int64(block_width);
    if (spec.n > block_width) {
      // One call for all blocks walks them both ways too: the last first on odd steps (a
      // negative stride). At B = 1 on two threads (512 KiB each, half of L2) the forward took
      // 0.325 ms with the blocks always in order, 0.277 so (0.276 before the split by features).
      llvm::Value* reversed = b.CreateAnd(descending, b.CreateNot(walk), "blocks_reversed");
      llvm::Value* last = b.CreateMul(b.CreateSub(blocks, l.int64(1)), l.int64(block_width));
      from = b.CreateSelect(reversed, b.CreateAdd(from, last), from);
      to = b.CreateSelect(reversed, b.CreateAdd(to, last), to);
      stride = b.CreateSelect(reversed, l.int64(-block_width), stride);
    }
    b.CreateCall(gemm_blocks, {a_ptr, b_ptr, c_ptr, l.scratch(), from, to, call_blocks, stride,
                               l.int64(0), l.int64(spec.m)});
  });
}

}  // namespace

void emit_product(Lowering& l, const ScanPlan& scan, NodeId node, llvm::Value* step, llvm::Value* rows) {
  if (const IndexProduct* product = scan.index_product(node)) return emit_index_product(l, scan, *product, step, rows);
  auto& b = l.b();
  const passes::ScanSchedule& s = l.plan().schedule_of(scan);
  const ir::Graph& g = s.graph;
  const ir::Node& n = g.node(node);
  const Location& out = location_of(scan, g, node);
  const std::string name = ir::printed_names(g)[node];
  llvm::Value* zero = llvm::ConstantFP::get(l.f32(), 0.0);
  auto load = [&](const Location& where, llvm::Value* row, llvm::Value* column) {
    return b.CreateAlignedLoad(l.f32(), l.address(where, step, row, column), llvm::Align(4));
  };
  auto row_of = [&](NodeId v, llvm::Value* r) { return g.type(v).shared ? l.int64(0) : r; };
  llvm::Value* row_count = n.type.shared ? l.int64(1) : rows;

  if (const ProductPlan* product = scan.product(node)) {
    // A generated GEMM; this thread computes its share of the output columns.
    const GemmSpec& spec = product->spec;
    llvm::Function* gemm = get_or_emit_gemm(l.module(), spec);
    const bool is_outer = n.op == Op::outer;
    const NodeId a = is_outer ? n.args[0] : n.args[1];
    const NodeId bsrc = is_outer ? n.args[1] : n.args[0];
    llvm::Value* a_ptr = l.address(location_of(scan, g, a), step, nullptr, nullptr);
    llvm::Value* b_ptr = product->packed.valid() ? l.address(product->packed, nullptr, nullptr, nullptr)
                                                 : l.address(location_of(scan, g, bsrc), step, nullptr, nullptr);
    llvm::Value* c_ptr = l.address(out, step, nullptr, nullptr);
    if (product->split_rows) {
      // In the time loop these are the rows the fused loops give this thread (scan.row_granule).
      auto [begin, end] = l.thread_range(l.int64(spec.m), gemm_row_granule(spec));
      b.CreateCall(gemm, {a_ptr, b_ptr, c_ptr, l.scratch(), l.int64(0), l.int64(spec.n), begin, end});
    } else if (step && product->packed.valid() && spec.m < gemm_row_granule(spec)) {
      emit_matrix_vector_product(l, scan, spec, step, a_ptr, b_ptr, c_ptr, name);
    } else {
      auto [begin, end] = l.thread_range(l.int64(spec.n), gemm_column_granule(spec));
      b.CreateCall(gemm, {a_ptr, b_ptr, c_ptr, l.scratch(), begin, end, l.int64(0), l.int64(spec.m)});
    }
    return;
  }
  if (n.op == Op::matmul || n.op == Op::matmul_t) {
    // out[r][i] = sum_k W[i][k] v[r][k]  (matmul)   or   sum_k W[k][i] v[r][k]  (matmul_t)
    const NodeId w = n.args[0], v = n.args[1];
    const Location& W = location_of(scan, g, w);
    const Location& V = location_of(scan, g, v);
    const int64_t outputs = scan.width[node], inner = scan.width[v];
    auto [begin, end] = l.thread_range(l.int64(outputs));
    l.emit_for(l.int64(0), row_count, 1, name + ".r", [&](llvm::Value* r) {
      l.emit_for(begin, end, 1, name + ".i", [&](llvm::Value* i) {
        llvm::Value* acc = l.entry_alloca(l.f32(), name + ".acc");
        b.CreateStore(zero, acc);
        l.emit_for(l.int64(0), l.int64(inner), 1, name + ".k", [&](llvm::Value* k) {
          llvm::Value* weight = n.op == Op::matmul ? load(W, i, k) : load(W, k, i);
          llvm::Value* x = load(V, row_of(v, r), k);
          b.CreateStore(b.CreateFAdd(b.CreateLoad(l.f32(), acc), b.CreateFMul(weight, x)), acc);
        });
        b.CreateAlignedStore(b.CreateLoad(l.f32(), acc), l.address(out, step, r, i), llvm::Align(4));
      });
    });
    return;
  }
  if (n.op == Op::outer) {
    // out[i][j] = sum_r a[r][i] c[r][j]
    const NodeId a = n.args[0], c = n.args[1];
    const Location& A = location_of(scan, g, a);
    const Location& C = location_of(scan, g, c);
    llvm::Value* sum_rows = g.type(a).shared ? l.int64(1) : rows;
    auto [begin, end] = l.thread_range(l.int64(scan.width[node]));
    l.emit_for(begin, end, 1, name + ".i", [&](llvm::Value* i) {
      l.emit_for(l.int64(0), l.int64(scan.cols[node]), 1, name + ".j", [&](llvm::Value* j) {
        llvm::Value* acc = l.entry_alloca(l.f32(), name + ".acc");
        b.CreateStore(zero, acc);
        l.emit_for(l.int64(0), sum_rows, 1, name + ".r", [&](llvm::Value* r) {
          llvm::Value* term = b.CreateFMul(load(A, row_of(a, r), i), load(C, row_of(c, r), j));
          b.CreateStore(b.CreateFAdd(b.CreateLoad(l.f32(), acc), term), acc);
        });
        llvm::Value* where = l.address(out, step, i, j);
        llvm::Value* total = b.CreateLoad(l.f32(), acc);
        if (s.accumulate[node]) total = b.CreateFAdd(b.CreateAlignedLoad(l.f32(), where, llvm::Align(4)), total);
        b.CreateAlignedStore(total, where, llvm::Align(4));
      });
    });
    return;
  }
  if (n.op == Op::batch_sum) {
    // Column sums over the rows, a block of columns at a time held in vector registers while the
    // rows stream past (rows are contiguous; walking down a column would touch a new cache line
    // per element). Each thread owns whole blocks, each column is summed row by row in order: the
    // result does not depend on the number of threads.
    const NodeId a = n.args[0];
    const Location& A = location_of(scan, g, a);
    const int lanes = l.options().vector_width;
    const int64_t vectors = 8, block = lanes * vectors, width = scan.width[node];
    llvm::Value* row_count = g.type(a).shared ? l.int64(1) : rows;
    auto sum_block = [&](llvm::Value* j0, int64_t columns, int w) {
      // `columns` columns from j0, as columns / w vectors of w lanes.
      llvm::Type* type = w == 1 ? l.f32() : static_cast<llvm::Type*>(l.vector(w));
      const int64_t count = columns / w;
      std::vector<llvm::Value*> acc;
      for (int64_t k = 0; k < count; ++k) {
        acc.push_back(l.entry_alloca(type, name + ".acc"));
        b.CreateStore(llvm::Constant::getNullValue(type), acc.back());
      }
      l.emit_for(l.int64(0), row_count, 1, name + ".r", [&](llvm::Value* r) {
        for (int64_t k = 0; k < count; ++k) {
          llvm::Value* v = b.CreateAlignedLoad(type, l.address(A, step, r, b.CreateAdd(j0, l.int64(k * w))), llvm::Align(4));
          b.CreateStore(b.CreateFAdd(b.CreateLoad(type, acc[k]), v), acc[k]);
        }
      });
      for (int64_t k = 0; k < count; ++k) {
        llvm::Value* where = l.address(out, step, l.int64(0), b.CreateAdd(j0, l.int64(k * w)));
        llvm::Value* total = b.CreateLoad(type, acc[k]);
        if (s.accumulate[node]) total = b.CreateFAdd(b.CreateAlignedLoad(type, where, llvm::Align(4)), total);
        b.CreateAlignedStore(total, where, llvm::Align(4));
      }
    };
    if (scan.feature_split > 0 && s.phase[node] == passes::Phase::loop) {
      // In a time loop split by features, this thread's features, a vector at a time (few rows;
      // the features are a multiple of the panels' width, so of the vector's).
      auto [f0, f1] = l.feature_range(scan);
      l.emit_for(f0, f1, lanes, name + ".vector", [&](llvm::Value* j0) { sum_block(j0, lanes, lanes); });
      return;
    }
    const int64_t blocks = width / block;
    auto [begin, end] = l.thread_range(l.int64(blocks + (width % block ? 1 : 0)));
    l.emit_for(begin, end, 1, name + ".block", [&](llvm::Value* index) {
      llvm::Value* j0 = b.CreateMul(index, l.int64(block));
      if (blocks == 0) {
        sum_block(j0, width, 1);
        return;
      }
      llvm::Function* f = b.GetInsertBlock()->getParent();
      auto* full = llvm::BasicBlock::Create(l.context(), name + ".full", f);
      auto* tail = llvm::BasicBlock::Create(l.context(), name + ".tail", f);
      auto* done = llvm::BasicBlock::Create(l.context(), name + ".done", f);
      b.CreateCondBr(b.CreateICmpSLT(index, l.int64(blocks)), full, tail);
      b.SetInsertPoint(full);
      sum_block(j0, block, lanes);
      b.CreateBr(done);
      b.SetInsertPoint(tail);
      if (width % block) sum_block(j0, width % block, 1);
      b.CreateBr(done);
      b.SetInsertPoint(done);
    });
    return;
  }
  internal_error("emit_product: ", ir::op_name(n.op), " is not a product");
}

void emit_packing(Lowering& l, const ScanPlan& scan) {
  const ir::Graph& g = l.plan().schedule_of(scan).graph;
  bool any = false;
  for (const ProductPlan& product : scan.products) any = any || product.packed.valid();
  for (const IndexProduct& product : scan.index_products) any = any || (product.table.valid() && g.node(product.node).op == Op::matmul);
  if (!any) return;
  // Every thread reads the same slot, so all of them skip the packs and their barrier, or none.
  auto& b = l.b();
  llvm::Function* f = b.GetInsertBlock()->getParent();
  auto* pack_now = llvm::BasicBlock::Create(l.context(), "pack_weights", f);
  auto* packed = llvm::BasicBlock::Create(l.context(), "weights_packed", f);
  b.CreateCondBr(b.CreateIsNull(l.slot(kReusePacked), "pack_weights.needed"), pack_now, packed);
  b.SetInsertPoint(pack_now);
  for (const ProductPlan& product : scan.products) {
    if (!product.packed.valid()) continue;
    llvm::Function* pack = get_or_emit_gemm_pack(l.module(), product.spec);
    llvm::Value* weights = l.address(location_of(scan, g, g.node(product.node).args[0]), nullptr, nullptr, nullptr);
    auto [begin, end] = l.thread_range(l.int64(product.spec.n), gemm_column_granule(product.spec));
    b.CreateCall(pack, {weights, l.address(product.packed, nullptr, nullptr, nullptr), begin, end});
  }
  emit_index_tables(l, scan);
  l.barrier();
  b.CreateBr(packed);
  b.SetInsertPoint(packed);
}

bool assembly_part_in_place(const ScanPlan& scan, NodeId node, NodeId part, int64_t offset) {
  const Location in_place = scan.location[node].shifted(offset);
  auto same = [&](const Location& where) {
    return where.valid() && where.slot == in_place.slot && where.offset == in_place.offset &&
           where.row_stride == in_place.row_stride && where.step_stride == in_place.step_stride &&
           where.time_offset == in_place.time_offset;
  };
  if (same(scan.location[part])) return true;
  for (const Location& where : scan.also_at[part])
    if (same(where)) return true;
  return false;
}


void emit_assembly(Lowering& l, const ScanPlan& scan, NodeId node, llvm::Value* step, llvm::Value* rows) {
  auto& b = l.b();
  const passes::ScanSchedule& s = l.plan().schedule_of(scan);
  const ir::Graph& g = s.graph;
  const ir::Node& n = g.node(node);
  const Location& out = location_of(scan, g, node);
  llvm::Value* row_count = n.type.shared ? l.int64(1) : rows;
  // This thread's rows, or in a time loop split by features all rows and, in every block of
  // feature_split columns, the columns of its features (the parts' widths are multiples of it).
  const bool by_features = concat_copied_by_features(s, scan, node, scan.feature_split);
  auto [row_begin, row_end] = by_features ? std::pair<llvm::Value*, llvm::Value*>{l.int64(0), row_count}
                                          : l.row_range(scan, row_count);
  auto fill = [&](int64_t from, int64_t to, const std::function<llvm::Value*(llvm::Value*, llvm::Value*)>& value) {
    auto columns = [&](llvm::Value* r, llvm::Value* j_begin, llvm::Value* j_end) {
      l.emit_for(j_begin, j_end, 1, "assemble.j", [&](llvm::Value* j) {
        b.CreateAlignedStore(value(r, j), l.address(out, step, r, j), llvm::Align(4));
      });
    };
    l.emit_for(row_begin, row_end, 1, "assemble.r", [&](llvm::Value* r) {
      if (!by_features) return columns(r, l.int64(from), l.int64(to));
      auto [f0, f1] = l.feature_range(scan);
      for (int64_t block = from; block < to; block += scan.feature_split)
        columns(r, b.CreateAdd(l.int64(block), f0), b.CreateAdd(l.int64(block), f1));
    });
  };
  auto part_value = [&](NodeId part, int64_t offset) {
    return [&, part, offset](llvm::Value* r, llvm::Value* j) -> llvm::Value* {
      if (s.folded[part]) return llvm::ConstantFP::get(l.f32(), scan.folded_value[part]);
      llvm::Value* row = g.type(part).shared ? l.int64(0) : r;
      llvm::Value* column = scan.width[part] == 1 ? l.int64(0) : b.CreateSub(j, l.int64(offset));
      return b.CreateAlignedLoad(l.f32(), l.address(location_of(scan, g, part), step, row, column), llvm::Align(4));
    };
  };
  if (n.op == Op::pad) {
    const int64_t offset = n.offset.bind(scan.bindings), part_width = scan.width[n.args[0]];
    llvm::Value* zero = llvm::ConstantFP::get(l.f32(), 0.0);
    fill(0, offset, [&](llvm::Value*, llvm::Value*) { return zero; });
    fill(offset, offset + part_width, part_value(n.args[0], offset));
    fill(offset + part_width, scan.width[node], [&](llvm::Value*, llvm::Value*) { return zero; });
    return;
  }
  int64_t offset = 0;
  for (NodeId part : n.args) {
    if (!assembly_part_in_place(scan, node, part, offset)) fill(offset, offset + scan.width[part], part_value(part, offset));
    offset += scan.width[part];
  }
}

}  // namespace cellforge::llvm_backend
