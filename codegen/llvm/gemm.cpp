// The generated GEMM (see gemm.hpp for the functions, gemm_spec.hpp for the blocking and the packed
// layout). The code follows Goto/BLIS: pack a block of A into scratch, keep one K block of a B panel
// in L1, and run a register-blocked micro-kernel over them:
//
//   for each block of panels (strided B: pack it into scratch)        q0..q1, nc_panels at a time
//     for each K block                                                p0..p0+kc, balanced
//       for each block of rows of A: pack it into scratch             row0..row0+mc
//         for each group of panels                                    q, edge_panels at a time
//           for each panel g of the group, each full tile of rows:    kernel_<mr>x<nr>
//           the edge rows (m % mr) over the whole group:              kernel_<edge>x<group·nr>
//
// The micro-kernel holds a rows × vectors tile of C in <8 x float> accumulators and per k step
// broadcasts `rows` values of A against `vectors` vectors of B with llvm.fma. It is a separate
// noinline function taking the K block length, so each kernel exists once and reads like the
// textbook loop in `--emit llvm` and in the assembly.
//
// Bitwise reproducibility: no fast-math flags anywhere. Each C element is an fma chain over one K
// block started at 0, then stored (first block, no accumulation) or added to C; the chain and the K
// blocks depend only on the spec, never on the column range or on which kernel variant ran.
// Column ranges that cut a tile are handled by masked stores, never by changing the arithmetic.
#include "codegen/llvm/gemm.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <string>
#include <vector>

#include "codegen/ir/error.hpp"
#include "codegen/llvm/gemm_pack.hpp"

namespace cellforge::llvm_backend {

namespace {

using gemm_detail::emit_if;
using gemm_detail::emit_loop;
using llvm::BasicBlock;
using llvm::Function;
using llvm::PHINode;
using llvm::Value;

constexpr int64_t unroll_k = 4;  // k steps per iteration of the micro-kernel's main loop

class GemmEmitter {
 public:
  GemmEmitter(llvm::Module& module, const GemmSpec& spec)
      : module_(module), context_(module.getContext()), spec_(spec), plan_(plan_gemm(spec)),
        symbol_(gemm_symbol(spec)), builder_(context_) {
    f32_ = llvm::Type::getFloatTy(context_);
    i64_ = llvm::Type::getInt64Ty(context_);
    i1_ = llvm::Type::getInt1Ty(context_);
    ptr_ = llvm::PointerType::get(context_, 0);
    v8_ = llvm::FixedVectorType::get(f32_, 8);
  }

  Function* emit_gemm();
  Function* emit_pack();

 private:
  Function* kernel(int64_t rows, int64_t panels, int64_t k_split);
  void emit_k_step(Value* k, int64_t rows, int64_t vectors, Value* a_panel, const std::vector<Value*>& b_panels,
                   Value** acc, const std::string& acc_name);
  void emit_tile_store(int64_t rows, int64_t vectors, Value* c, Value* overwrite, Value* col_lo, Value* col_hi,
                       const std::vector<Value*>& acc);

  void loop(const std::string& name, Value* begin, Value* end, int64_t step,
            const std::function<void(Value*)>& body) {
    emit_loop(builder_, name, begin, end, step, body);
  }
  void when(Value* condition, const std::string& name, const std::function<void()>& then_body,
            const std::function<void()>& else_body = nullptr) {
    emit_if(builder_, condition, name, then_body, else_body);
  }
  Function* new_function(const std::string& name, const std::vector<llvm::Type*>& params,
                         const std::vector<const char*>& names, bool internal) {
    return gemm_detail::new_void_function(module_, name, params, names, internal);
  }

  Value* i64(int64_t v) { return llvm::ConstantInt::get(i64_, v); }
  Value* at(Value* base, Value* index, const std::string& name = "") {
    return builder_.CreateInBoundsGEP(f32_, base, index, name);
  }
  Value* at(Value* base, int64_t index, const std::string& name = "") { return at(base, i64(index), name); }
  // An address that may lie outside C (lanes a masked store skips, lines a prefetch touches): no
  // inbounds, which would make such an address poison.
  Value* near(Value* base, int64_t index, const std::string& name = "") {
    return builder_.CreateGEP(f32_, base, i64(index), name);
  }
  Value* mul(Value* a, int64_t b, const std::string& name = "") {
    return builder_.CreateMul(a, i64(b), name, true, true);
  }
  Value* add(Value* a, Value* b, const std::string& name = "") { return builder_.CreateAdd(a, b, name, true, true); }
  Value* min(Value* a, Value* b, const std::string& name) {
    return builder_.CreateSelect(builder_.CreateICmpSLT(a, b), a, b, name);
  }
  Value* max(Value* a, Value* b, const std::string& name) {
    return builder_.CreateSelect(builder_.CreateICmpSGT(a, b), a, b, name);
  }

