// The JIT engine: turns an LLVM module into callable machine code for this CPU, with an object
// cache on disk. This is the only interface to ORC; its header has no LLVM includes (ORC and the
// PassBuilder cost ~20 s of compile time per translation unit that sees them).
//
//   auto code = jit::compile(key, [&](llvm::LLVMContext& context) { return build_module(context); });
//   auto* forward = reinterpret_cast<void (*)(Args*)>(code->lookup("cf_forward"));
//
// The module builder is called only on a cache miss: a hit loads the object file written by an
// earlier compile (in this or another process) and skips IR construction, optimization and
// codegen. Cache keys include the CPU name, its features and the LLVM version, so a cache shared
// between machines never hands out code for another CPU.
//
// A compilation may also link *libraries*: modules compiled once per machine (the GEMM kernels,
// jit/gemm_kernels.hpp) whose objects are kept in memory for the life of the process and on disk,
// and added to the JITDylib of every compilation that lists them. The compiled module calls their
// external functions by name.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace cellforge::jit {

/// The machine the code is compiled for.
struct HostTarget {
  std::string triple;
  std::string cpu;       // "znver3"
  std::string features;  // "+avx2,+fma,..."
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  std::string llvm_version;
};
const HostTarget& host_target();

/// How long each stage took, and whether the code came from the cache.
struct CompileStats {
  double build_ms = 0;     // constructing the IR
  double optimize_ms = 0;  // the O2/O3 pipeline
  double codegen_ms = 0;   // instruction selection to an object file
  double link_ms = 0;      // loading the object into the JIT and resolving symbols
  double library_ms = 0;   // getting the objects of CompileOptions::libraries (memory, disk or compiling)
  double total_ms = 0;     // all of the above
  bool from_disk_cache = false;
  size_t object_bytes = 0;
};

using ModuleBuilder = std::function<std::unique_ptr<llvm::Module>(llvm::LLVMContext&)>;

/// A module compiled once per machine and linked into the compilations that list it. Its object
/// comes from the in-process cache, else the disk cache (always used for libraries: their key must
/// name everything the code depends on), else `build` at O3.
struct Library {
  std::string key;      // a cache_key(); also names the object in the in-process cache
  ModuleBuilder build;
};

struct CompileOptions {
  int opt_level = 3;                  // 0-3
  bool use_disk_cache = true;
  std::string cache_dir;              // "" = $CELLFORGE_CACHE_DIR, else $XDG_CACHE_HOME/cellforge, else ~/.cache/cellforge
  /// Functions of this process the generated code may call, by symbol name.
  std::vector<std::pair<std::string, void*>> host_symbols;
  /// Libraries linked into the same JITDylib as the compiled module.
  std::vector<Library> libraries;
};

/// Compiled code. Destroying it frees the code.
class CompiledCode {
 public:
  ~CompiledCode();
  CompiledCode(const CompiledCode&) = delete;
  CompiledCode& operator=(const CompiledCode&) = delete;

  /// The address of a function of the compiled module; throws InternalError if it is missing.
  void* lookup(const std::string& symbol) const;
  const CompileStats& stats() const { return stats_; }

  struct Impl;
  explicit CompiledCode(std::unique_ptr<Impl> impl, CompileStats stats);

 private:
  std::unique_ptr<Impl> impl_;
  CompileStats stats_;
};

/// The full cache key of code described by `description` (a text that determines the module:
/// graph hash, sizes, options): it adds the target and the LLVM version and hashes the result.
std::string cache_key(const std::string& description);

/// Compiles (or loads from the disk cache) the module that `build` makes.
std::unique_ptr<CompiledCode> compile(const std::string& key, const ModuleBuilder& build,
                                      const CompileOptions& options = {});

/// The object file of `library` (see Library), shared with every other user in this process.
/// `cache_dir` as in CompileOptions; `stats`, if given, says how it was obtained and how long it took
/// (from_disk_cache, and build/optimize/codegen times when it was compiled: zero from memory).
std::shared_ptr<const std::string> library_object(const Library& library, const std::string& cache_dir = "",
                                                  CompileStats* stats = nullptr);

/// What `inspect --emit llvm|asm` shows: the module as built, after the optimization pipeline, or
/// as assembly for this CPU.
enum class Stage { ir, optimized_ir, assembly };
std::string emit(const ModuleBuilder& build, Stage stage, int opt_level = 3);

/// The cache directory used when options.cache_dir is empty.
std::string default_cache_dir();

}  // namespace cellforge::jit
