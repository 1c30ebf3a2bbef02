// The generated GEMM's two layers (see gemm.hpp): a spec's thin functions in the network's module,
// and the assembly of a tile's kernel library from its parts (gemm_kernel.cpp: micro-kernels,
// gemm_pack.cpp: packing, gemm_driver.cpp: the blocking loops).
//
// A spec's gemm function is
//
//   @S.shape = private constant [22 x i64] [m, n, k, strides, form, plan...]
//   define void @S(ptr %a, ptr %b, ptr %c, ptr %scratch, i64 %n_begin, i64 %n_end, i64 %m_begin, i64 %m_end) {
//     call void @cf_gemmlib_<tile>_gemm(ptr @S.shape, %a, %b, %c, %scratch, %n_begin, %n_end, %m_begin, %m_end)
//   }
//
// which the optimizer inlines into its caller: the network pays one call per product and nothing
// at compile time. Keeping the library out of the module is what makes a network compile fast; the
// price is that sizes are run-time values in the blocking loops, which run once per kernel call
// (hundreds of fma per call), not per fma.
#include "codegen/llvm/gemm.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/TargetParser/Host.h>

#include "codegen/ir/error.hpp"
#include "codegen/llvm/gemm_library.hpp"
#include "codegen/llvm/gemm_pack.hpp"

namespace cellforge::llvm_backend {

namespace {

// The constant shape table of `spec` in `module`, shared by its gemm and pack functions.
llvm::GlobalVariable* shape_table(llvm::Module& module, const GemmSpec& spec) {
  const std::string name = gemm_symbol(spec) + ".shape";
  if (llvm::GlobalVariable* existing = module.getGlobalVariable(name, true)) return existing;
  const auto values = gemm_detail::gemm_shape(spec);
  llvm::Constant* init = llvm::ConstantDataArray::get(module.getContext(), llvm::ArrayRef<int64_t>(values.data(), values.size()));
  auto* table = new llvm::GlobalVariable(module, init->getType(), true, llvm::GlobalValue::PrivateLinkage, init, name);
  table->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  table->setAlignment(llvm::Align(8));
  return table;
}

// The declaration of a library entry point in a network's module.
llvm::FunctionCallee library_entry(llvm::Module& module, const GemmTile& tile, const std::string& entry,
                                   std::vector<llvm::Type*> parameters) {
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(module.getContext()), parameters, false);
  llvm::FunctionCallee callee = module.getOrInsertFunction(gemm_library_symbol(tile, entry), type);
  if (auto* f = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    f->addFnAttr(llvm::Attribute::NoUnwind);
    f->addFnAttr(llvm::Attribute::WillReturn);
  }
  return callee;
}

// A thin function `name(params...)` whose body passes the shape table and its parameters on to
// the library entry `entry`.
llvm::Function* emit_forwarder(llvm::Module& module, const GemmSpec& spec, const std::string& name,
                               const std::string& entry, const std::vector<const char*>& names,
                               const std::vector<llvm::Type*>& parameters) {
  llvm::Function* f = gemm_detail::new_void_function(module, name, parameters, names, false);
  std::vector<llvm::Type*> entry_parameters = {llvm::PointerType::get(module.getContext(), 0)};
  entry_parameters.insert(entry_parameters.end(), parameters.begin(), parameters.end());
  llvm::FunctionCallee callee = library_entry(module, spec.tile, entry, entry_parameters);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(module.getContext(), "entry", f));
  std::vector<llvm::Value*> arguments = {shape_table(module, spec)};
  for (llvm::Argument& argument : f->args()) arguments.push_back(&argument);
  b.CreateCall(callee, arguments);
  b.CreateRetVoid();
  return f;
}

}  // namespace

const GemmTarget& host_gemm_target() {
  // The JIT's target machine takes its features from the same LLVM call (detectHost).
  static const GemmTarget target = [] {
    std::string features;
    for (const auto& feature : llvm::sys::getHostCPUFeatures())
      if (feature.getValue()) features += "+" + feature.getKey().str() + ",";
    return gemm_target_from_features(features);
  }();
  return target;
}

std::string gemm_library_symbol(const GemmTile& tile, const std::string& entry) {
  return "cf_gemmlib_" + gemm_tile_name(tile) + "_" + entry;
}

