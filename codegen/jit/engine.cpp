// The JIT engine: ORC LLJIT per compiled module, the new pass manager at O2/O3 for the host
// target machine, and an object cache on disk; see engine.hpp.
//
// We compile modules to object files ourselves (optimize, then codegen to memory) and hand the
// object to LLJIT, instead of letting LLJIT's IR layer compile. That gives one code path for a
// fresh compile and a cache hit (both add an object file), precise timings per stage, and a cache
// hit that never builds IR at all. Libraries are objects too: each compilation that lists one adds
// a copy of its bytes (kept in memory once per process) to its JITDylib next to its own object.
#include "codegen/jit/engine.hpp"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
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
#include <map>
#include <algorithm>
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
    // No loop strength reduction in codegen. On a network's fused elementwise loops (hundreds of
    // addresses off one induction variable) LSR was 40% of codegen: the LSTM (X=H=256, L=2)
    // compiled in 0.17-0.20 s of CPU instead of 0.24 s, and ran forward and backward at the same
    // speed (23 / 53 ms, one thread), as did the GEMM library (within 2% on every bench shape).
    // LLVM has this switch only as a command-line option, so it holds for the whole process (for
    // any other user of libLLVM in it too).
    // (With an error stream, a parse failure returns instead of exiting: LSR would just stay on.)
    const char* arguments[] = {"cellforge", "-disable-lsr"};
    std::string errors;
    llvm::raw_string_ostream errors_stream(errors);
    llvm::cl::ParseCommandLineOptions(2, arguments, "", &errors_stream);
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

namespace {

// With CELLFORGE_PERF_MAP set, every function the JIT links (locals too: fused loops, GEMM
// kernels) is appended to /tmp/perf-<pid>.map, the file `perf report` reads to name JIT code.
class PerfMapPlugin : public llvm::orc::ObjectLinkingLayer::Plugin {
 public:
  void modifyPassConfig(llvm::orc::MaterializationResponsibility&, llvm::jitlink::LinkGraph&,
                        llvm::jitlink::PassConfiguration& config) override {
    // Pruning drops the symbols of local functions (their code stays, reached by edges); keep them
    // so that they get addresses and names in the map.
    config.PrePrunePasses.push_back([](llvm::jitlink::LinkGraph& graph) -> llvm::Error {
      for (llvm::jitlink::Symbol* symbol : graph.defined_symbols())
        if (symbol->hasName() && symbol->isCallable()) symbol->setLive(true);
      return llvm::Error::success();
    });
    config.PostFixupPasses.push_back([](llvm::jitlink::LinkGraph& graph) -> llvm::Error {
      static std::mutex mutex;
      std::lock_guard<std::mutex> lock(mutex);
      const std::string path = "/tmp/perf-" + std::to_string(::getpid()) + ".map";
      if (FILE* f = std::fopen(path.c_str(), "a")) {
        // Every named symbol in code, local ones too (a kernel library's private micro-kernels); one
        // without a size extends to the next symbol of its block.
        std::vector<llvm::jitlink::Symbol*> symbols;
        for (llvm::jitlink::Symbol* symbol : graph.defined_symbols())
          if (symbol->hasName() &&
              (static_cast<unsigned>(symbol->getBlock().getSection().getMemProt()) & static_cast<unsigned>(llvm::orc::MemProt::Exec)))
            symbols.push_back(symbol);
        std::sort(symbols.begin(), symbols.end(),
                  [](auto* a, auto* b) { return a->getAddress().getValue() < b->getAddress().getValue(); });
        for (size_t i = 0; i < symbols.size(); ++i) {
          const uint64_t address = symbols[i]->getAddress().getValue();
          uint64_t size = symbols[i]->getSize();
          if (size == 0) {
            const llvm::jitlink::Block& block = symbols[i]->getBlock();
            uint64_t end = block.getAddress().getValue() + block.getSize();
            if (i + 1 < symbols.size() && &symbols[i + 1]->getBlock() == &block) end = symbols[i + 1]->getAddress().getValue();
            size = end - address;
          }
          if (size > 0)
            std::fprintf(f, "%llx %llx %s\n", static_cast<unsigned long long>(address), static_cast<unsigned long long>(size),
                         symbols[i]->getName().str().c_str());
        }
        std::fclose(f);
      }
      return llvm::Error::success();
    });
  }
  llvm::Error notifyFailed(llvm::orc::MaterializationResponsibility&) override { return llvm::Error::success(); }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey, llvm::orc::ResourceKey) override {}
};

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
    t.avx512f = t.features.find("+avx512f") != std::string::npos;
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

