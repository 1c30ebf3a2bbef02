// Packing for the generated GEMM (see gemm_pack.hpp): copies of A blocks and B panels into the
// contiguous layouts the micro-kernel streams, plus the loop/if helpers of the GEMM generator.
//
// Packing is O(m·k) and O(k·n) work against the GEMM's O(m·n·k), but with n = 256 a scalar
// pack of A still costs ~5% of the product, so the common layouts get explicit vector code:
//   A row-major (a_col_stride 1)   8 k × rows loaded as vectors, transposed in registers, stored
//   A transposed (a_row_stride 1)  one <rows x float> copy per k
//   B row-major (b_col_stride 1)   <8 x float> row copies
//   B transposed (b_row_stride 1)  8×8 blocks transposed in registers
// and anything else a scalar loop. Loops get llvm.loop.vectorize.enable = false so LLVM does not
// rewrite them (it would use gathers for the strided forms).
#include "codegen/llvm/gemm_pack.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Metadata.h>
#include <llvm/IR/Module.h>

#include <array>

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

}  // namespace

void emit_loop(llvm::IRBuilderBase& b, const std::string& name, Value* begin, Value* end, int64_t step,
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
  Value* next = b.CreateAdd(index, b.getInt64(step), name + ".next", true, true);
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
  for (auto& argument : f->args())
    if (argument.getType()->isPointerTy()) {
      argument.addAttr(llvm::Attribute::NoAlias);
      argument.addAttr(llvm::Attribute::NoCapture);
    }
  return f;
}

