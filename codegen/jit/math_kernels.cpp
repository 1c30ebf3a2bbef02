// Builds and JIT-compiles the standalone math kernels of math_kernels.hpp: for each function of
// codegen/llvm/math.hpp, an <8 x float> loop with a masked tail and a scalar loop, all in one
// module so one compile serves the tests and the sweep.
//
// The vector kernel is written with explicit vectors rather than left to the loop vectorizer, so
// what runs is exactly the IR a fused elementwise loop inlines, at the width the project targets
// (AVX2: 8 floats). Its tail uses llvm.masked.load/store (vmaskmovps), which neither reads nor
// writes the lanes past n. The scalar kernel carries `llvm.loop.vectorize.enable = false`, so it
// really runs the `float` form of the IR.
#include "codegen/jit/math_kernels.hpp"

#include <llvm/IR/BasicBlock.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Metadata.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>

#include "codegen/ir/error.hpp"
#include "codegen/llvm/math.hpp"

namespace cellforge::jit {

namespace {

constexpr unsigned vector_width = 8;

llvm::Value* emit_function(llvm::IRBuilder<>& builder, MathFunction function, llvm::Value* x) {
  switch (function) {
    case MathFunction::exp: return llvm_backend::emit_exp(builder, x);
    case MathFunction::log: return llvm_backend::emit_log(builder, x);
    case MathFunction::tanh: return llvm_backend::emit_tanh(builder, x);
    case MathFunction::sigmoid: return llvm_backend::emit_sigmoid(builder, x);
    case MathFunction::sqrt: return llvm_backend::emit_sqrt(builder, x);
    case MathFunction::rsqrt: return llvm_backend::emit_rsqrt(builder, x);
  }
  internal_error("unknown math function ", static_cast<int>(function));
}

// define void @name(ptr nocapture readonly %in, ptr nocapture %out, i64 %n). No noalias: `in` and
// `out` may be the same buffer (each step loads its lanes before it stores them).
llvm::Function* declare_kernel(llvm::Module& module, const std::string& name) {
  llvm::LLVMContext& context = module.getContext();
  auto* pointer = llvm::PointerType::get(context, 0);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                       {pointer, pointer, llvm::Type::getInt64Ty(context)}, false);
  auto* kernel = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module);
  kernel->setDoesNotThrow();
  kernel->getArg(0)->setName("in");
  kernel->getArg(1)->setName("out");
  kernel->getArg(2)->setName("n");
  kernel->addParamAttr(0, llvm::Attribute::NoCapture);
  kernel->addParamAttr(0, llvm::Attribute::ReadOnly);
  kernel->addParamAttr(1, llvm::Attribute::NoCapture);
  return kernel;
}

// for (i = 0; i + 8 <= n; i += 8) out[i:i+8] = f(in[i:i+8]);  then the last n % 8 lanes, masked.
void build_vector_kernel(llvm::Module& module, MathFunction function) {
  llvm::LLVMContext& context = module.getContext();
  llvm::Function* kernel = declare_kernel(module, math_kernel_symbol(function, true));
  llvm::Value* in = kernel->getArg(0);
  llvm::Value* out = kernel->getArg(1);
  llvm::Value* n = kernel->getArg(2);
  auto* entry = llvm::BasicBlock::Create(context, "entry", kernel);
  auto* loop = llvm::BasicBlock::Create(context, "loop", kernel);
  auto* tail_check = llvm::BasicBlock::Create(context, "tail_check", kernel);
  auto* tail = llvm::BasicBlock::Create(context, "tail", kernel);
  auto* done = llvm::BasicBlock::Create(context, "done", kernel);
  llvm::IRBuilder<> builder(entry);
  llvm::Type* f32 = builder.getFloatTy();
  llvm::Type* i64 = builder.getInt64Ty();
  auto* vector_type = llvm::FixedVectorType::get(f32, vector_width);
  const llvm::Align align(4);

  llvm::Value* count = builder.CreateSelect(builder.CreateICmpSLT(n, builder.getInt64(0)), builder.getInt64(0), n,
                                            "count");
  llvm::Value* full = builder.CreateAnd(count, builder.getInt64(-static_cast<int64_t>(vector_width)), "full");
  builder.CreateCondBr(builder.CreateICmpSGT(full, builder.getInt64(0), "has_full"), loop, tail_check);

  builder.SetInsertPoint(loop);
  llvm::PHINode* i = builder.CreatePHI(i64, 2, "i");
  i->addIncoming(builder.getInt64(0), entry);
  llvm::Value* x = builder.CreateAlignedLoad(vector_type, builder.CreateGEP(f32, in, i, "in_i"), align, "x");
  llvm::Value* y = emit_function(builder, function, x);
  builder.CreateAlignedStore(y, builder.CreateGEP(f32, out, i, "out_i"), align);
  llvm::Value* next = builder.CreateAdd(i, builder.getInt64(vector_width), "i_next", true, true);
  i->addIncoming(next, loop);
  builder.CreateCondBr(builder.CreateICmpSLT(next, full, "more"), loop, tail_check);

  builder.SetInsertPoint(tail_check);
  llvm::Value* rest = builder.CreateSub(count, full, "rest");
  builder.CreateCondBr(builder.CreateICmpSGT(rest, builder.getInt64(0), "has_rest"), tail, done);

  builder.SetInsertPoint(tail);
  llvm::SmallVector<llvm::Constant*, vector_width> lanes;
  for (unsigned lane = 0; lane < vector_width; ++lane) lanes.push_back(builder.getInt32(lane));
  llvm::Value* rest_splat = builder.CreateVectorSplat(vector_width, builder.CreateTrunc(rest, builder.getInt32Ty()),
                                                      "rest_splat");
  llvm::Value* mask = builder.CreateICmpSLT(llvm::ConstantVector::get(lanes), rest_splat, "mask");
  llvm::Value* in_tail = builder.CreateGEP(f32, in, full, "in_tail");
  llvm::Value* x_tail = builder.CreateMaskedLoad(vector_type, in_tail, align, mask,
                                                 llvm::Constant::getNullValue(vector_type), "x_tail");
  llvm::Value* y_tail = emit_function(builder, function, x_tail);
  builder.CreateMaskedStore(y_tail, builder.CreateGEP(f32, out, full, "out_tail"), align, mask);
  builder.CreateBr(done);

  builder.SetInsertPoint(done);
  builder.CreateRetVoid();
}

