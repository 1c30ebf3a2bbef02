// The micro-kernels of the GEMM library (see gemm_library.hpp for the signature, gemm_spec.hpp for
// the tile). A kernel holds a rows × (panels·vectors) tile of C in <vector_floats x float>
// accumulators and per k step broadcasts `rows` values of packed A against the vectors of one row
// of each B panel, with llvm.fma:
//
//   for k in 0..kc (unrolled by 4):  acc[r][v] = fma(splat(a_panel[k·rows + r]), b_row_k[v], acc[r][v])
//   C tile = acc (first K block of a product that overwrites C)  or  C tile += acc
//
// Everything about the tile is a compile-time constant (so the accumulators are registers and the
// k loop is straight-line fma code); kc, the B panel stride and the C row stride are arguments, so
// one kernel serves every spec of the tile.
//
// Bitwise reproducibility: no fast-math flags. Each C element is one fma chain over the K block
// started at 0 (or k_split chains over interleaved k, summed pairwise in a fixed order), then
// stored or added to C. Column ranges that cut the tile are handled by masked loads and stores,
// never by changing the arithmetic.
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <string>
#include <vector>

#include "codegen/llvm/gemm_library.hpp"
#include "codegen/llvm/gemm_pack.hpp"

namespace cellforge::llvm_backend::gemm_detail {

namespace {

using llvm::BasicBlock;
using llvm::Function;
using llvm::PHINode;
using llvm::Value;

constexpr int64_t unroll_k = 4;  // k steps per iteration of the micro-kernel's main loop

class KernelEmitter {
 public:
  KernelEmitter(llvm::Module& module, const GemmTile& tile, KernelA a_form)
      : module_(module), context_(module.getContext()), tile_(tile), a_form_(a_form), builder_(context_) {
    f32_ = llvm::Type::getFloatTy(context_);
    i64_ = llvm::Type::getInt64Ty(context_);
    ptr_ = llvm::PointerType::get(context_, 0);
    lanes_ = static_cast<unsigned>(tile.vector_floats);
    vector_ = llvm::FixedVectorType::get(f32_, lanes_);
    nr_ = tile.vectors * tile.vector_floats;
  }

  Function* emit(const std::string& name, int64_t rows, int64_t panels, int64_t k_split);

 private:
  void emit_k_step(Value* k, int64_t rows, int64_t vectors, Value* a_panel, Value* a_stride,
                   const std::vector<Value*>& b_panels, Value** acc, const std::string& acc_name);
  void emit_tile_store(int64_t rows, int64_t vectors, Value* c, Value* c_row_stride, Value* overwrite, Value* col_lo,
                       Value* col_hi, const std::vector<Value*>& acc);

  Value* i64(int64_t v) { return llvm::ConstantInt::get(i64_, v); }
  Value* at(Value* base, Value* index, const std::string& name = "") {
    return builder_.CreateInBoundsGEP(f32_, base, index, name);
  }
  // An address that may lie outside C (lanes a masked store skips, lines a prefetch touches): no
  // inbounds, which would make such an address poison.
  Value* near(Value* base, Value* index, const std::string& name = "") {
    return builder_.CreateGEP(f32_, base, index, name);
  }
  Value* mul(Value* a, int64_t b) { return builder_.CreateMul(a, i64(b), "", true, true); }
  Value* add(Value* a, Value* b) { return builder_.CreateAdd(a, b, "", true, true); }
  // Row r, column `column` of the C tile: r·c_row_stride + column.
  Value* c_offset(Value* c_row_stride, int64_t r, int64_t column) {
    return builder_.CreateAdd(builder_.CreateMul(c_row_stride, i64(r)), i64(column));
  }