  llvm::Module& module_;
  llvm::LLVMContext& context_;
  GemmSpec spec_;
  GemmPlan plan_;
  std::string symbol_;
  llvm::IRBuilder<> builder_;
  llvm::Type *f32_, *i64_, *i1_, *ptr_;
  llvm::FixedVectorType* v8_;
};

// One k step of the micro-kernel: rows broadcasts of packed A (a_panel[k·rows + r]) times the
// vectors of B (panel p, vector w at b_panels[p][k·nr + 8w]), fused into the accumulators.
void GemmEmitter::emit_k_step(Value* k, int64_t rows, int64_t vectors, Value* a_panel,
                              const std::vector<Value*>& b_panels, Value** acc, const std::string& acc_name) {
  Function* fma = llvm::Intrinsic::getDeclaration(&module_, llvm::Intrinsic::fma, {v8_});
  const int64_t per_panel = spec_.tile.vectors;
  std::vector<Value*> b(vectors);
  Value* b_row = mul(k, plan_.nr);
  for (int64_t v = 0; v < vectors; ++v) {
    Value* address = at(b_panels[v / per_panel], add(b_row, i64(8 * (v % per_panel))));
    b[v] = builder_.CreateAlignedLoad(v8_, address, llvm::Align(4), "b" + std::to_string(v));
  }
  Value* a_row = mul(k, rows);
  for (int64_t r = 0; r < rows; ++r) {
    Value* a = builder_.CreateAlignedLoad(f32_, at(a_panel, add(a_row, i64(r))), llvm::Align(4),
                                          "a" + std::to_string(r));
    Value* splat = builder_.CreateVectorSplat(8, a, "a" + std::to_string(r) + ".splat");
    for (int64_t v = 0; v < vectors; ++v) {
      Value*& slot = acc[r * vectors + v];
      slot = builder_.CreateCall(fma, {splat, b[v], slot},
                                 acc_name + ".r" + std::to_string(r) + ".v" + std::to_string(v));
    }
  }
}

// C tile (rows × 8·vectors at c, row stride c_row_stride) = or += the accumulators. Only columns
// [col_lo, col_hi) of the tile are touched: a full tile uses plain vector stores, a partial one
// (column range cut, or columns past n) masked loads and stores.
void GemmEmitter::emit_tile_store(int64_t rows, int64_t vectors, Value* c, Value* overwrite, Value* col_lo,
                                  Value* col_hi, const std::vector<Value*>& acc) {
  auto address = [&](int64_t r, int64_t v) {
    return near(c, r * spec_.c_row_stride + 8 * v, "c.r" + std::to_string(r) + ".v" + std::to_string(v));
  };
  auto store_all = [&](bool masked) {
    std::vector<Value*> masks(vectors);
    if (masked) {
      std::vector<llvm::Constant*> lanes;
      for (int i = 0; i < 8; ++i) lanes.push_back(llvm::ConstantInt::get(i64_, i));
      Value* lane = llvm::ConstantVector::get(lanes);
      Value* lo = builder_.CreateVectorSplat(8, col_lo, "col_lo.splat");
      Value* hi = builder_.CreateVectorSplat(8, col_hi, "col_hi.splat");
      for (int64_t v = 0; v < vectors; ++v) {
        Value* column = builder_.CreateAdd(lane, builder_.CreateVectorSplat(8, i64(8 * v)));
        masks[v] = builder_.CreateAnd(builder_.CreateICmpSGE(column, lo), builder_.CreateICmpSLT(column, hi),
                                      "mask.v" + std::to_string(v));
      }
    }
    auto store = [&](bool add_to_c) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t v = 0; v < vectors; ++v) {
          Value* p = address(r, v);
          Value* value = acc[r * vectors + v];
          if (add_to_c) {
            Value* old = masked ? static_cast<Value*>(builder_.CreateMaskedLoad(v8_, p, llvm::Align(4), masks[v],
                                                            llvm::Constant::getNullValue(v8_), "c.old"))
                                : builder_.CreateAlignedLoad(v8_, p, llvm::Align(4), "c.old");
            value = builder_.CreateFAdd(old, value, "c.new");
          }
          if (masked)
            builder_.CreateMaskedStore(value, p, llvm::Align(4), masks[v]);
          else
            builder_.CreateAlignedStore(value, p, llvm::Align(4));
        }
    };
    when(overwrite, masked ? "store.masked.set" : "store.set", [&] { store(false); }, [&] { store(true); });
  };
  Value* full = builder_.CreateAnd(builder_.CreateICmpEQ(col_lo, i64(0)),
                                   builder_.CreateICmpEQ(col_hi, i64(8 * vectors)), "full_tile");
  when(full, "store", [&] { store_all(false); }, [&] { store_all(true); });
}