namespace {

std::filesystem::path cache_path(const std::string& cache_dir, const std::string& key, int opt_level) {
  std::filesystem::path dir = cache_dir.empty() ? default_cache_dir() : cache_dir;
  return dir / (key + "-O" + std::to_string(opt_level) + ".o");
}

// The object of the module `build` makes: from the disk cache when `cache_file` is not empty and
// holds it, else compiled (and written there). Fills the build/optimize/codegen times of `stats`.
std::string object_for(const ModuleBuilder& build, int opt_level, const std::filesystem::path& cache_file,
                       CompileStats& stats) {
  std::string object;
  stats.from_disk_cache = !cache_file.empty() && read_file(cache_file, &object);
  if (stats.from_disk_cache) return object;
  auto machine = unwrap(host_machine_builder(opt_level).createTargetMachine(), "creating the target machine");
  llvm::LLVMContext context;
  auto t0 = Clock::now();
  std::unique_ptr<llvm::Module> module = build_checked(build, context, *machine);
  stats.build_ms = ms_since(t0);
  t0 = Clock::now();
  optimize(*module, *machine, opt_level);
  stats.optimize_ms = ms_since(t0);
  t0 = Clock::now();
  object = codegen(*module, *machine, llvm::CodeGenFileType::ObjectFile);
  stats.codegen_ms = ms_since(t0);
  if (!cache_file.empty()) {
    std::error_code error;
    std::filesystem::create_directories(cache_file.parent_path(), error);
    if (!error) write_atomically(cache_file, object);
  }
  return object;
}

}  // namespace

std::shared_ptr<const std::string> library_object(const Library& library, const std::string& cache_dir,
                                                  CompileStats* stats) {
  // The process's library objects, by key: each is read or compiled once. Compiling under the lock
  // makes other threads that need the same library wait for it instead of compiling it again.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const std::string>> objects;
  const auto start = Clock::now();
  CompileStats local;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<const std::string>& object = objects[library.key];
  if (!object) {
    constexpr int library_opt_level = 3;
    object = std::make_shared<const std::string>(
        object_for(library.build, library_opt_level, cache_path(cache_dir, library.key, library_opt_level), local));
    local.object_bytes = object->size();
  }
  local.total_ms = ms_since(start);
  if (stats) *stats = local;
  return object;
}

std::unique_ptr<CompiledCode> compile(const std::string& key, const ModuleBuilder& build,
                                      const CompileOptions& options) {
  const auto start = Clock::now();
  CompileStats stats;
  std::vector<std::shared_ptr<const std::string>> libraries;
  for (const Library& library : options.libraries) libraries.push_back(library_object(library, options.cache_dir));
  stats.library_ms = ms_since(start);
  const std::filesystem::path cache_file =
      options.use_disk_cache ? cache_path(options.cache_dir, key, options.opt_level) : std::filesystem::path();
  const std::string object = object_for(build, options.opt_level, cache_file, stats);
  stats.object_bytes = object.size();

  auto t0 = Clock::now();
  auto impl = std::make_unique<CompiledCode::Impl>();
  impl->jit = unwrap(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(host_machine_builder(options.opt_level)).create(),
                     "creating the JIT");
  if (std::getenv("CELLFORGE_PERF_MAP"))
    if (auto* linking = llvm::dyn_cast<llvm::orc::ObjectLinkingLayer>(&impl->jit->getObjLinkingLayer()))
      linking->addPlugin(std::make_unique<PerfMapPlugin>());
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
  for (size_t i = 0; i < libraries.size(); ++i)
    if (auto error = impl->jit->addObjectFile(
            llvm::MemoryBuffer::getMemBufferCopy(*libraries[i], "cellforge-library-" + options.libraries[i].key)))
      internal_error("loading library ", options.libraries[i].key, ": ", error_text(std::move(error)));
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