  llvm::Module& module_;
  llvm::LLVMContext& context_;
  GemmTile tile_;
  KernelA a_form_;
  llvm::IRBuilder<> builder_;
  llvm::Type *f32_, *i64_, *ptr_;
  unsigned lanes_;
  llvm::FixedVectorType* vector_;
  int64_t nr_;
};

// One k step: rows broadcasts of A times the vectors of B (panel p, vector w at
// b_panels[p][k·nr + lanes·w]), fused into the accumulators.
void KernelEmitter::emit_k_step(Value* k, int64_t rows, int64_t vectors, Value* a_panel, Value* a_stride,
                                const std::vector<Value*>& b_panels, Value** acc, const std::string& acc_name) {
  Function* fma = llvm::Intrinsic::getDeclaration(&module_, llvm::Intrinsic::fma, {vector_});
  const int64_t per_panel = tile_.vectors;
  std::vector<Value*> b(static_cast<size_t>(vectors));
  Value* b_row = mul(k, nr_);
  for (int64_t v = 0; v < vectors; ++v) {
    Value* address = at(b_panels[static_cast<size_t>(v / per_panel)], add(b_row, i64(lanes_ * (v % per_panel))));
    b[static_cast<size_t>(v)] = builder_.CreateAlignedLoad(vector_, address, llvm::Align(4), "b" + std::to_string(v));
  }
  // A's rows at k: packed k·rows + r; in place r·a_stride + k.
  const bool in_place = a_form_ == KernelA::in_place;
  for (int64_t r = 0; r < rows; ++r) {
    Value* a_offset = in_place ? add(builder_.CreateMul(a_stride, i64(r), "", true, true), k) : add(mul(k, rows), i64(r));
    Value* a = builder_.CreateAlignedLoad(f32_, at(a_panel, a_offset), llvm::Align(4), "a" + std::to_string(r));
    Value* splat = builder_.CreateVectorSplat(lanes_, a, "a" + std::to_string(r) + ".splat");
    for (int64_t v = 0; v < vectors; ++v) {
      Value*& slot = acc[r * vectors + v];
      slot = builder_.CreateCall(fma, {splat, b[static_cast<size_t>(v)], slot},
                                 acc_name + ".r" + std::to_string(r) + ".v" + std::to_string(v));
    }
  }
}

// C tile (rows × lanes·vectors at c) = or += the accumulators. Only columns [col_lo, col_hi) of
// the tile are touched: a full tile uses plain vector stores, a partial one (column range cut, or
// columns past n) masked loads and stores.
void KernelEmitter::emit_tile_store(int64_t rows, int64_t vectors, Value* c, Value* c_row_stride, Value* overwrite,
                                    Value* col_lo, Value* col_hi, const std::vector<Value*>& acc) {
  std::vector<Value*> row_offsets;
  for (int64_t r = 0; r < rows; ++r) row_offsets.push_back(builder_.CreateMul(c_row_stride, i64(r), "c.row" + std::to_string(r)));
  auto address = [&](int64_t r, int64_t v) {
    return near(c, builder_.CreateAdd(row_offsets[static_cast<size_t>(r)], i64(lanes_ * v)),
                "c.r" + std::to_string(r) + ".v" + std::to_string(v));
  };
  auto store_all = [&](bool masked) {
    std::vector<Value*> masks(static_cast<size_t>(vectors));
    if (masked) {
      std::vector<llvm::Constant*> lane_indices;
      for (unsigned i = 0; i < lanes_; ++i) lane_indices.push_back(llvm::ConstantInt::get(i64_, i));
      Value* lane = llvm::ConstantVector::get(lane_indices);
      Value* lo = builder_.CreateVectorSplat(lanes_, col_lo, "col_lo.splat");
      Value* hi = builder_.CreateVectorSplat(lanes_, col_hi, "col_hi.splat");
      for (int64_t v = 0; v < vectors; ++v) {
        Value* column = builder_.CreateAdd(lane, builder_.CreateVectorSplat(lanes_, i64(lanes_ * v)));
        masks[static_cast<size_t>(v)] = builder_.CreateAnd(builder_.CreateICmpSGE(column, lo),
                                                           builder_.CreateICmpSLT(column, hi), "mask.v" + std::to_string(v));
      }
    }
    auto store = [&](bool add_to_c) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t v = 0; v < vectors; ++v) {
          Value* p = address(r, v);
          Value* value = acc[static_cast<size_t>(r * vectors + v)];
          Value* mask = masks[static_cast<size_t>(v)];
          if (add_to_c) {
            Value* old = masked ? static_cast<Value*>(builder_.CreateMaskedLoad(
                                      vector_, p, llvm::Align(4), mask, llvm::Constant::getNullValue(vector_), "c.old"))
                                : builder_.CreateAlignedLoad(vector_, p, llvm::Align(4), "c.old");
            value = builder_.CreateFAdd(old, value, "c.new");
          }
          if (masked) builder_.CreateMaskedStore(value, p, llvm::Align(4), mask);
          else builder_.CreateAlignedStore(value, p, llvm::Align(4));
        }
    };
    emit_if(builder_, overwrite, masked ? "store.masked.set" : "store.set", [&] { store(false); }, [&] { store(true); });
  };
  Value* full = builder_.CreateAnd(builder_.CreateICmpEQ(col_lo, i64(0)),
                                   builder_.CreateICmpEQ(col_hi, i64(lanes_ * vectors)), "full_tile");
  emit_if(builder_, full, "store", [&] { store_all(false); }, [&] { store_all(true); });
}

