// The JIT engine: ORC LLJIT per compiled module, the new pass manager at O2/O3 for the host
// target machine, and an object cache on disk; see engine.hpp.
//
// We compile modules to object files ourselves (optimize, then codegen to memory) and hand the
// object to LLJIT, instead of letting LLJIT's IR layer compile. That gives one code path for a
// fresh compile and a cache hit (both add an object file), precise timings per stage, and a cache
// hit that never builds IR at all.
#include "codegen/jit/engine.hpp"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unistd.h>

#include "codegen/ir/error.hpp"

namespace cellforge::jit {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

std::string error_text(llvm::Error error) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << error;
  return text;
}

template <class T>
T unwrap(llvm::Expected<T> value, const char* what) {
  if (!value) internal_error(what, ": ", error_text(value.takeError()));
  return std::move(*value);
}

llvm::orc::JITTargetMachineBuilder host_machine_builder(int opt_level) {
  initialize_llvm();
  auto builder = unwrap(llvm::orc::JITTargetMachineBuilder::detectHost(), "detecting the host CPU");
  builder.setCodeGenOptLevel(opt_level >= 3 ? llvm::CodeGenOptLevel::Aggressive
                             : opt_level == 0 ? llvm::CodeGenOptLevel::None
                                              : llvm::CodeGenOptLevel::Default);
  return builder;
}

// Builds the module and checks it; a broken module is a cellforge bug.
std::unique_ptr<llvm::Module> build_checked(const ModuleBuilder& build, llvm::LLVMContext& context,
                                            llvm::TargetMachine& machine) {
  std::unique_ptr<llvm::Module> module = build(context);
  module->setDataLayout(machine.createDataLayout());
  module->setTargetTriple(machine.getTargetTriple().str());
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(*module, &os)) {
    std::string ir;
    llvm::raw_string_ostream ir_os(ir);
    module->print(ir_os, nullptr);
    internal_error("generated LLVM IR does not verify: ", problems, "\n", ir);
  }
  return module;
}

void optimize(llvm::Module& module, llvm::TargetMachine& machine, int opt_level) {
  if (opt_level == 0) return;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = opt_level >= 2;
  tuning.SLPVectorization = opt_level >= 2;
  llvm::PassBuilder builder(&machine, tuning);  // with the machine, the vectorizers see AVX2
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  llvm::OptimizationLevel level = opt_level >= 3 ? llvm::OptimizationLevel::O3
                                  : opt_level == 2 ? llvm::OptimizationLevel::O2
                                                   : llvm::OptimizationLevel::O1;
  builder.buildPerModuleDefaultPipeline(level).run(module, modules);
}

std::string codegen(llvm::Module& module, llvm::TargetMachine& machine, llvm::CodeGenFileType type) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, os, nullptr, type))
    internal_error("the target machine cannot emit this file type");
  passes.run(module);
  return std::string(buffer.data(), buffer.size());
}

std::string hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Writes `bytes` to `path` atomically: a reader sees the old file or the whole new one.
void write_atomically(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::path temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return;  // the cache is an optimization: a full disk must not fail the compile
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) std::filesystem::remove(temporary, error);
}

bool read_file(const std::filesystem::path& path, std::string* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream content;
  content << in.rdbuf();
  *bytes = content.str();
  return !bytes->empty();
}

}  // namespace

struct CompiledCode::Impl {
  std::unique_ptr<llvm::orc::LLJIT> jit;
};

CompiledCode::CompiledCode(std::unique_ptr<Impl> impl, CompileStats stats)
    : impl_(std::move(impl)), stats_(stats) {}
CompiledCode::~CompiledCode() = default;

void* CompiledCode::lookup(const std::string& symbol) const {
  auto address = impl_->jit->lookup(symbol);
  if (!address) internal_error("compiled code has no function '", symbol, "': ", error_text(address.takeError()));
  return address->toPtr<void*>();
}

