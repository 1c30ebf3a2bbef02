// The cellforge command-line tool: dispatches to one subcommand; user errors end the program with
// their message and exit status 2, never a crash.
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>

#include "codegen/ir/error.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"

namespace {

const char* kUsage =
    "usage: cellforge COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  demo          train a character-level LSTM on a text every Debian machine has, print samples\n"
    "                (--explain: show a cell's graph, derivative and a gradient check instead)\n"
    "  cells         list the cells of the zoo with their equations\n"
    "  inspect       show a stage of compilation: --cell NAME --emit graph|grad|dot|grad-dot|jvp|sched|passes|llvm|llvm-opt|asm\n"
    "  check         verify a cell's BPTT: against finite differences (double) and the JIT against the interpreter\n"
    "  compile       compile a network and report the time of each stage (and the disk cache)\n"
    "  train         train a character-level language model: --cell NAME --corpus FILE --iterations N ...\n"
    "  sample        generate text from a checkpoint: --checkpoint FILE --length N --temperature T --prime TEXT\n"
    "  score         how well a checkpoint predicts a text: --checkpoint FILE --text FILE [--logits OUT.safetensors]\n"
    "  export-torch  a trained model as a PyTorch file: --checkpoint FILE --out MODEL.safetensors [--prefix rnn.]\n"
    "  import-torch  a PyTorch file as a checkpoint: --weights MODEL.safetensors --out FILE [--vocabulary-from TEXT]\n"
    "  gradflow      how gradients flow back through time: --cell rnn,lstm --unroll T (table, CSV, JSON, SVG)\n"
    "  plot          draw columns of CSV files as one SVG line plot: --csv A,B --columns val_loss --out FILE\n"
    "\n"
    "cellforge COMMAND --help (or cellforge help COMMAND) lists a command's options and their defaults.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace cellforge::cli;
  const std::map<std::string, std::function<int(const Argv&)>> commands = {
      {"demo", run_demo},   {"cells", run_cells},   {"inspect", run_inspect}, {"compile", run_compile},
      {"train", run_train}, {"sample", run_sample}, {"plot", run_plot},
      {"gradflow", run_gradflow}, {"check", run_check},
      {"export-torch", run_export_torch}, {"import-torch", run_import_torch}, {"score", run_score}};
  const bool asks_help = argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
                                        !std::strcmp(argv[1], "help"));
  if (argc < 2 || (asks_help && argc == 2)) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  // "cellforge help train" is "cellforge train --help".
  const char* name = asks_help ? argv[2] : argv[1];
  Argv rest = asks_help ? Argv{"--help"} : Argv(argv + 2, argv + argc);
  auto it = commands.find(name);
  if (it == commands.end()) {
    std::fprintf(stderr, "cellforge: unknown command '%s'\n\n%s", name, kUsage);
    return 2;
  }
  try {
    return it->second(rest);
  } catch (const HelpRequested& help) {
    std::fputs(help.text.c_str(), stdout);
    return 0;
  } catch (const cellforge::UserError& e) {
    std::fprintf(stderr, "cellforge %s: error: %s\n", name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cellforge %s: %s\n", name, e.what());
    return 3;
  }
}
