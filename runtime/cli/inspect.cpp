// `cellforge inspect --cell NAME --emit STAGE`: prints one stage of the pipeline for a zoo cell
// (or a graph read from a text file with --graph FILE).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/dot.hpp"
#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "codegen/passes/passes.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

namespace {

ir::Graph load_graph(const Args& args) {
  if (args.has("graph")) {
    std::ifstream in(args.text("graph"));
    if (!in) user_error("cannot read graph file '", args.text("graph"), "'");
    std::ostringstream text;
    text << in.rdbuf();
    ir::Graph g = ir::parse(text.str());
    ir::verify_cell(g);
    return g;
  }
  return zoo::find(args.text("cell", "lstm")).build();
}

}  // namespace

int run_inspect(const Argv& argv) {
  Args args(argv, {"cell", "graph", "emit", "input", "hidden", "batch", "unroll", "layers"},
            {"no-simplify", "no-sink-slices", "no-hoist", "no-fuse"});
  passes::PassOptions pass_options;
  pass_options.simplify = !args.flag("no-simplify");
  pass_options.sink_slices = !args.flag("no-sink-slices");
  pass_options.hoist_time_parallel = !args.flag("no-hoist");
  pass_options.fuse_elementwise = !args.flag("no-fuse");
  std::string stage = args.choice("emit", {"graph", "grad", "dot", "grad-dot", "jvp", "sched", "passes", "llvm", "llvm-opt", "asm"}, "graph");
  ir::Graph cell = load_graph(args);
  std::string out;
  if (stage == "graph") out = ir::print(cell);
  else if (stage == "grad") out = ir::print(autodiff::differentiate(cell));
  else if (stage == "dot") out = ir::to_dot(cell);
  else if (stage == "grad-dot") out = ir::to_dot(autodiff::differentiate(cell));
  else if (stage == "jvp") out = ir::print(autodiff::linearize(cell));
  else if (stage == "llvm" || stage == "llvm-opt" || stage == "asm") {
    ir::NetworkSizes sizes;
    sizes.input = args.integer("input", 64);
    sizes.hidden = args.integer("hidden", 64);
    sizes.batch = args.integer("batch", 8);
    sizes.unroll = args.integer("unroll", 10);
    sizes.layers = args.integer("layers", 1);
    NetworkOptions options;
    options.passes = pass_options;
    out = emit_network(cell, sizes,
                       stage == "llvm" ? jit::Stage::ir : stage == "llvm-opt" ? jit::Stage::optimized_ir : jit::Stage::assembly,
                       options);
  }
  else {
    passes::LayerSchedule schedule = passes::schedule_layer(cell, pass_options);
    for (const auto& [pass, text] : schedule.log) {
      bool last_two = pass.rfind("schedule", 0) == 0;
      if (stage == "passes" || last_two) out += "# after " + pass + "\n" + text + "\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace cellforge::cli