const HostTarget& host_target() {
  static const HostTarget target = [] {
    auto builder = host_machine_builder(3);
    HostTarget t;
    t.triple = builder.getTargetTriple().str();
    t.cpu = builder.getCPU();
    t.features = builder.getFeatures().getString();
    t.avx2 = t.features.find("+avx2") != std::string::npos;
    t.fma = t.features.find("+fma") != std::string::npos;
    t.llvm_version = LLVM_VERSION_STRING;
    return t;
  }();
  return target;
}

std::string default_cache_dir() {
  if (const char* dir = std::getenv("CELLFORGE_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/cellforge";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/cellforge";
  return "/tmp/cellforge-cache";
}

std::string cache_key(const std::string& description) {
  const HostTarget& t = host_target();
  std::string full = description + "|" + t.triple + "|" + t.cpu + "|" + t.features + "|llvm " + t.llvm_version;
  return hex(fnv1a(full)) + hex(fnv1a("salt" + full));
}

std::unique_ptr<CompiledCode> compile(const std::string& key, const ModuleBuilder& build,
                                      const CompileOptions& options) {
  const auto start = Clock::now();
  CompileStats stats;
  auto machine_builder = host_machine_builder(options.opt_level);
  std::filesystem::path cache_file;
  std::string object;
  if (options.use_disk_cache) {
    std::filesystem::path dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    cache_file = dir / (key + "-O" + std::to_string(options.opt_level) + ".o");
    stats.from_disk_cache = read_file(cache_file, &object);
  }
  if (!stats.from_disk_cache) {
    auto machine = unwrap(machine_builder.createTargetMachine(), "creating the target machine");
    llvm::LLVMContext context;
    auto t0 = Clock::now();
    std::unique_ptr<llvm::Module> module = build_checked(build, context, *machine);
    stats.build_ms = ms_since(t0);
    t0 = Clock::now();
    optimize(*module, *machine, options.opt_level);
    stats.optimize_ms = ms_since(t0);
    t0 = Clock::now();
    object = codegen(*module, *machine, llvm::CodeGenFileType::ObjectFile);
    stats.codegen_ms = ms_since(t0);
    if (options.use_disk_cache) {
      std::error_code error;
      std::filesystem::create_directories(cache_file.parent_path(), error);
      if (!error) write_atomically(cache_file, object);
    }
  }
  stats.object_bytes = object.size();

  auto t0 = Clock::now();
  auto impl = std::make_unique<CompiledCode::Impl>();
  impl->jit = unwrap(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(machine_builder).create(), "creating the JIT");
  llvm::orc::JITDylib& dylib = impl->jit->getMainJITDylib();
  // libm and friends, for anything the optimizer turned into a library call (memcpy, memset).
  dylib.addGenerator(unwrap(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                                impl->jit->getDataLayout().getGlobalPrefix()),
                            "opening this process for symbol lookup"));
  if (!options.host_symbols.empty()) {
    llvm::orc::SymbolMap symbols;
    for (const auto& [name, address] : options.host_symbols)
      symbols[impl->jit->mangleAndIntern(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                                   llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    if (auto error = dylib.define(llvm::orc::absoluteSymbols(std::move(symbols))))
      internal_error("defining host symbols: ", error_text(std::move(error)));
  }
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(object, "cellforge-" + key);
  if (auto error = impl->jit->addObjectFile(std::move(buffer)))
    internal_error("loading compiled code: ", error_text(std::move(error)));
  stats.link_ms = ms_since(t0);
  stats.total_ms = ms_since(start);
  return std::make_unique<CompiledCode>(std::move(impl), stats);
}

std::string emit(const ModuleBuilder& build, Stage stage, int opt_level) {
  auto machine = unwrap(host_machine_builder(opt_level).createTargetMachine(), "creating the target machine");
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = build_checked(build, context, *machine);
  if (stage != Stage::ir) optimize(*module, *machine, opt_level);
  if (stage == Stage::assembly) return codegen(*module, *machine, llvm::CodeGenFileType::AssemblyFile);
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, nullptr);
  return text;
}

}  // namespace cellforge::jit
