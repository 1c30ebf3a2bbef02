// Packing for the GEMM library (see gemm_pack.hpp): copies of A blocks and B panels into the
// contiguous layouts the micro-kernel streams, plus the loop/if helpers of the library's generator.
//
// Packing is O(m·k) and O(k·n) work against the GEMM's O(m·n·k), but with n = 256 a scalar
// pack of A still costs ~5% of the product, so the common layouts get explicit vector code:
//   A row-major (a_col_stride 1)   8 k × up to 8 rows loaded as vectors, transposed in registers
//   A transposed (a_row_stride 1)  one <rows x float> copy per k
//   B row-major (b_col_stride 1)   vector row copies
//   B transposed (b_row_stride 1)  8×8 blocks transposed in registers
// and anything else a scalar loop. Strides are run-time values: each routine tests them once and
// runs the matching loop. Loops get llvm.loop.vectorize.enable = false so LLVM does not rewrite
// them (it would use gathers for the strided forms).
#include "codegen/llvm/gemm_pack.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Metadata.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <array>

#include "codegen/llvm/gemm_library.hpp"

namespace cellforge::llvm_backend::gemm_detail {

namespace {

using llvm::Value;

llvm::Type* f32(llvm::IRBuilderBase& b) { return b.getFloatTy(); }
llvm::FixedVectorType* vec(llvm::IRBuilderBase& b, unsigned lanes) {
  return llvm::FixedVectorType::get(b.getFloatTy(), lanes);
}
Value* at(llvm::IRBuilderBase& b, Value* base, Value* index, const std::string& name = "") {
  return b.CreateInBoundsGEP(b.getFloatTy(), base, index, name);
}
Value* mul(llvm::IRBuilderBase& b, Value* v, int64_t factor) {
  return b.CreateMul(v, b.getInt64(factor), "", true, true);
}
Value* add(llvm::IRBuilderBase& b, Value* x, Value* y) { return b.CreateAdd(x, y, "", true, true); }
Value* load(llvm::IRBuilderBase& b, llvm::Type* type, Value* address, const std::string& name = "") {
  return b.CreateAlignedLoad(type, address, llvm::Align(4), name);
}
void store(llvm::IRBuilderBase& b, Value* value, Value* address) {
  b.CreateAlignedStore(value, address, llvm::Align(4));
}

// The columns of an 8×8 block: out[j][i] = rows[i][j]. Missing rows (fewer than 8) are poison,
// and so are the matching lanes of the result. The shuffles are the AVX idiom (unpcklps/unpckhps,
// shufps, vperm2f128), which the x86 backend selects one instruction each.
std::array<Value*, 8> transpose_8x8(llvm::IRBuilderBase& b, std::vector<Value*> rows) {
  rows.resize(8, llvm::PoisonValue::get(vec(b, 8)));
  auto shuffle = [&](Value* x, Value* y, std::array<int, 8> mask) { return b.CreateShuffleVector(x, y, mask); };
  const std::array<int, 8> unpack_lo = {0, 8, 1, 9, 4, 12, 5, 13}, unpack_hi = {2, 10, 3, 11, 6, 14, 7, 15};
  const std::array<int, 8> pairs_lo = {0, 1, 8, 9, 4, 5, 12, 13}, pairs_hi = {2, 3, 10, 11, 6, 7, 14, 15};
  const std::array<int, 8> halves_lo = {0, 1, 2, 3, 8, 9, 10, 11}, halves_hi = {4, 5, 6, 7, 12, 13, 14, 15};
  std::array<Value*, 8> t, s, out;
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = shuffle(rows[2 * i], rows[2 * i + 1], unpack_lo);
    t[2 * i + 1] = shuffle(rows[2 * i], rows[2 * i + 1], unpack_hi);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3, then rows 4-7
    s[4 * h + 0] = shuffle(t[4 * h + 0], t[4 * h + 2], pairs_lo);
    s[4 * h + 1] = shuffle(t[4 * h + 0], t[4 * h + 2], pairs_hi);
    s[4 * h + 2] = shuffle(t[4 * h + 1], t[4 * h + 3], pairs_lo);
    s[4 * h + 3] = shuffle(t[4 * h + 1], t[4 * h + 3], pairs_hi);
  }
  for (int j = 0; j < 4; ++j) {
    out[j] = shuffle(s[j], s[4 + j], halves_lo);
    out[4 + j] = shuffle(s[j], s[4 + j], halves_hi);
  }
  return out;
}

// The first `lanes` lanes of an <8 x float>.
Value* first_lanes(llvm::IRBuilderBase& b, Value* v, int64_t lanes) {
  if (lanes == 8) return v;
  std::vector<int> mask(static_cast<size_t>(lanes));
  for (int64_t i = 0; i < lanes; ++i) mask[static_cast<size_t>(i)] = static_cast<int>(i);
  return b.CreateShuffleVector(v, mask);
}

// The lanes of `pieces` one after the other, as one vector.
Value* concatenate(llvm::IRBuilderBase& b, std::vector<Value*> pieces) {
  auto lanes = [](Value* v) { return static_cast<int>(llvm::cast<llvm::FixedVectorType>(v->getType())->getNumElements()); };
  while (pieces.size() > 1) {
    Value *x = pieces[0], *y = pieces[1];
    const int nx = lanes(x), ny = lanes(y);
    // shufflevector takes operands of one type: widen the shorter with poison lanes first.
    auto widen = [&](Value* v, int from, int to) {
      std::vector<int> mask(static_cast<size_t>(to));
      for (int i = 0; i < to; ++i) mask[static_cast<size_t>(i)] = i < from ? i : -1;
      return b.CreateShuffleVector(v, mask);
    };
    const int width = std::max(nx, ny);
    if (nx < width) x = widen(x, nx, width);
    if (ny < width) y = widen(y, ny, width);
    std::vector<int> mask;
    for (int i = 0; i < nx; ++i) mask.push_back(i);
    for (int i = 0; i < ny; ++i) mask.push_back(width + i);
    pieces.erase(pieces.begin());
    pieces[0] = b.CreateShuffleVector(x, y, mask);
  }
  return pieces[0];
}

}  // namespace