// kernel_<rows>x<cols>[_k<split>](a_panel, b_panel, b_panel_stride, c, kc, overwrite, col_lo, col_hi):
// the register tile over `panels` consecutive B panels (b_panel + p·b_panel_stride). With
// k_split > 1 it keeps k_split sets of accumulators, step k of the unrolled loop going to set
// k % k_split (and the kc % unroll last steps to set 0), summed pairwise at the end: more
// independent fma chains for a tile too small to hide the fma latency, in an order fixed by kc.
Function* GemmEmitter::kernel(int64_t rows, int64_t panels, int64_t k_split) {
  const int64_t vectors = panels * spec_.tile.vectors;
  const std::string name = symbol_ + ".kernel_" + std::to_string(rows) + "x" + std::to_string(8 * vectors) +
                           (k_split > 1 ? "_k" + std::to_string(k_split) : "");
  if (Function* existing = module_.getFunction(name)) return existing;
  Function* f = new_function(name, {ptr_, ptr_, i64_, ptr_, i64_, i1_, i64_, i64_},
                             {"a_panel", "b_panel", "b_panel_stride", "c", "kc", "overwrite", "col_lo", "col_hi"},
                             true);
  f->addFnAttr(llvm::Attribute::NoInline);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  f->getArg(1)->addAttr(llvm::Attribute::ReadOnly);
  auto arg = [&](int i) { return f->getArg(i); };
  llvm::IRBuilderBase::InsertPointGuard guard(builder_);
  const int64_t unroll = k_split >= unroll_k ? k_split : k_split * (unroll_k / k_split);

  BasicBlock* entry = BasicBlock::Create(context_, "entry", f);
  BasicBlock* loop = BasicBlock::Create(context_, "k_loop", f);
  BasicBlock* tail_check = BasicBlock::Create(context_, "k_tail.check", f);
  BasicBlock* tail = BasicBlock::Create(context_, "k_tail", f);
  BasicBlock* store = BasicBlock::Create(context_, "store", f);

  builder_.SetInsertPoint(entry);
  std::vector<Value*> b_panels = {arg(1)};
  for (int64_t p = 1; p < panels; ++p)
    b_panels.push_back(at(arg(1), mul(arg(2), p), "b_panel" + std::to_string(p)));
  // The C tile is read or written only after the k loop; fetching its lines now hides the miss
  // (C is often far away: the previous K block touched it a whole pass over M ago).
  Function* prefetch = llvm::Intrinsic::getDeclaration(&module_, llvm::Intrinsic::prefetch, {ptr_});
  std::vector<int64_t> offsets;  // every cache line of a row of the tile, aligned or not
  for (int64_t offset = 0; offset < 8 * vectors; offset += 16) offsets.push_back(offset);
  offsets.push_back(8 * vectors - 1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t offset : offsets)
      builder_.CreateCall(prefetch, {near(arg(3), r * spec_.c_row_stride + offset), builder_.getInt32(1),
                                     builder_.getInt32(3), builder_.getInt32(1)});
  Value* kc_unrolled = builder_.CreateMul(builder_.CreateUDiv(arg(4), i64(unroll)), i64(unroll), "kc_unrolled");
  builder_.CreateCondBr(builder_.CreateICmpSGT(kc_unrolled, i64(0)), loop, tail_check);

  const int64_t per_set = rows * vectors;
  const size_t count = static_cast<size_t>(k_split * per_set);
  auto set_name = [&](int64_t set) { return set == 0 ? std::string("acc") : "acc.s" + std::to_string(set); };
  Value* zero = llvm::Constant::getNullValue(v8_);
  auto acc_phis = [&](const std::string& suffix, BasicBlock* from, const std::vector<Value*>& initial) {
    std::vector<PHINode*> phis(count);
    for (size_t i = 0; i < count; ++i) {
      const int64_t set = static_cast<int64_t>(i) / per_set, in_set = static_cast<int64_t>(i) % per_set;
      phis[i] = builder_.CreatePHI(v8_, 2, set_name(set) + ".r" + std::to_string(in_set / vectors) + ".v" +
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
    emit_k_step(add(k, i64(u)), rows, vectors, arg(0), b_panels, &acc[static_cast<size_t>(set * per_set)],
                set_name(set));
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
  builder_.CreateCondBr(builder_.CreateICmpSLT(k_tail_begin, arg(4)), tail, store);

  builder_.SetInsertPoint(tail);
  PHINode* k_tail = builder_.CreatePHI(i64_, 2, "k.tail");
  k_tail->addIncoming(k_tail_begin, tail_check);
  std::vector<PHINode*> tail_acc = acc_phis(".tail", tail_check, {check_acc.begin(), check_acc.end()});
  acc.assign(tail_acc.begin(), tail_acc.end());
  emit_k_step(k_tail, rows, vectors, arg(0), b_panels, acc.data(), set_name(0));
  Value* k_tail_next = builder_.CreateAdd(k_tail, i64(1), "k.tail.next", true, true);
  k_tail->addIncoming(k_tail_next, tail);
  for (size_t i = 0; i < count; ++i) tail_acc[i]->addIncoming(acc[i], tail);
  builder_.CreateCondBr(builder_.CreateICmpSLT(k_tail_next, arg(4)), tail, store);

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
        sums.back().push_back(builder_.CreateFAdd(sets[s][i], sets[s + 1][i], "acc.sum"));
    }
    if (sets.size() % 2) sums.push_back(sets.back());
    sets = std::move(sums);
  }
  emit_tile_store(rows, vectors, arg(3), arg(5), arg(6), arg(7), sets[0]);
  builder_.CreateRetVoid();
  return f;
}

Function* GemmEmitter::emit_pack() {
  Function* f =
      new_function(symbol_ + "_pack", {ptr_, ptr_, i64_, i64_}, {"b", "b_packed", "n_begin", "n_end"}, false);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  Function* pack_panels = gemm_detail::pack_b_function(module_, spec_);
  llvm::IRBuilderBase::InsertPointGuard guard(builder_);
  builder_.SetInsertPoint(BasicBlock::Create(context_, "entry", f));
  const int64_t nr = plan_.nr;
  // The panels whose first column q·nr lies in [n_begin, n_end): q in [ceil(n_begin/nr), ceil(n_end/nr)).
  auto clamp = [&](Value* v, const char* name) { return min(max(v, i64(0), ""), i64(spec_.n), name); };
  Value* q_begin = builder_.CreateUDiv(add(clamp(f->getArg(2), "n_begin.clamped"), i64(nr - 1)), i64(nr), "q_begin");
  Value* q_end = builder_.CreateUDiv(add(clamp(f->getArg(3), "n_end.clamped"), i64(nr - 1)), i64(nr), "q_end");
  when(builder_.CreateICmpSLT(q_begin, q_end), "any", [&] {
    Value* first_panel = at(f->getArg(1), mul(q_begin, spec_.k * nr), "first_panel");
    builder_.CreateCall(pack_panels, {f->getArg(0), first_panel, q_begin, q_end, i64(0), i64(spec_.k)});
  });
  builder_.CreateRetVoid();
  return f;
}

Function* GemmEmitter::emit_gemm() {
  Function* f = new_function(symbol_, {ptr_, ptr_, ptr_, ptr_, i64_, i64_},
                             {"a", "b", "c", "scratch", "n_begin", "n_end"}, false);
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  f->getArg(1)->addAttr(llvm::Attribute::ReadOnly);
  const GemmPlan& plan = plan_;
  const int64_t nr = plan.nr;
  const bool prepacked = spec_.b == GemmB::prepacked;
  // Kernels: full tiles (mr rows, one panel); the edge rows over a group of panels, and over each
  // smaller number of panels for the end of a column range.
  Function* tile_kernel = spec_.m >= plan.mr ? kernel(plan.mr, 1, 1) : nullptr;
  const int64_t group = plan.edge_rows > 0 ? plan.edge_panels : 1;
  std::vector<Function*> edge_kernels(static_cast<size_t>(group) + 1, nullptr);  // by panel count
  if (plan.edge_rows > 0)
    for (int64_t panels = 1; panels <= group; ++panels)
      edge_kernels[panels] = kernel(plan.edge_rows, panels, plan.edge_k_split);
  Function* pack_a = gemm_detail::pack_a_function(module_, spec_);
  Function* pack_b = prepacked ? nullptr : gemm_detail::pack_b_function(module_, spec_);

  llvm::IRBuilderBase::InsertPointGuard guard(builder_);
  builder_.SetInsertPoint(BasicBlock::Create(context_, "entry", f));
  Value *a = f->getArg(0), *b = f->getArg(1), *c = f->getArg(2), *scratch = f->getArg(3);
  Value* n_begin = max(f->getArg(4), i64(0), "n_begin.clamped");
  Value* n_end = min(f->getArg(5), i64(spec_.n), "n_end.clamped");
  Value* a_packed = scratch;
  Value* b_scratch = at(scratch, plan.scratch_a_floats, "b_scratch");

  when(builder_.CreateICmpSLT(n_begin, n_end), "any", [&] {
    Value* q_first = builder_.CreateUDiv(n_begin, i64(nr), "q_first");
    Value* q_end = builder_.CreateUDiv(add(n_end, i64(nr - 1)), i64(nr), "q_end");
    const int64_t nc_panels = prepacked ? plan.panels : plan.nc_panels;
    loop("q_block", q_first, q_end, nc_panels, [&](Value* q0) {
      Value* q1 = min(add(q0, i64(nc_panels)), q_end, "q_block.end");
      loop("k_block", i64(0), i64(plan.k_blocks), 1, [&](Value* kb) {
        Value* p0 = mul(kb, plan.kc, "p0");
        Value* kc = plan.kc_last == plan.kc ? i64(plan.kc)
                                            : builder_.CreateSelect(builder_.CreateICmpEQ(kb, i64(plan.k_blocks - 1)),
                                                                    i64(plan.kc_last), i64(plan.kc), "kc");
        Value* overwrite = spec_.accumulate ? builder_.getFalse() : builder_.CreateICmpEQ(kb, i64(0), "overwrite");
        // Panel q of this K block is at b_base + (q - b_first_panel)·panel_stride.
        Value *b_base, *panel_stride, *b_first_panel;
        if (prepacked) {
          b_base = at(b, mul(p0, nr), "b_k_block");
          panel_stride = i64(spec_.k * nr);
          b_first_panel = i64(0);
        } else {
          builder_.CreateCall(pack_b, {b, b_scratch, q0, q1, p0, kc});
          b_base = b_scratch;
          panel_stride = mul(kc, nr, "panel_stride");
          b_first_panel = q0;
        }
        loop("m_block", i64(0), i64(plan.m_blocks), 1, [&](Value* mb) {
          Value* row0 = mul(mb, plan.mc, "row0");
          Value* is_last_m = builder_.CreateICmpEQ(mb, i64(plan.m_blocks - 1), "last_m_block");
          Value* full_tiles = builder_.CreateSelect(is_last_m, i64(plan.mc_last / plan.mr), i64(plan.mc / plan.mr),
                                                    "full_tiles");
          Value* with_edge = plan.edge_rows > 0 ? is_last_m : builder_.getFalse();
          builder_.CreateCall(pack_a, {a, a_packed, row0, full_tiles, with_edge, p0, kc});
          // One kernel call over `panels` panels from q: its B, its C tile and its column window.
          auto call = [&](Function* kern, Value* a_panel, Value* c_rows, Value* q, int64_t panels) {
            Value* b_panel =
                at(b_base, builder_.CreateMul(builder_.CreateSub(q, b_first_panel), panel_stride), "b_panel");
            Value* column0 = mul(q, nr, "column0");
            Value* col_lo = max(builder_.CreateSub(n_begin, column0), i64(0), "col_lo");
            Value* col_hi = min(builder_.CreateSub(n_end, column0), i64(panels * nr), "col_hi");
            builder_.CreateCall(kern, {a_panel, b_panel, panel_stride, at(c_rows, column0, "c_tile"), kc, overwrite,
                                       col_lo, col_hi});
          };
          loop("panel_group", q0, q1, group, [&](Value* q) {
            if (tile_kernel)
              for (int64_t g = 0; g < group; ++g) {
                Value* panel = add(q, i64(g), "panel");
                auto tiles = [&] {
                  loop("tile", i64(0), full_tiles, 1, [&](Value* t) {
                    Value* a_panel = at(a_packed, builder_.CreateMul(mul(t, plan.mr), kc), "a_panel");
                    Value* c_rows = at(c, mul(add(row0, mul(t, plan.mr)), spec_.c_row_stride), "c_rows");
                    call(tile_kernel, a_panel, c_rows, panel, 1);
                  });
                };
                if (g == 0) tiles();
                else when(builder_.CreateICmpSLT(panel, q1), "panel_in_block", tiles);
              }
            if (plan.edge_rows == 0) return;
            when(with_edge, "edge_rows", [&] {
              Value* edge_row = add(row0, mul(full_tiles, plan.mr), "edge_row");
              Value* a_edge = at(a_packed, builder_.CreateMul(mul(full_tiles, plan.mr), kc), "a_edge_panel");
              Value* c_edge = at(c, mul(edge_row, spec_.c_row_stride), "c_edge_rows");
              // A whole group, or the 1..group-1 panels left at the end of the range.
              Value* panels_left = min(builder_.CreateSub(q1, q), i64(group), "panels_left");
              BasicBlock* done = BasicBlock::Create(context_, "edge.done", f);
              llvm::SwitchInst* by_count = builder_.CreateSwitch(panels_left, done, static_cast<unsigned>(group));
              for (int64_t panels = 1; panels <= group; ++panels) {
                BasicBlock* block = BasicBlock::Create(context_, "edge.panels" + std::to_string(panels), f);
                by_count->addCase(llvm::cast<llvm::ConstantInt>(i64(panels)), block);
                builder_.SetInsertPoint(block);
                call(edge_kernels[panels], a_edge, c_edge, q, panels);
                builder_.CreateBr(done);
              }
              builder_.SetInsertPoint(done);
            });
          });
        });
      });
    });
  });
  builder_.CreateRetVoid();
  return f;
}

}  // namespace

