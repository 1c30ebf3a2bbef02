// GemmKernel: a module holding one spec's gemm and pack functions, compiled by jit::compile; see
// gemm_kernels.hpp.
#include "codegen/jit/gemm_kernels.hpp"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include "codegen/llvm/gemm.hpp"

namespace cellforge::jit {

namespace {

ModuleBuilder gemm_module_builder(const llvm_backend::GemmSpec& spec) {
  return [spec](llvm::LLVMContext& context) {
    auto module = std::make_unique<llvm::Module>(llvm_backend::gemm_symbol(spec), context);
    llvm_backend::get_or_emit_gemm(*module, spec);
    llvm_backend::get_or_emit_gemm_pack(*module, spec);
    return module;
  };
}

}  // namespace

GemmKernel::GemmKernel(llvm_backend::GemmSpec spec, std::unique_ptr<CompiledCode> code)
    : spec_(std::move(spec)), code_(std::move(code)) {
  const std::string symbol = llvm_backend::gemm_symbol(spec_);
  gemm_ = reinterpret_cast<GemmFunction>(code_->lookup(symbol));
  pack_ = reinterpret_cast<PackFunction>(code_->lookup(symbol + "_pack"));
}

std::unique_ptr<GemmKernel> GemmKernel::compile(const llvm_backend::GemmSpec& spec, const CompileOptions& options) {
  llvm_backend::check_gemm_spec(spec);
  const std::string key = cache_key(std::string(llvm_backend::gemm_generator_version) + " " +
                                    llvm_backend::gemm_key(spec) + " " + llvm_backend::gemm_symbol(spec));
  auto code = jit::compile(key, gemm_module_builder(spec), options);
  return std::unique_ptr<GemmKernel>(new GemmKernel(spec, std::move(code)));
}

std::string emit_gemm(const llvm_backend::GemmSpec& spec, Stage stage, int opt_level) {
  llvm_backend::check_gemm_spec(spec);
  return emit(gemm_module_builder(spec), stage, opt_level);
}

}  // namespace cellforge::jit
