// Lowering of the products of a one-hot operand given as indices (IndexProduct, network_plan.hpp):
// a gather of one row of a table per row of the phase, or a scatter-add of each row into the table
// row its index names. A one-hot character model's input product W x over all T*B rows is a GEMM
// with X = vocabulary mostly-zero columns (2,500 x 512 x 86 for char-rnn's 2 x 128 model), and its
// weight gradient another; here each is one copy or add of R floats per row.
//
// Thread split and order: a gather writes this thread's rows (row_range, as the loops split rows);
// a scatter takes this thread's block of the R features and adds the rows into it in row order, so
// every element of the table is the same sum on any number of threads.
#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/llvm/lowering_context.hpp"

namespace cellforge::llvm_backend {

using ir::NodeId;
using ir::Op;

namespace {

// The index of row `row` of the index operand at `step`, as i64.
llvm::Value* load_index(Lowering& l, const Location& indices, llvm::Value* step, llvm::Value* row) {
  llvm::Value* index = l.b().CreateAlignedLoad(l.b().getInt32Ty(), l.address(indices, step, row, nullptr), llvm::Align(4), "one_hot.index");
  return l.b().CreateSExt(index, l.i64());
}

// body(column, lanes) over columns [begin, end): vectors of the lowering's width, then single floats.
void for_vectors(Lowering& l, llvm::Value* begin, llvm::Value* end, const std::string& name,
                 const std::function<void(llvm::Value*, int)>& body) {
  auto& b = l.b();
  const int lanes = l.options().vector_width;
  llvm::Value* vector_end = b.CreateAdd(begin, b.CreateMul(b.CreateSDiv(b.CreateSub(end, begin), l.int64(lanes)), l.int64(lanes)));
  l.emit_for(begin, vector_end, lanes, name + ".vector", [&](llvm::Value* j) { body(j, lanes); });
  l.emit_for(vector_end, end, 1, name + ".tail", [&](llvm::Value* j) { body(j, 1); });
}

llvm::Type* lanes_type(Lowering& l, int lanes) { return lanes == 1 ? l.f32() : static_cast<llvm::Type*>(l.vector(lanes)); }

}  // namespace

void emit_index_tables(Lowering& l, const ScanPlan& scan) {
  const passes::ScanSchedule& s = l.plan().schedule_of(scan);
  auto& b = l.b();
  for (const IndexProduct& product : scan.index_products) {
    if (s.graph.node(product.node).op != Op::matmul) continue;
    // table[j][i] = W[i][j]: this thread's entries j.
    const Location& w = scan.location[product.other];
    auto [begin, end] = l.thread_range(l.int64(product.entries));
    l.emit_for(begin, end, 1, "one_hot_table.j", [&](llvm::Value* j) {
      l.emit_for(l.int64(0), l.int64(product.width), 1, "one_hot_table.i", [&](llvm::Value* i) {
        llvm::Value* value = b.CreateAlignedLoad(l.f32(), l.address(w, nullptr, i, j), llvm::Align(4));
        b.CreateAlignedStore(value, l.address(product.table, nullptr, j, i), llvm::Align(4));
      });
    });
  }
}

void emit_index_product(Lowering& l, const ScanPlan& scan, const IndexProduct& product, llvm::Value* step,
                        llvm::Value* rows) {
  auto& b = l.b();
  const passes::ScanSchedule& s = l.plan().schedule_of(scan);
  const ir::Node& n = s.graph.node(product.node);
  const std::string name = ir::printed_names(s.graph)[product.node];
  const Location& indices = scan.location[product.index];
  const Location& out = scan.location[product.node];
  if (!indices.valid() || !out.valid() || !scan.location[product.other].valid())
    internal_error("one-hot product %", name, " has an operand without a location");
  const llvm::Align align(4);

  if (n.op == Op::matmul || n.op == Op::matmul_t) {
    // out[r] = row idx[r] of the table (W^T), or of W itself for W^T x.
    const Location& table = n.op == Op::matmul ? product.table : scan.location[product.other];
    auto [begin, end] = l.row_range(scan, rows);
    l.emit_for(begin, end, 1, name + ".gather", [&](llvm::Value* r) {
      llvm::Value* entry = load_index(l, indices, step, r);
      for_vectors(l, l.int64(0), l.int64(product.width), name + ".copy", [&](llvm::Value* i, int lanes) {
        llvm::Type* type = lanes_type(l, lanes);
        llvm::Value* value = b.CreateAlignedLoad(type, l.address(table, nullptr, entry, i), align);
        b.CreateAlignedStore(value, l.address(out, step, r, i), align);
      });
    });
    return;
  }
  if (n.op != Op::outer) internal_error("emit_index_product: ", ir::op_name(n.op), " is not a product");
  // This thread's features [i0, i1) of a: clear them in every table row, add each row r of a into
  // table row idx[r], in row order, then write them out.
  const Location& a = scan.location[product.other];
  const bool index_first = n.args[0] == product.index;  // outer(x, a) = [X][R], else outer(a, x) = [R][X]
  auto [i0, i1] = l.thread_range(l.int64(product.width), l.options().vector_width);
  llvm::Value* entries = l.int64(product.entries);
  l.emit_for(l.int64(0), entries, 1, name + ".clear", [&](llvm::Value* j) {
    for_vectors(l, i0, i1, name + ".clear", [&](llvm::Value* i, int lanes) {
      b.CreateAlignedStore(llvm::Constant::getNullValue(lanes_type(l, lanes)), l.address(product.table, nullptr, j, i), align);
    });
  });
  l.emit_for(l.int64(0), rows, 1, name + ".scatter", [&](llvm::Value* r) {
    llvm::Value* entry = load_index(l, indices, step, r);
    for_vectors(l, i0, i1, name + ".add", [&](llvm::Value* i, int lanes) {
      llvm::Type* type = lanes_type(l, lanes);
      llvm::Value* where = l.address(product.table, nullptr, entry, i);
      llvm::Value* row = b.CreateAlignedLoad(type, l.address(a, step, r, i), align);
      b.CreateAlignedStore(b.CreateFAdd(b.CreateAlignedLoad(type, where, align), row), where, align);
    });
  });
  const bool accumulate = s.accumulate[product.node];
  auto write = [&](llvm::Value* where, llvm::Value* value) {
    if (accumulate) value = b.CreateFAdd(b.CreateAlignedLoad(value->getType(), where, align), value);
    b.CreateAlignedStore(value, where, align);
  };
  if (index_first) {
    l.emit_for(l.int64(0), entries, 1, name + ".write", [&](llvm::Value* j) {
      for_vectors(l, i0, i1, name + ".write", [&](llvm::Value* i, int lanes) {
        write(l.address(out, step, j, i), b.CreateAlignedLoad(lanes_type(l, lanes), l.address(product.table, nullptr, j, i), align));
      });
    });
  } else {
    l.emit_for(i0, i1, 1, name + ".write", [&](llvm::Value* i) {
      l.emit_for(l.int64(0), entries, 1, name + ".write.j", [&](llvm::Value* j) {
        write(l.address(out, step, i, j), b.CreateAlignedLoad(l.f32(), l.address(product.table, nullptr, j, i), align));
      });
    });
  }
}

}  // namespace cellforge::llvm_backend