// for (i = 0; i < n; ++i) out[i] = f(in[i]);  kept scalar by loop metadata.
void build_scalar_kernel(llvm::Module& module, MathFunction function) {
  llvm::LLVMContext& context = module.getContext();
  llvm::Function* kernel = declare_kernel(module, math_kernel_symbol(function, false));
  llvm::Value* in = kernel->getArg(0);
  llvm::Value* out = kernel->getArg(1);
  llvm::Value* n = kernel->getArg(2);
  auto* entry = llvm::BasicBlock::Create(context, "entry", kernel);
  auto* loop = llvm::BasicBlock::Create(context, "loop", kernel);
  auto* done = llvm::BasicBlock::Create(context, "done", kernel);
  llvm::IRBuilder<> builder(entry);
  llvm::Type* f32 = builder.getFloatTy();
  builder.CreateCondBr(builder.CreateICmpSGT(n, builder.getInt64(0), "nonempty"), loop, done);

  builder.SetInsertPoint(loop);
  llvm::PHINode* i = builder.CreatePHI(builder.getInt64Ty(), 2, "i");
  i->addIncoming(builder.getInt64(0), entry);
  llvm::Value* x = builder.CreateAlignedLoad(f32, builder.CreateGEP(f32, in, i, "in_i"), llvm::Align(4), "x");
  llvm::Value* y = emit_function(builder, function, x);
  builder.CreateAlignedStore(y, builder.CreateGEP(f32, out, i, "out_i"), llvm::Align(4));
  llvm::Value* next = builder.CreateAdd(i, builder.getInt64(1), "i_next", true, true);
  i->addIncoming(next, loop);
  auto* back_edge = builder.CreateCondBr(builder.CreateICmpSLT(next, n, "more"), loop, done);
  // !llvm.loop !{self, !{"llvm.loop.vectorize.enable", i1 false}}
  llvm::Metadata* no_vectorize[] = {
      llvm::MDString::get(context, "llvm.loop.vectorize.enable"),
      llvm::ConstantAsMetadata::get(builder.getFalse())};
  llvm::Metadata* self_and_options[] = {nullptr, llvm::MDNode::get(context, no_vectorize)};
  llvm::MDNode* loop_id = llvm::MDNode::getDistinct(context, self_and_options);
  loop_id->replaceOperandWith(0, loop_id);
  back_edge->setMetadata(llvm::LLVMContext::MD_loop, loop_id);

  builder.SetInsertPoint(done);
  builder.CreateRetVoid();
}

std::unique_ptr<llvm::Module> build_math_module(llvm::LLVMContext& context) {
  auto module = std::make_unique<llvm::Module>("cellforge_math_kernels", context);
  for (MathFunction function : all_math_functions) {
    build_vector_kernel(*module, function);
    build_scalar_kernel(*module, function);
  }
  return module;
}

std::string module_text(const llvm::Module& module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os, nullptr);
  return text;
}

}  // namespace

const char* math_function_name(MathFunction function) {
  switch (function) {
    case MathFunction::exp: return "exp";
    case MathFunction::log: return "log";
    case MathFunction::tanh: return "tanh";
    case MathFunction::sigmoid: return "sigmoid";
    case MathFunction::sqrt: return "sqrt";
    case MathFunction::rsqrt: return "rsqrt";
  }
  internal_error("unknown math function ", static_cast<int>(function));
}

int max_ulp_error(MathFunction function) {
  // Measured over all 2^32 inputs by bench/ulp_sweep.cpp; see docs/numerics.md.
  return function == MathFunction::sqrt ? 0 : 1;
}

std::string math_kernel_symbol(MathFunction function, bool vector) {
  return std::string("cf_math_") + math_function_name(function) + (vector ? "_f32x8" : "_f32");
}

MathKernels compile_math_kernels(const CompileOptions& options) {
  std::string ir;
  {
    llvm::LLVMContext context;
    ir = module_text(*build_math_module(context));
  }
  std::unique_ptr<CompiledCode> code = compile(cache_key("math kernels\n" + ir), build_math_module, options);
  std::array<MathKernel, 6> vector{}, scalar{};
  for (MathFunction function : all_math_functions) {
    auto index = static_cast<size_t>(function);
    vector[index] = reinterpret_cast<MathKernel>(code->lookup(math_kernel_symbol(function, true)));
    scalar[index] = reinterpret_cast<MathKernel>(code->lookup(math_kernel_symbol(function, false)));
  }
  return MathKernels(std::move(code), vector, scalar);
}

std::string emit_math_kernels(Stage stage, int opt_level) { return emit(build_math_module, stage, opt_level); }

}  // namespace cellforge::jit