void check_gemm_tile(const GemmTile& tile) {
  auto require = [&](bool ok, const char* what) {
    if (!ok) internal_error("invalid GEMM tile (", gemm_tile_name(tile), "): ", what);
  };
  require(tile.rows >= 1 && tile.rows <= 16, "tile.rows must be 1..16");
  require(tile.vectors >= 1 && tile.vectors <= 8, "tile.vectors must be 1..8");
  require(tile.vector_floats == 8 || tile.vector_floats == 16, "tile.vector_floats must be 8 or 16");
  require(tile.rows * tile.vectors + tile.vectors + 1 <= tile.registers,
          "the tile needs more vector registers than tile.registers");
  if (tile.vector_floats > host_gemm_target().vector_floats)
    user_error("the GEMM tile ", gemm_tile_name(tile), " uses ", tile.vector_floats,
               "-float vectors, but this CPU has ", host_gemm_target().vector_floats,
               " (no AVX-512F); use a tile of 8-float vectors, e.g. default_gemm_tile(host_gemm_target())");
}

void check_gemm_spec(const GemmSpec& spec) {
  auto require = [&](bool ok, const char* what) {
    if (!ok) internal_error("invalid GEMM spec (", gemm_key(spec), "): ", what);
  };
  require(spec.m >= 1 && spec.n >= 1 && spec.k >= 1, "m, n and k must be at least 1");
  require(spec.a_row_stride >= 0 && spec.a_col_stride >= 0 && spec.b_row_stride >= 0 && spec.b_col_stride >= 0,
          "strides must not be negative");
  require(spec.c_row_stride >= spec.n || spec.m == 1, "the C row stride must be at least n");
  check_gemm_tile(spec.tile);
}

llvm::Function* get_or_emit_gemm(llvm::Module& module, const GemmSpec& spec) {
  check_gemm_spec(spec);
  if (llvm::Function* existing = module.getFunction(gemm_symbol(spec))) return existing;
  llvm::LLVMContext& context = module.getContext();
  llvm::Type* ptr = llvm::PointerType::get(context, 0);
  llvm::Type* i64 = llvm::Type::getInt64Ty(context);
  llvm::Function* f = emit_forwarder(module, spec, gemm_symbol(spec), "gemm",
                                     {"a", "b", "c", "scratch", "n_begin", "n_end", "m_begin", "m_end"},
                                     {ptr, ptr, ptr, ptr, i64, i64, i64, i64});
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  f->getArg(1)->addAttr(llvm::Attribute::ReadOnly);
  return f;
}

llvm::Function* get_or_emit_gemm_blocks(llvm::Module& module, const GemmSpec& spec) {
  check_gemm_spec(spec);
  if (llvm::Function* existing = module.getFunction(gemm_symbol(spec) + "_blocks")) return existing;
  llvm::LLVMContext& context = module.getContext();
  llvm::Type* ptr = llvm::PointerType::get(context, 0);
  llvm::Type* i64 = llvm::Type::getInt64Ty(context);
  llvm::Function* f = emit_forwarder(
      module, spec, gemm_symbol(spec) + "_blocks", "gemm_blocks",
      {"a", "b", "c", "scratch", "n_begin", "n_end", "n_blocks", "n_block_stride", "m_begin", "m_end"},
      {ptr, ptr, ptr, ptr, i64, i64, i64, i64, i64, i64});
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  f->getArg(1)->addAttr(llvm::Attribute::ReadOnly);
  return f;
}

llvm::Function* get_or_emit_gemm_pack(llvm::Module& module, const GemmSpec& spec) {
  check_gemm_spec(spec);
  if (llvm::Function* existing = module.getFunction(gemm_symbol(spec) + "_pack")) return existing;
  llvm::LLVMContext& context = module.getContext();
  llvm::Type* ptr = llvm::PointerType::get(context, 0);
  llvm::Type* i64 = llvm::Type::getInt64Ty(context);
  llvm::Function* f = emit_forwarder(module, spec, gemm_symbol(spec) + "_pack", "pack",
                                     {"b", "b_packed", "n_begin", "n_end"}, {ptr, ptr, i64, i64});
  f->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  return f;
}

void emit_gemm_library(llvm::Module& module, const GemmTile& tile) {
  check_gemm_tile(tile);
  gemm_detail::emit_library_gemm(module, tile);
  gemm_detail::emit_library_pack(module, tile);
}

}  // namespace cellforge::llvm_backend