// With k_split > 1 the kernel keeps k_split sets of accumulators, step k of the unrolled loop
// going to set k % k_split (and the kc % unroll last steps to set 0), summed pairwise at the end:
// more independent fma chains for a tile too small to hide the fma latency, in an order fixed by kc.
Function* KernelEmitter::emit(const std::string& name, int64_t rows, int64_t panels, int64_t k_split) {
  const int64_t vectors = panels * tile_.vectors;
  Function* f = new_void_function(module_, name,
                                  {ptr_, i64_, ptr_, i64_, ptr_, i64_, i64_, builder_.getInt1Ty(), i64_, i64_},
                                  {"a_panel", "a_stride", "b_panel", "b_panel_stride", "c", "c_row_stride", "kc",
                                   "overwrite", "col_lo", "col_hi"},
                                  true);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  f->getArg(2)->addAttr(llvm::Attribute::ReadOnly);
  allow_vector_width(f, tile_);
  auto arg = [&](unsigned i) { return f->getArg(i); };
  Value *a_panel = arg(0), *b_panel = arg(2), *b_panel_stride = arg(3), *c = arg(4), *c_row_stride = arg(5),
        *kc = arg(6), *overwrite = arg(7), *col_lo = arg(8), *col_hi = arg(9);
  Value* a_stride = arg(1);  // packed kernels ignore it
  const int64_t unroll = k_split >= unroll_k ? k_split : k_split * (unroll_k / k_split);

  BasicBlock* entry = BasicBlock::Create(context_, "entry", f);
  BasicBlock* loop = BasicBlock::Create(context_, "k_loop", f);
  BasicBlock* tail_check = BasicBlock::Create(context_, "k_tail.check", f);
  BasicBlock* tail = BasicBlock::Create(context_, "k_tail", f);
  BasicBlock* store = BasicBlock::Create(context_, "store", f);

  builder_.SetInsertPoint(entry);
  std::vector<Value*> b_panels = {b_panel};
  for (int64_t p = 1; p < panels; ++p)
    b_panels.push_back(at(b_panel, mul(b_panel_stride, p), "b_panel" + std::to_string(p)));
  // The C tile is read or written only after the k loop; fetching its lines now hides the miss
  // (C is often far away: the previous K block touched it a whole pass over M ago).
  Function* prefetch = llvm::Intrinsic::getDeclaration(&module_, llvm::Intrinsic::prefetch, {ptr_});
  std::vector<int64_t> offsets;  // every cache line of a row of the tile, aligned or not
  for (int64_t offset = 0; offset < lanes_ * vectors; offset += 16) offsets.push_back(offset);
  offsets.push_back(lanes_ * vectors - 1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t offset : offsets)
      builder_.CreateCall(prefetch, {near(c, c_offset(c_row_stride, r, offset)), builder_.getInt32(1),
                                     builder_.getInt32(3), builder_.getInt32(1)});
  Value* kc_unrolled = builder_.CreateMul(builder_.CreateUDiv(kc, i64(unroll)), i64(unroll), "kc_unrolled");
  builder_.CreateCondBr(builder_.CreateICmpSGT(kc_unrolled, i64(0)), loop, tail_check);

  const int64_t per_set = rows * vectors;
  const size_t count = static_cast<size_t>(k_split * per_set);
  auto set_name = [&](int64_t set) { return set == 0 ? std::string("acc") : "acc.s" + std::to_string(set); };
  Value* zero = llvm::Constant::getNullValue(vector_);
  auto acc_phis = [&](const std::string& suffix, BasicBlock* from, const std::vector<Value*>& initial) {
    std::vector<PHINode*> phis(count);
    for (size_t i = 0; i < count; ++i) {
      const int64_t set = static_cast<int64_t>(i) / per_set, in_set = static_cast<int64_t>(i) % per_set;
      phis[i] = builder_.CreatePHI(vector_, 2, set_name(set) + ".r" + std::to_string(in_set / vectors) + ".v" +
                                                   std::to_string(in_set % vectors) + suffix);
      phis[i]->addIncoming(initial[i], from);
    }
    return phis;
  };

  // Main loop: `unroll` steps per iteration.
  builder_.SetInsertPoint(loop);
  PHINode* k = builder_.CreatePHI(i64_, 2, "k");
  k->addIncoming(i64(0), entry);
  std::vector<PHINode*> loop_acc = acc_phis("", entry, std::vector<Value*>(count, zero));
  std::vector<Value*> acc(loop_acc.begin(), loop_acc.end());
  for (int64_t u = 0; u < unroll; ++u) {
    const int64_t set = u % k_split;
    emit_k_step(add(k, i64(u)), rows, vectors, a_panel, a_stride, b_panels,
                &acc[static_cast<size_t>(set * per_set)], set_name(set));
  }
  Value* k_next = builder_.CreateAdd(k, i64(unroll), "k.next", true, true);
  k->addIncoming(k_next, loop);
  for (size_t i = 0; i < count; ++i) loop_acc[i]->addIncoming(acc[i], loop);
  builder_.CreateCondBr(builder_.CreateICmpSLT(k_next, kc_unrolled), loop, tail_check);
  const std::vector<Value*> loop_out = acc;

  // The last kc % unroll steps, one at a time, into set 0.
  builder_.SetInsertPoint(tail_check);
  PHINode* k_tail_begin = builder_.CreatePHI(i64_, 2, "k.tail_begin");
  k_tail_begin->addIncoming(i64(0), entry);
  k_tail_begin->addIncoming(k_next, loop);
  std::vector<PHINode*> check_acc = acc_phis(".after_loop", entry, std::vector<Value*>(count, zero));
  for (size_t i = 0; i < count; ++i) check_acc[i]->addIncoming(loop_out[i], loop);
  builder_.CreateCondBr(builder_.CreateICmpSLT(k_tail_begin, kc), tail, store);

  builder_.SetInsertPoint(tail);
  PHINode* k_tail = builder_.CreatePHI(i64_, 2, "k.tail");
  k_tail->addIncoming(k_tail_begin, tail_check);
  std::vector<PHINode*> tail_acc = acc_phis(".tail", tail_check, {check_acc.begin(), check_acc.end()});
  acc.assign(tail_acc.begin(), tail_acc.end());
  emit_k_step(k_tail, rows, vectors, a_panel, a_stride, b_panels, acc.data(), set_name(0));
  Value* k_tail_next = builder_.CreateAdd(k_tail, i64(1), "k.tail.next", true, true);
  k_tail->addIncoming(k_tail_next, tail);
  for (size_t i = 0; i < count; ++i) tail_acc[i]->addIncoming(acc[i], tail);
  builder_.CreateCondBr(builder_.CreateICmpSLT(k_tail_next, kc), tail, store);

  builder_.SetInsertPoint(store);
  std::vector<PHINode*> final_acc = acc_phis(".final", tail_check, {check_acc.begin(), check_acc.end()});
  for (size_t i = 0; i < count; ++i) final_acc[i]->addIncoming(acc[i], tail);
  // Sum the sets pairwise: (s0 + s1) + (s2 + s3), ...
  std::vector<std::vector<Value*>> sets;
  for (int64_t set = 0; set < k_split; ++set)
    sets.emplace_back(final_acc.begin() + set * per_set, final_acc.begin() + (set + 1) * per_set);
  while (sets.size() > 1) {
    std::vector<std::vector<Value*>> sums;
    for (size_t s = 0; s + 1 < sets.size(); s += 2) {
      sums.emplace_back();
      for (int64_t i = 0; i < per_set; ++i)
        sums.back().push_back(builder_.CreateFAdd(sets[s][static_cast<size_t>(i)], sets[s + 1][static_cast<size_t>(i)], "acc.sum"));
    }
    if (sets.size() % 2) sums.push_back(sets.back());
    sets = std::move(sums);
  }
  emit_tile_store(rows, vectors, c, c_row_stride, overwrite, col_lo, col_hi, sets[0]);
  builder_.CreateRetVoid();
  return f;
}

}  // namespace

Function* kernel_function(llvm::Module& module, const GemmTile& tile, int64_t rows, int64_t panels, int64_t k_split,
                          KernelA a_form) {
  const int64_t columns = panels * tile.vectors * tile.vector_floats;
  const std::string name = library_internal_name(
      tile, "kernel_" + std::to_string(rows) + "x" + std::to_string(columns) +
                (k_split > 1 ? "_k" + std::to_string(k_split) : "") + (a_form == KernelA::in_place ? "_a_in_place" : ""));
  if (Function* existing = module.getFunction(name)) return existing;
  return KernelEmitter(module, tile, a_form).emit(name, rows, panels, k_split);
}

}  // namespace cellforge::llvm_backend::gemm_detail
