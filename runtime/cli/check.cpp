// `cellforge check --cell NAME`: is a cell's compiled BPTT right? Two checks, each a table:
//   1. the symbolic derivative, run by the reference interpreter in double over a small network,
//      against central differences of the loss (verify::gradcheck);
//   2. the JIT's forward and BPTT in float32 against the reference interpreter (verify::
//      compare_with_reference), on the sizes given.
// Exit status 0 when both pass, 1 when one fails. A cell in IR text: --graph FILE.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/cell_option.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/verify/differential.hpp"
#include "runtime/verify/gradcheck.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

int run_check(const Argv& argv) {
  Command command{"check",
                   "Checks a cell's BPTT twice: the symbolic derivative of a small 2-layer network in double against "
                   "central differences, then the compiled float32 forward and BPTT against the reference interpreter "
                   "at the sizes given. Exit status 0 when both pass, 1 when one fails.",
                   {{"input", "X", "input size of the compiled network", "16"},
                    {"hidden", "H", "hidden size of the compiled network", "32"},
                    {"batch", "B", "batch size of the compiled network", "8"},
                    {"unroll", "T", "time steps of the compiled network", "12"},
                    {"layers", "L", "stacked layers of the compiled network", "2"},
                    {"size", "NAME=N,...", "the cell's other sizes, e.g. P=16", ""},
                    {"bidirectional", "", "check bidirectional layers", ""},
                    {"seed", "N", "seed of the random parameters and inputs", "1"},
                    {"threads", "N", "threads of the compiled network", "1"},
                    {"tolerance", "TOL", "largest relative difference the compiled code may show", "1e-4"}}};
  const std::vector<Option> which_cell = cell_options();
  command.options.insert(command.options.begin(), which_cell.begin(), which_cell.end());
  Args args(argv, command);
  const ir::Graph cell = cell_from_options(args);
  const ir::Bindings extra = args.sizes("size");
  const uint64_t seed = static_cast<uint64_t>(args.integer("seed", 1));
  const double tolerance = args.number("tolerance", 1e-4);

  ir::NetworkSpec small = ir::NetworkSpec::stack(cell, {3, 4, 2, 3, 2, extra});
  for (ir::LayerSpec& layer : small.layers) layer.bidirectional = args.flag("bidirectional");
  verify::GradcheckOptions g_options;
  g_options.seed = seed;
  const verify::GradcheckReport g = verify::gradcheck(small, g_options);
  std::printf("%s: BPTT in double against central differences (X=3 H=4 B=2 T=3 L=2%s)\n%s", cell.name().c_str(),
              args.flag("bidirectional") ? ", bidirectional" : "", g.table().c_str());
  std::printf("%s: %lld entries, worst %.1e of the tolerance (|fd - bptt| <= 1e-5 + 1e-3 |fd|) in %s\n\n",
              g.passed() ? "passed" : "FAILED", static_cast<long long>(g.checked()), g.worst_ratio, g.worst_tensor.c_str());

  ir::NetworkSizes sizes;
  sizes.input = args.integer("input", 16);
  sizes.hidden = args.integer("hidden", 32);
  sizes.batch = args.integer("batch", 8);
  sizes.unroll = args.integer("unroll", 12);
  sizes.layers = args.integer("layers", 2);
  sizes.extra = extra;
  ir::NetworkSpec spec = ir::NetworkSpec::stack(cell, sizes);
  for (ir::LayerSpec& layer : spec.layers) layer.bidirectional = args.flag("bidirectional");
  verify::HarnessOptions h_options;
  h_options.seed = seed;
  h_options.threads = static_cast<int>(args.integer("threads", 1));
  const verify::Comparison c = verify::compare_with_reference(spec, h_options);
  const bool jit_ok = !c.worst.nonfinite_mismatch && c.worst.relative <= tolerance;
  std::printf("%s: compiled (float32) against the reference interpreter (double), X=%lld H=%lld B=%lld T=%lld L=%lld\n%s",
              cell.name().c_str(), (long long)sizes.input, (long long)sizes.hidden, (long long)sizes.batch,
              (long long)sizes.unroll, (long long)sizes.layers, verify::comparison_table(c).c_str());
  std::printf("%s: worst relative difference %.2e in %s (tolerance %.0e)\n", jit_ok ? "passed" : "FAILED",
              c.worst.relative, c.worst.where.c_str(), tolerance);
  return g.passed() && jit_ok ? 0 : 1;
}

}  // namespace cellforge::cli