void emit_loop(llvm::IRBuilderBase& b, const std::string& name, Value* begin, Value* end, Value* step,
               const std::function<void(Value*)>& body, Vectorize vectorize) {
  llvm::LLVMContext& context = b.getContext();
  llvm::Function* f = b.GetInsertBlock()->getParent();
  llvm::BasicBlock* preheader = b.GetInsertBlock();
  auto* header = llvm::BasicBlock::Create(context, name + ".header", f);
  auto* body_block = llvm::BasicBlock::Create(context, name + ".body", f);
  auto* exit = llvm::BasicBlock::Create(context, name + ".exit", f);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode* index = b.CreatePHI(b.getInt64Ty(), 2, name);
  index->addIncoming(begin, preheader);
  b.CreateCondBr(b.CreateICmpSLT(index, end), body_block, exit);
  b.SetInsertPoint(body_block);
  body(index);
  Value* next = b.CreateAdd(index, step, name + ".next", true, true);
  index->addIncoming(next, b.GetInsertBlock());
  llvm::BranchInst* latch = b.CreateBr(header);
  if (vectorize == Vectorize::no) {
    llvm::Metadata* disable[] = {llvm::MDString::get(context, "llvm.loop.vectorize.enable"),
                                 llvm::ConstantAsMetadata::get(b.getFalse())};
    llvm::Metadata* operands[] = {nullptr, llvm::MDNode::get(context, disable)};
    llvm::MDNode* loop_id = llvm::MDNode::getDistinct(context, operands);
    loop_id->replaceOperandWith(0, loop_id);
    latch->setMetadata(llvm::LLVMContext::MD_loop, loop_id);
  }
  b.SetInsertPoint(exit);
}