llvm::Function* pack_a_function(llvm::Module& module, const GemmSpec& spec) {
  const std::string name = gemm_symbol(spec) + ".pack_a";
  if (llvm::Function* existing = module.getFunction(name)) return existing;
  const GemmPlan plan = plan_gemm(spec);
  llvm::IRBuilder<> b(module.getContext());
  llvm::Type* i64 = b.getInt64Ty();
  llvm::Type* ptr = b.getPtrTy();
  llvm::Function* f = new_void_function(module, name, {ptr, ptr, i64, i64, b.getInt1Ty(), i64, i64},
                                        {"a", "a_packed", "row0", "full_tiles", "with_edge", "p0", "kc"}, true);
  f->addFnAttr(llvm::Attribute::NoInline);  // keeps the caller's loop nest small and readable
  b.SetInsertPoint(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  Value* kc = f->getArg(6);
  Value* a_block = at(b, f->getArg(0), mul(b, f->getArg(5), spec.a_col_stride), "a_block");
  const int64_t row_stride = spec.a_row_stride, col_stride = spec.a_col_stride;

  auto pack_tile = [&](Value* tile, int64_t rows) {
    Value* row = add(b, f->getArg(2), mul(b, tile, plan.mr));
    Value* src = at(b, a_block, mul(b, row, row_stride), "a_rows");
    Value* dst = at(b, f->getArg(1), b.CreateMul(mul(b, tile, plan.mr), kc), "a_panel");
    auto scalar_columns = [&](Value* begin) {
      emit_loop(b, "p", begin, kc, 1, [&](Value* p) {
        Value* src_p = at(b, src, mul(b, p, col_stride));
        Value* dst_p = at(b, dst, mul(b, p, rows));
        for (int64_t r = 0; r < rows; ++r)
          store(b, load(b, f32(b), at(b, src_p, b.getInt64(r * row_stride))), at(b, dst_p, b.getInt64(r)));
      }, Vectorize::no);
    };
    if (row_stride == 1) {  // the rows of a column are contiguous: one vector per k
      emit_loop(b, "p", b.getInt64(0), kc, 1, [&](Value* p) {
        Value* column = load(b, vec(b, static_cast<unsigned>(rows)), at(b, src, mul(b, p, col_stride)), "a_column");
        store(b, column, at(b, dst, mul(b, p, rows)));
      }, Vectorize::no);
    } else if (col_stride == 1) {  // row-major: 8 k of each row, transposed in registers
      Value* kc8 = b.CreateAnd(kc, b.getInt64(-8), "kc8");
      emit_loop(b, "p", b.getInt64(0), kc8, 8, [&](Value* p) {
        std::vector<Value*> row_vectors;
        for (int64_t r = 0; r < rows; ++r)
          row_vectors.push_back(load(b, vec(b, 8), at(b, src, add(b, p, b.getInt64(r * row_stride))),
                                     "a_row" + std::to_string(r)));
        std::array<Value*, 8> columns = transpose_8x8(b, row_vectors);
        for (int64_t j = 0; j < 8; ++j)
          store(b, first_lanes(b, columns[j], rows), at(b, dst, mul(b, add(b, p, b.getInt64(j)), rows)));
      }, Vectorize::no);
      scalar_columns(kc8);
    } else {
      scalar_columns(b.getInt64(0));
    }
  };
  if (spec.m >= plan.mr)
    emit_loop(b, "tile", b.getInt64(0), f->getArg(3), 1, [&](Value* tile) { pack_tile(tile, plan.mr); }, Vectorize::no);
  if (plan.edge_rows > 0) emit_if(b, f->getArg(4), "edge", [&] { pack_tile(f->getArg(3), plan.edge_rows); });
  b.CreateRetVoid();
  return f;
}

llvm::Function* pack_b_function(llvm::Module& module, const GemmSpec& spec) {
  const std::string name = gemm_symbol(spec) + ".pack_b";
  if (llvm::Function* existing = module.getFunction(name)) return existing;
  const GemmPlan plan = plan_gemm(spec);
  llvm::IRBuilder<> b(module.getContext());
  llvm::Type* i64 = b.getInt64Ty();
  llvm::Type* ptr = b.getPtrTy();
  llvm::Function* f = new_void_function(module, name, {ptr, ptr, i64, i64, i64, i64},
                                        {"b", "b_packed", "q_begin", "q_end", "p0", "kc"}, true);
  f->addFnAttr(llvm::Attribute::NoInline);
  b.SetInsertPoint(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  Value* kc = f->getArg(5);
  Value* b_block = at(b, f->getArg(0), mul(b, f->getArg(4), spec.b_row_stride), "b_block");
  const int64_t nr = plan.nr, row_stride = spec.b_row_stride, col_stride = spec.b_col_stride;
  const int64_t full_panels = spec.n / nr;

  auto pack_panel = [&](Value* q, int64_t columns) {
    Value* src = at(b, b_block, mul(b, mul(b, q, nr), col_stride), "b_columns");
    Value* dst = at(b, f->getArg(1), b.CreateMul(mul(b, b.CreateSub(q, f->getArg(2)), nr), kc), "b_panel");
    auto scalar_rows = [&](Value* begin) {
      emit_loop(b, "p", begin, kc, 1, [&](Value* p) {
        Value* src_p = at(b, src, mul(b, p, row_stride));
        Value* dst_p = at(b, dst, mul(b, p, nr));
        for (int64_t j = 0; j < nr; ++j) {
          Value* value = j < columns ? load(b, f32(b), at(b, src_p, b.getInt64(j * col_stride)))
                                     : llvm::ConstantFP::get(f32(b), 0.0);
          store(b, value, at(b, dst_p, b.getInt64(j)));
        }
      }, Vectorize::no);
    };
    if (columns == nr && col_stride == 1) {  // row-major: each panel row is a contiguous copy
      emit_loop(b, "p", b.getInt64(0), kc, 1, [&](Value* p) {
        Value* src_p = at(b, src, mul(b, p, row_stride));
        Value* dst_p = at(b, dst, mul(b, p, nr));
        for (int64_t w = 0; w < nr / 8; ++w)
          store(b, load(b, vec(b, 8), at(b, src_p, b.getInt64(8 * w))), at(b, dst_p, b.getInt64(8 * w)));
      }, Vectorize::no);
    } else if (columns == nr && row_stride == 1) {  // transposed: 8×8 blocks transposed in registers
      Value* kc8 = b.CreateAnd(kc, b.getInt64(-8), "kc8");
      emit_loop(b, "p", b.getInt64(0), kc8, 8, [&](Value* p) {
        for (int64_t w = 0; w < nr / 8; ++w) {
          std::vector<Value*> column_vectors;
          for (int64_t j = 0; j < 8; ++j)
            column_vectors.push_back(
                load(b, vec(b, 8), at(b, src, add(b, p, b.getInt64((8 * w + j) * col_stride))), "b_column"));
          std::array<Value*, 8> rows = transpose_8x8(b, column_vectors);
          for (int64_t i = 0; i < 8; ++i)
            store(b, rows[i], at(b, dst, add(b, mul(b, add(b, p, b.getInt64(i)), nr), b.getInt64(8 * w))));
        }
      }, Vectorize::no);
      scalar_rows(kc8);
    } else {
      scalar_rows(b.getInt64(0));
    }
  };
  Value* q_end = f->getArg(3);
  Value* full_end = b.CreateSelect(b.CreateICmpSLT(q_end, b.getInt64(full_panels)), q_end, b.getInt64(full_panels),
                                   "full_end");
  emit_loop(b, "q", f->getArg(2), full_end, 1, [&](Value* q) { pack_panel(q, nr); }, Vectorize::no);
  if (spec.n % nr != 0) {
    Value* has_last = b.CreateAnd(b.CreateICmpSLE(f->getArg(2), b.getInt64(full_panels)),
                                  b.CreateICmpSGT(q_end, b.getInt64(full_panels)), "has_last_panel");
    emit_if(b, has_last, "last_panel", [&] { pack_panel(b.getInt64(full_panels), spec.n % nr); });
  }
  b.CreateRetVoid();
  return f;
}

}  // namespace cellforge::llvm_backend::gemm_detail
