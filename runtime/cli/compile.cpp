// `cellforge compile`: compiles a network and reports how long each stage took and whether the
// code came from the disk cache. Compiling the same network twice, in two processes, shows the
// cache at work; --no-cache measures a cold compile.
#include <cstdio>

#include "codegen/jit/compiled_network.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

int run_compile(const Argv& argv) {
  Args args(argv, {"compile",
                   "Compiles a network of a zoo cell (forward and BPTT) and reports the time of each stage, or of "
                   "loading it from the disk cache.",
                   {{"cell", "NAME", "a cell of the zoo (cellforge cells lists them)", "lstm"},
                    {"input", "X", "input size", "256"},
                    {"hidden", "H", "hidden size", "256"},
                    {"batch", "B", "batch size", "32"},
                    {"unroll", "T", "time steps", "50"},
                    {"layers", "L", "stacked layers", "2"},
                    {"threads", "N", "threads; 0: one per hardware thread", "0"},
                    {"opt", "LEVEL", "LLVM optimization level, 0 to 3", "3"},
                    {"no-cache", "", "compile even if the disk cache holds the network", ""}}});
  const zoo::ZooCell& entry = zoo::find(args.text("cell", "lstm"));
  ir::NetworkSizes sizes;
  sizes.input = args.integer("input", 256);
  sizes.hidden = args.integer("hidden", 256);
  sizes.batch = args.integer("batch", 32);
  sizes.unroll = args.integer("unroll", 50);
  sizes.layers = args.integer("layers", 2);
  NetworkOptions options;
  options.threads = static_cast<int>(args.integer("threads", 0));
  options.opt_level = static_cast<int>(args.integer("opt", 3));
  options.use_disk_cache = !args.flag("no-cache");
  CompiledNetwork net = CompiledNetwork::compile(entry.build(), sizes, options);
  const jit::CompileStats& s = net.compile_stats();
  std::printf("%s X=%lld H=%lld B=%lld T=%lld L=%lld: ", entry.name.c_str(), (long long)sizes.input,
              (long long)sizes.hidden, (long long)sizes.batch, (long long)sizes.unroll, (long long)sizes.layers);
  if (s.from_disk_cache)
    std::printf("%.2f ms from the disk cache (load and link %.2f ms), %zu bytes of code\n", s.total_ms, s.link_ms,
                s.object_bytes);
  else
    std::printf("%.1f ms cold (build %.1f, optimize %.1f, codegen %.1f, link %.1f ms), %zu bytes of code\n",
                s.total_ms, s.build_ms, s.optimize_ms, s.codegen_ms, s.link_ms, s.object_bytes);
  return 0;
}

}  // namespace cellforge::cli