void emit_loop(llvm::IRBuilderBase& b, const std::string& name, Value* begin, Value* end, int64_t step,
               const std::function<void(Value*)>& body, Vectorize vectorize) {
  emit_loop(b, name, begin, end, b.getInt64(step), body, vectorize);
}

void emit_if(llvm::IRBuilderBase& b, Value* condition, const std::string& name,
             const std::function<void()>& then_body, const std::function<void()>& else_body) {
  llvm::LLVMContext& context = b.getContext();
  llvm::Function* f = b.GetInsertBlock()->getParent();
  auto* then_block = llvm::BasicBlock::Create(context, name + ".then", f);
  auto* else_block = else_body ? llvm::BasicBlock::Create(context, name + ".else", f) : nullptr;
  auto* done = llvm::BasicBlock::Create(context, name + ".done", f);
  b.CreateCondBr(condition, then_block, else_block ? else_block : done);
  b.SetInsertPoint(then_block);
  then_body();
  b.CreateBr(done);
  if (else_block) {
    b.SetInsertPoint(else_block);
    else_body();
    b.CreateBr(done);
  }
  b.SetInsertPoint(done);
}

llvm::Function* new_void_function(llvm::Module& module, const std::string& name,
                                  const std::vector<llvm::Type*>& parameters, const std::vector<const char*>& names,
                                  bool internal) {
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(module.getContext()), parameters, false);
  auto* f = llvm::Function::Create(type, internal ? llvm::Function::InternalLinkage : llvm::Function::ExternalLinkage,
                                   name, module);
  for (size_t i = 0; i < names.size(); ++i) f->getArg(static_cast<unsigned>(i))->setName(names[i]);
  f->addFnAttr(llvm::Attribute::NoUnwind);
  f->addFnAttr(llvm::Attribute::NoFree);
  f->addFnAttr(llvm::Attribute::NoSync);
  f->addFnAttr(llvm::Attribute::WillReturn);
  if (internal) f->addFnAttr(llvm::Attribute::NoInline);
  for (auto& argument : f->args())
    if (argument.getType()->isPointerTy()) {
      argument.addAttr(llvm::Attribute::NoAlias);
      argument.addAttr(llvm::Attribute::NoCapture);
    }
  return f;
}

