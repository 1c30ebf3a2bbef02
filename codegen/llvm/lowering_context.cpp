// The lowering's shared helpers; see lowering_context.hpp.
#include "codegen/llvm/lowering_context.hpp"

#include "codegen/ir/error.hpp"

namespace cellforge::llvm_backend {

Lowering::Lowering(llvm::Module& module, const NetworkPlan& plan, const LowerOptions& options)
    : module_(module), plan_(plan), options_(options), builder_(module.getContext()) {}

void Lowering::begin_function(const std::string& name) {
  auto* type = llvm::FunctionType::get(builder_.getVoidTy(), {ptr(), i64(), i64(), ptr()}, false);
  function_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
  function_->addFnAttr(llvm::Attribute::NoUnwind);
  if (options_.vector_width * 32 > 256) function_->addFnAttr("min-legal-vector-width", std::to_string(options_.vector_width * 32));
  function_->addParamAttr(0, llvm::Attribute::NoAlias);
  auto arg = function_->arg_begin();
  slots_ = &*arg++;
  slots_->setName("slots");
  thread_ = &*arg++;
  thread_->setName("thread");
  threads_ = &*arg++;
  threads_->setName("threads");
  barrier_ = &*arg;
  barrier_->setName("barrier");
  entry_ = llvm::BasicBlock::Create(context(), "entry", function_);
  builder_.SetInsertPoint(entry_);
  slot_cache_.assign(static_cast<size_t>(kFirstStateSlot) + 4 * plan_.states.size(), nullptr);
}

void Lowering::end_function() {
  builder_.CreateRetVoid();
  function_ = nullptr;
}

llvm::Value* Lowering::slot(int index) {
  if (index < 0 || index >= static_cast<int>(slot_cache_.size())) internal_error("slot ", index, " out of range");
  if (!slot_cache_[index]) {
    // Load slots in the entry block so that every later block can use them.
    llvm::IRBuilder<> entry(entry_, entry_->begin());
    static const char* names[] = {"input", "output", "params", "grads", "d_output", "d_input", "workspace", "telemetry", "reuse_packed"};
    std::string name = index < kFirstStateSlot ? names[index] : "state_slot" + std::to_string(index);
    llvm::Value* p = entry.CreateGEP(ptr(), slots_, entry.getInt64(static_cast<uint64_t>(index)));
    slot_cache_[index] = entry.CreateLoad(ptr(), p, name);
  }
  return slot_cache_[index];
}

llvm::Value* Lowering::address(const Location& where, llvm::Value* step, llvm::Value* row, llvm::Value* column) {
  if (!where.valid()) internal_error("address of a value that has no location");
  auto& b = builder_;
  llvm::Value* index = int64(where.offset);
  if (where.step_stride != 0 && (step || where.time_offset != 0)) {
    llvm::Value* t = step ? b.CreateAdd(step, int64(where.time_offset)) : int64(where.time_offset);
    index = b.CreateAdd(index, b.CreateMul(t, int64(where.step_stride)));
  }
  if (row) index = b.CreateAdd(index, b.CreateMul(row, int64(where.row_stride)));
  if (column) index = b.CreateAdd(index, column);
  return b.CreateGEP(f32(), slot(where.slot), index);
}

void Lowering::emit_for(llvm::Value* begin, llvm::Value* end, int64_t step, const std::string& name,
                        const std::function<void(llvm::Value*)>& body) {
  auto& b = builder_;
  llvm::Function* f = b.GetInsertBlock()->getParent();
  llvm::BasicBlock* before = b.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(context(), name + ".head", f);
  llvm::BasicBlock* body_block = llvm::BasicBlock::Create(context(), name + ".body", f);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(context(), name + ".exit", f);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode* i = b.CreatePHI(i64(), 2, name);
  i->addIncoming(begin, before);
  b.CreateCondBr(b.CreateICmpSLT(i, end), body_block, exit);
  b.SetInsertPoint(body_block);
  body(i);
  llvm::Value* next = b.CreateAdd(i, int64(step), name + ".next");
  i->addIncoming(next, b.GetInsertBlock());
  b.CreateBr(header);
  b.SetInsertPoint(exit);
}

std::pair<llvm::Value*, llvm::Value*> Lowering::thread_range(llvm::Value* total, int64_t granule) {
  auto& b = builder_;
  llvm::Value* chunks = b.CreateSDiv(b.CreateAdd(total, int64(granule - 1)), int64(granule));
  llvm::Value* first = b.CreateSDiv(b.CreateMul(chunks, thread_), threads_);
  llvm::Value* last = b.CreateSDiv(b.CreateMul(chunks, b.CreateAdd(thread_, int64(1))), threads_);
  auto clamp = [&](llvm::Value* chunk) {
    llvm::Value* v = b.CreateMul(chunk, int64(granule));
    return b.CreateSelect(b.CreateICmpSLT(v, total), v, total);
  };
  return {clamp(first), clamp(last)};
}

llvm::Value* Lowering::scratch() {
  llvm::Value* offset = builder_.CreateAdd(int64(plan_.workspace_floats),
                                           builder_.CreateMul(thread_, int64(plan_.scratch_floats_per_thread)));
  return builder_.CreateGEP(f32(), slot(kWorkspace), offset, "scratch");
}

llvm::Value* Lowering::entry_alloca(llvm::Type* type, const std::string& name) {
  llvm::IRBuilder<> entry(entry_, entry_->begin());
  return entry.CreateAlloca(type, nullptr, name);
}

void Lowering::barrier() {
  auto& b = builder_;
  llvm::FunctionCallee wait =
      module_.getOrInsertFunction("cellforge_barrier_wait", llvm::FunctionType::get(b.getVoidTy(), {ptr()}, false));
  llvm::Function* f = b.GetInsertBlock()->getParent();
  llvm::BasicBlock* call = llvm::BasicBlock::Create(context(), "barrier", f);
  llvm::BasicBlock* after = llvm::BasicBlock::Create(context(), "after_barrier", f);
  b.CreateCondBr(b.CreateICmpSGT(threads_, int64(1)), call, after);
  b.SetInsertPoint(call);
  b.CreateCall(wait, {barrier_});
  b.CreateBr(after);
  b.SetInsertPoint(after);
}

void Lowering::copy_rows(const Location& from, const Location& to, llvm::Value* step, llvm::Value* rows, int64_t width,
                         bool add, int64_t row_granule) {
  auto [begin, end] = thread_range(rows, row_granule);
  emit_for(begin, end, 1, "copy_row", [&](llvm::Value* r) {
    emit_for(int64(0), int64(width), 1, "copy_col", [&](llvm::Value* j) {
      llvm::Value* v = builder_.CreateLoad(f32(), address(from, step, r, j));
      llvm::Value* target = address(to, step, r, j);
      if (add) v = builder_.CreateFAdd(builder_.CreateLoad(f32(), target), v);
      builder_.CreateStore(v, target);
    });
  });
}

void Lowering::zero_rows(const Location& where, int64_t rows, int64_t width) {
  auto [begin, end] = thread_range(int64(rows));
  emit_for(begin, end, 1, "zero_row", [&](llvm::Value* r) {
    emit_for(int64(0), int64(width), 1, "zero_col", [&](llvm::Value* j) {
      builder_.CreateStore(llvm::ConstantFP::get(f32(), 0.0), address(where, nullptr, r, j));
    });
  });
}

}  // namespace cellforge::llvm_backend
