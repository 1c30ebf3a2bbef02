// The GEMM library as a jit::Library, and GemmKernel: a module holding one spec's thin gemm and
// pack functions, compiled by jit::compile with its tile's library; see gemm_kernels.hpp.
#include "codegen/jit/gemm_kernels.hpp"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <algorithm>

#include "codegen/llvm/gemm.hpp"
#include "codegen_version.hpp"

namespace cellforge::jit {

namespace {

ModuleBuilder gemm_module_builder(const llvm_backend::GemmSpec& spec) {
  return [spec](llvm::LLVMContext& context) {
    auto module = std::make_unique<llvm::Module>(llvm_backend::gemm_symbol(spec), context);
    llvm_backend::get_or_emit_gemm(*module, spec);
    llvm_backend::get_or_emit_gemm_blocks(*module, spec);
    llvm_backend::get_or_emit_gemm_pack(*module, spec);
    return module;
  };
}

ModuleBuilder library_module_builder(const llvm_backend::GemmTile& tile) {
  return [tile](llvm::LLVMContext& context) {
    auto module = std::make_unique<llvm::Module>("cellforge gemm library " + llvm_backend::gemm_tile_name(tile), context);
    llvm_backend::emit_gemm_library(*module, tile);
    return module;
  };
}

}  // namespace

Library gemm_library(const llvm_backend::GemmTile& tile) {
  llvm_backend::check_gemm_tile(tile);
  // The sources hash (CELLFORGE_CODEGEN_VERSION) changes with any edit of the code generator, so a
  // library object from an older build is never linked; the explicit version names the calling
  // convention for readers of the cache directory.
  return {cache_key(std::string(llvm_backend::gemm_generator_version) + " library " +
                    llvm_backend::gemm_tile_name(tile) + " " + CELLFORGE_CODEGEN_VERSION),
          library_module_builder(tile)};
}

std::vector<Library> gemm_libraries(const std::vector<llvm_backend::GemmSpec>& specs) {
  std::vector<Library> libraries;
  std::vector<std::string> tiles;
  for (const llvm_backend::GemmSpec& spec : specs) {
    const std::string tile = llvm_backend::gemm_tile_name(spec.tile);
    if (std::find(tiles.begin(), tiles.end(), tile) != tiles.end()) continue;
    tiles.push_back(tile);
    libraries.push_back(gemm_library(spec.tile));
  }
  return libraries;
}

GemmKernel::GemmKernel(llvm_backend::GemmSpec spec, std::unique_ptr<CompiledCode> code)
    : spec_(std::move(spec)), code_(std::move(code)) {
  const std::string symbol = llvm_backend::gemm_symbol(spec_);
  gemm_ = reinterpret_cast<GemmFunction>(code_->lookup(symbol));
  gemm_blocks_ = reinterpret_cast<GemmBlocksFunction>(code_->lookup(symbol + "_blocks"));
  pack_ = reinterpret_cast<PackFunction>(code_->lookup(symbol + "_pack"));
}

std::unique_ptr<GemmKernel> GemmKernel::compile(const llvm_backend::GemmSpec& spec, const CompileOptions& options) {
  llvm_backend::check_gemm_spec(spec);
  const std::string key = cache_key(std::string(llvm_backend::gemm_generator_version) + " " +
                                    llvm_backend::gemm_key(spec) + " " + llvm_backend::gemm_symbol(spec) + " " +
                                    CELLFORGE_CODEGEN_VERSION);
  CompileOptions with_library = options;
  with_library.libraries.push_back(gemm_library(spec.tile));
  auto code = jit::compile(key, gemm_module_builder(spec), with_library);
  return std::unique_ptr<GemmKernel>(new GemmKernel(spec, std::move(code)));
}

std::string emit_gemm(const llvm_backend::GemmSpec& spec, Stage stage, int opt_level) {
  llvm_backend::check_gemm_spec(spec);
  return emit(gemm_module_builder(spec), stage, opt_level);
}

std::string emit_gemm_library(const llvm_backend::GemmTile& tile, Stage stage) {
  llvm_backend::check_gemm_tile(tile);
  return emit(library_module_builder(tile), stage, 3);
}

}  // namespace cellforge::jit