namespace {

// pack_a_panel_<rows>(src, dst, row_stride, col_stride, kc): one micro-panel of `rows` rows from
// src = &op(A)(row, p0): dst[k·rows + i] = src[i·row_stride + k·col_stride].
llvm::Function* pack_a_panel_function(llvm::Module& module, const GemmTile& tile, int64_t rows) {
  const std::string name = library_internal_name(tile, "pack_a_panel_" + std::to_string(rows));
  if (llvm::Function* existing = module.getFunction(name)) return existing;
  llvm::IRBuilder<> b(module.getContext());
  llvm::Type* i64 = b.getInt64Ty();
  llvm::Type* ptr = b.getPtrTy();
  llvm::Function* f = new_void_function(module, name, {ptr, ptr, i64, i64, i64},
                                        {"src", "dst", "row_stride", "col_stride", "kc"}, true);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  b.SetInsertPoint(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  Value *src = f->getArg(0), *dst = f->getArg(1), *row_stride = f->getArg(2), *col_stride = f->getArg(3),
        *kc = f->getArg(4);
  auto scalar_columns = [&](Value* begin) {
    emit_loop(b, "p", begin, kc, 1, [&](Value* p) {
      Value* src_p = at(b, src, b.CreateMul(p, col_stride));
      Value* dst_p = at(b, dst, mul(b, p, rows));
      for (int64_t r = 0; r < rows; ++r)
        store(b, load(b, f32(b), at(b, src_p, mul(b, row_stride, r))), at(b, dst_p, b.getInt64(r)));
    }, Vectorize::no);
  };
  // The rows of a column are contiguous: one vector per k.
  auto columns = [&] {
    emit_loop(b, "p", b.getInt64(0), kc, 1, [&](Value* p) {
      Value* column = load(b, vec(b, static_cast<unsigned>(rows)), at(b, src, b.CreateMul(p, col_stride)), "a_column");
      store(b, column, at(b, dst, mul(b, p, rows)));
    }, Vectorize::no);
  };
  // Row-major: 8 k of up to 8 rows at a time, transposed in registers; a column of the panel is the
  // concatenation of its pieces from each group of 8 rows.
  auto transposed_rows = [&] {
    Value* kc8 = b.CreateAnd(kc, b.getInt64(-8), "kc8");
    emit_loop(b, "p", b.getInt64(0), kc8, 8, [&](Value* p) {
      std::vector<std::array<Value*, 8>> groups;
      for (int64_t first = 0; first < rows; first += 8) {
        std::vector<Value*> row_vectors;
        for (int64_t r = first; r < std::min(rows, first + 8); ++r)
          row_vectors.push_back(load(b, vec(b, 8), at(b, src, add(b, p, mul(b, row_stride, r))),
                                     "a_row" + std::to_string(r)));
        groups.push_back(transpose_8x8(b, row_vectors));
      }
      for (int64_t j = 0; j < 8; ++j) {
        std::vector<Value*> pieces;
        for (size_t g = 0; g < groups.size(); ++g)
          pieces.push_back(first_lanes(b, groups[g][static_cast<size_t>(j)], std::min<int64_t>(8, rows - 8 * static_cast<int64_t>(g))));
        store(b, concatenate(b, pieces), at(b, dst, mul(b, add(b, p, b.getInt64(j)), rows)));
      }
    }, Vectorize::no);
    scalar_columns(kc8);
  };
  emit_if(b, b.CreateICmpEQ(row_stride, b.getInt64(1)), "columns_contiguous", columns, [&] {
    emit_if(b, b.CreateICmpEQ(col_stride, b.getInt64(1)), "rows_contiguous", transposed_rows,
            [&] { scalar_columns(b.getInt64(0)); });
  });
  b.CreateRetVoid();
  return f;
}

// pack_b_panel(src, dst, kc, row_stride, col_stride): one full panel of nr columns from
// src = &op(B)(p0, q·nr): dst[k·nr + j] = src[k·row_stride + j·col_stride].
llvm::Function* pack_b_panel_function(llvm::Module& module, const GemmTile& tile) {
  const std::string name = library_internal_name(tile, "pack_b_panel");
  if (llvm::Function* existing = module.getFunction(name)) return existing;
  const int64_t nr = tile.vectors * tile.vector_floats;
  llvm::IRBuilder<> b(module.getContext());
  llvm::Type* i64 = b.getInt64Ty();
  llvm::Type* ptr = b.getPtrTy();
  llvm::Function* f = new_void_function(module, name, {ptr, ptr, i64, i64, i64},
                                        {"src", "dst", "kc", "row_stride", "col_stride"}, true);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  allow_vector_width(f, tile);
  b.SetInsertPoint(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  Value *src = f->getArg(0), *dst = f->getArg(1), *kc = f->getArg(2), *row_stride = f->getArg(3),
        *col_stride = f->getArg(4);
  const unsigned lanes = static_cast<unsigned>(tile.vector_floats);
  auto scalar_rows = [&](Value* begin) {
    emit_loop(b, "p", begin, kc, 1, [&](Value* p) {
      Value* src_p = at(b, src, b.CreateMul(p, row_stride));
      Value* dst_p = at(b, dst, mul(b, p, nr));
      emit_loop(b, "j", b.getInt64(0), b.getInt64(nr), 1, [&](Value* j) {
        store(b, load(b, f32(b), at(b, src_p, b.CreateMul(j, col_stride))), at(b, dst_p, j));
      }, Vectorize::no);
    }, Vectorize::no);
  };
  // Row-major: each panel row is a contiguous copy.
  auto rows = [&] {
    emit_loop(b, "p", b.getInt64(0), kc, 1, [&](Value* p) {
      Value* src_p = at(b, src, b.CreateMul(p, row_stride));
      Value* dst_p = at(b, dst, mul(b, p, nr));
      for (int64_t w = 0; w < nr / lanes; ++w)
        store(b, load(b, vec(b, lanes), at(b, src_p, b.getInt64(lanes * w))), at(b, dst_p, b.getInt64(lanes * w)));
    }, Vectorize::no);
  };
  // Transposed: 8×8 blocks transposed in registers.
  auto columns = [&] {
    Value* kc8 = b.CreateAnd(kc, b.getInt64(-8), "kc8");
    emit_loop(b, "p", b.getInt64(0), kc8, 8, [&](Value* p) {
      for (int64_t w = 0; w < nr / 8; ++w) {
        std::vector<Value*> column_vectors;
        for (int64_t j = 0; j < 8; ++j)
          column_vectors.push_back(load(b, vec(b, 8), at(b, src, add(b, p, mul(b, col_stride, 8 * w + j))), "b_column"));
        std::array<Value*, 8> row_vectors = transpose_8x8(b, column_vectors);
        for (int64_t i = 0; i < 8; ++i)
          store(b, row_vectors[i], at(b, dst, add(b, mul(b, add(b, p, b.getInt64(i)), nr), b.getInt64(8 * w))));
      }
    }, Vectorize::no);
    scalar_rows(kc8);
  };
  emit_if(b, b.CreateICmpEQ(col_stride, b.getInt64(1)), "rows_contiguous", rows, [&] {
    emit_if(b, b.CreateICmpEQ(row_stride, b.getInt64(1)), "columns_contiguous", columns,
            [&] { scalar_rows(b.getInt64(0)); });
  });
  b.CreateRetVoid();
  return f;
}

}  // namespace

llvm::Function* pack_a_function(llvm::Module& module, const GemmTile& tile) {
  const std::string name = library_internal_name(tile, "pack_a");
  if (llvm::Function* existing = module.getFunction(name)) return existing;
  const int64_t mr = tile.rows;
  llvm::IRBuilder<> b(module.getContext());
  llvm::Type* i64 = b.getInt64Ty();
  llvm::Type* ptr = b.getPtrTy();
  llvm::Function* f = new_void_function(module, name, {ptr, ptr, i64, i64, i64, i64, i64},
                                        {"a_block", "a_packed", "full_tiles", "edge_rows", "kc", "row_stride",
                                         "col_stride"}, true);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  std::vector<llvm::Function*> panels(static_cast<size_t>(mr) + 1);
  for (int64_t rows = 1; rows <= mr; ++rows) panels[rows] = pack_a_panel_function(module, tile, rows);
  b.SetInsertPoint(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  Value *a_block = f->getArg(0), *a_packed = f->getArg(1), *full_tiles = f->getArg(2), *edge_rows = f->getArg(3),
        *kc = f->getArg(4), *row_stride = f->getArg(5), *col_stride = f->getArg(6);
  auto pack = [&](llvm::Function* panel, Value* tile_index) {
    Value* src = at(b, a_block, b.CreateMul(mul(b, tile_index, mr), row_stride), "a_rows");
    Value* dst = at(b, a_packed, b.CreateMul(mul(b, tile_index, mr), kc), "a_panel");
    b.CreateCall(panel, {src, dst, row_stride, col_stride, kc});
  };
  emit_loop(b, "tile", b.getInt64(0), full_tiles, 1, [&](Value* t) { pack(panels[mr], t); }, Vectorize::no);
  if (mr > 1) {
    llvm::BasicBlock* done = llvm::BasicBlock::Create(module.getContext(), "edge.done", f);
    llvm::SwitchInst* by_rows = b.CreateSwitch(edge_rows, done, static_cast<unsigned>(mr - 1));
    for (int64_t rows = 1; rows < mr; ++rows) {
      auto* block = llvm::BasicBlock::Create(module.getContext(), "edge.rows" + std::to_string(rows), f);
      by_rows->addCase(b.getInt64(rows), block);
      b.SetInsertPoint(block);
      pack(panels[rows], full_tiles);
      b.CreateBr(done);
    }
    b.SetInsertPoint(done);
  }
  b.CreateRetVoid();
  return f;
}

llvm::Function* pack_b_function(llvm::Module& module, const GemmTile& tile) {
  const std::string name = library_internal_name(tile, "pack_b");
  if (llvm::Function* existing = module.getFunction(name)) return existing;
  const int64_t nr = tile.vectors * tile.vector_floats;
  llvm::Function* full_panel = pack_b_panel_function(module, tile);
  llvm::IRBuilder<> b(module.getContext());
  llvm::Type* i64 = b.getInt64Ty();
  llvm::Type* ptr = b.getPtrTy();
  llvm::Function* f = new_void_function(module, name, {ptr, ptr, i64, i64, i64, i64, i64, i64},
                                        {"b_block", "b_packed", "q_begin", "q_end", "kc", "n", "row_stride",
                                         "col_stride"}, true);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  b.SetInsertPoint(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  Value *b_block = f->getArg(0), *b_packed = f->getArg(1), *q_begin = f->getArg(2), *q_end = f->getArg(3),
        *kc = f->getArg(4), *n = f->getArg(5), *row_stride = f->getArg(6), *col_stride = f->getArg(7);
  auto src_of = [&](Value* q) { return at(b, b_block, b.CreateMul(mul(b, q, nr), col_stride), "b_columns"); };
  auto dst_of = [&](Value* q) { return at(b, b_packed, b.CreateMul(mul(b, b.CreateSub(q, q_begin), nr), kc), "b_panel"); };
  Value* full_panels = b.CreateUDiv(n, b.getInt64(nr), "full_panels");
  Value* full_end = b.CreateSelect(b.CreateICmpSLT(q_end, full_panels), q_end, full_panels, "full_end");
  emit_loop(b, "q", q_begin, full_end, 1, [&](Value* q) {
    b.CreateCall(full_panel, {src_of(q), dst_of(q), kc, row_stride, col_stride});
  }, Vectorize::no);
  // The last panel, when n is not a multiple of nr: its columns, then zeros.
  Value* last_columns = b.CreateSub(n, mul(b, full_panels, nr), "last_columns");
  Value* has_last = b.CreateAnd(b.CreateAnd(b.CreateICmpSLE(q_begin, full_panels), b.CreateICmpSGT(q_end, full_panels)),
                                b.CreateICmpSGT(last_columns, b.getInt64(0)), "has_last_panel");
  emit_if(b, has_last, "last_panel", [&] {
    Value* src = src_of(full_panels);
    Value* dst = dst_of(full_panels);
    emit_loop(b, "p", b.getInt64(0), kc, 1, [&](Value* p) {
      Value* src_p = at(b, src, b.CreateMul(p, row_stride));
      Value* dst_p = at(b, dst, mul(b, p, nr));
      emit_loop(b, "j", b.getInt64(0), last_columns, 1, [&](Value* j) {
        store(b, load(b, f32(b), at(b, src_p, b.CreateMul(j, col_stride))), at(b, dst_p, j));
      }, Vectorize::no);
      emit_loop(b, "j.zero", last_columns, b.getInt64(nr), 1, [&](Value* j) {
        store(b, llvm::ConstantFP::get(f32(b), 0.0), at(b, dst_p, j));
      }, Vectorize::no);
    }, Vectorize::no);
  });
  b.CreateRetVoid();
  return f;
}

}  // namespace cellforge::llvm_backend::gemm_detail