void check_gemm_spec(const GemmSpec& spec) {
  auto require = [&](bool ok, const char* what) {
    if (!ok) internal_error("invalid GEMM spec (", gemm_key(spec), "): ", what);
  };
  require(spec.m >= 1 && spec.n >= 1 && spec.k >= 1, "m, n and k must be at least 1");
  require(spec.a_row_stride >= 0 && spec.a_col_stride >= 0 && spec.b_row_stride >= 0 && spec.b_col_stride >= 0,
          "strides must not be negative");
  require(spec.c_row_stride >= spec.n || spec.m == 1, "the C row stride must be at least n");
  require(spec.tile.rows >= 1 && spec.tile.rows <= 8, "tile.rows must be 1..8");
  require(spec.tile.vectors >= 1 && spec.tile.vectors <= 4, "tile.vectors must be 1..4");
  require(spec.tile.rows * spec.tile.vectors + spec.tile.vectors + 1 <= spec.tile.registers,
          "the tile needs more vector registers than tile.registers");
}

llvm::Function* get_or_emit_gemm(llvm::Module& module, const GemmSpec& spec) {
  check_gemm_spec(spec);
  if (Function* existing = module.getFunction(gemm_symbol(spec))) return existing;
  return GemmEmitter(module, spec).emit_gemm();
}

llvm::Function* get_or_emit_gemm_pack(llvm::Module& module, const GemmSpec& spec) {
  check_gemm_spec(spec);
  if (Function* existing = module.getFunction(gemm_symbol(spec) + "_pack")) return existing;
  return GemmEmitter(module, spec).emit_pack();
}

}  // namespace cellforge::llvm_backend
