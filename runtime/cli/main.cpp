// The cellforge command-line tool: dispatches to one subcommand; user errors end the program with
// their message and exit status 2, never a crash.
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>

#include "codegen/ir/error.hpp"
#include "runtime/cli/commands.hpp"

namespace {

const char* kUsage =
    "usage: cellforge COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  demo       build a cell, show its graph and derivative, run it (the README's first command)\n"
    "  cells      list the cells of the zoo with their equations\n"
    "  inspect    show a stage of compilation: --cell NAME --emit graph|grad|dot|sched|passes|llvm|llvm-opt|asm\n"
    "  compile    compile a network and report the time of each stage (and the disk cache)\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace cellforge::cli;
  const std::map<std::string, std::function<int(const Argv&)>> commands = {
      {"demo", run_demo}, {"cells", run_cells}, {"inspect", run_inspect}, {"compile", run_compile}};
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "cellforge: unknown command '%s'\n\n%s", argv[1], kUsage);
    return 2;
  }
  try {
    return it->second(Argv(argv + 2, argv + argc));
  } catch (const cellforge::UserError& e) {
    std::fprintf(stderr, "cellforge %s: error: %s\n", argv[1], e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cellforge %s: %s\n", argv[1], e.what());
    return 3;
  }
}
