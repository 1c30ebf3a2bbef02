// `cellforge inspect --cell NAME --emit STAGE`: prints one stage of the pipeline for a zoo cell
// (or a graph read from a text file with --graph FILE).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
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
#include "runtime/cli/cell_option.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

namespace {

// Renders DOT text to an SVG file with Graphviz's dot, through a temporary file and a rename.
// The path is checked first: its mistake is the user's whether or not dot is installed.
void render_svg(const std::string& dot_text, const std::string& path) {
  check_output_directory(path, "SVG file");
  if (std::system("command -v dot >/dev/null 2>&1") != 0)
    user_error("--svg needs Graphviz's dot, which is not installed; install it (apt-get install graphviz) or "
               "leave out --svg and render the DOT text with any Graphviz viewer");
  const std::string temporary = path + ".tmp";
  FILE* pipe = popen(("dot -Tsvg -o '" + temporary + "'").c_str(), "w");
  if (!pipe) user_error("cannot start Graphviz's dot to write '", path, "'");
  std::fwrite(dot_text.data(), 1, dot_text.size(), pipe);
  if (pclose(pipe) != 0 || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    user_error("Graphviz's dot could not write '", path, "'; check that its directory exists and is writable");
  }
}

// --zoneout STATE,... (or train's STATE=Z,...: the rate does not change the code): states of
// `cell`, in the cell's order, as the compiler zones them.
std::vector<std::string> zoned_states(const ir::Graph& cell, const std::string& text) {
  std::vector<std::string> named, known;
  for (ir::NodeId id : cell.leaves(ir::Op::state)) known.push_back(cell.node(id).name);
  std::string list;
  for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
  for (size_t at = 0; at <= text.size();) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at), name = item.substr(0, item.find('='));
    if (std::find(known.begin(), known.end(), name) == known.end())
      user_error("option --zoneout names '", name, "', which is not a state of cell '", cell.name(), "'; its states are ",
                 list);
    named.push_back(name);
    at = end + 1;
  }
  std::vector<std::string> out;
  for (const std::string& k : known)
    if (std::find(named.begin(), named.end(), k) != named.end()) out.push_back(k);
  return out;
}

}  // namespace

int run_inspect(const Argv& argv) {
  Command command{"inspect",
                   "Prints one stage of compiling a cell: its graph, its derivative (the BPTT step), either as "
                   "Graphviz DOT, the passes one by one and the schedule of the time loop, or the LLVM IR and assembly "
                   "of a whole network of the sizes given.",
                   {{"emit", "STAGE",
                     "graph, grad (the derivative), dot, grad-dot, jvp (the product of the step's Jacobian with respect to the state and a vector), passes (each pass's "
                     "output), sched (the schedule), llvm, llvm-opt (after LLVM's passes) or asm",
                     "graph"},
                    {"svg", "FILE", "render --emit dot or grad-dot to an SVG file with Graphviz", ""},
                    {"input", "X", "input size, for llvm, llvm-opt and asm", "64"},
                    {"hidden", "H", "hidden size, for llvm, llvm-opt and asm", "64"},
                    {"batch", "B", "batch size, for sched, passes, llvm, llvm-opt and asm (from 32 rows the forward keeps its input products in the step)", "8"},
                    {"unroll", "T", "time steps, for llvm, llvm-opt and asm", "10"},
                    {"layers", "L", "stacked layers, for llvm, llvm-opt and asm", "1"},
                    {"size", "NAME=N,...", "the cell's other sizes, e.g. P=16", ""},
                    {"vector-width", "LANES", "floats per vector of the fused loops; 0: the CPU's widest", "0"},
                    {"no-simplify", "", "turn the simplify pass off", ""},
                    {"no-sink-slices", "", "turn the sink_slices pass off", ""},
                    {"no-hoist", "", "turn hoisting time-parallel work out of the loop off", ""},
                    {"no-fuse", "", "turn the fusion of elementwise work off", ""},
                    {"no-remat", "", "turn rematerialization off", ""},
                    {"variable-lengths", "", "show the cell as rewritten for sequences of different lengths in a "
                                             "batch (passes::mask_padded_steps); not with llvm, llvm-opt, asm", ""},
                    {"dropout", "", "show the cell as rewritten for dropout on its input, as in every layer above "
                                    "the first (passes::drop_layer_input); not with llvm, llvm-opt, asm", ""},
                    {"zoneout", "STATE,...", "show the cell as rewritten for zoneout on these states "
                                             "(passes::zone_out_states); not with llvm, llvm-opt, asm", ""},
                    {"no-input-gradient", "", "schedule BPTT without the gradient of the cell's input, as the "
                                              "first layer of a network whose input needs none (one-hot "
                                              "characters; passes::drop_input_gradient); with passes or sched", ""},
                    {"one-hot-input", "", "compile for a one-hot input given as indices (NetworkSpec::one_hot_input, "
                                          "no input gradient): layer 0's W x becomes a gather and its weight "
                                          "gradient a scatter-add; with llvm, llvm-opt or asm", ""}}};
  const std::vector<Option> which_cell = cell_options();
  command.options.insert(command.options.begin(), which_cell.begin(), which_cell.end());
  Args args(argv, command);
  passes::PassOptions pass_options;
  pass_options.simplify = !args.flag("no-simplify");
  pass_options.sink_slices = !args.flag("no-sink-slices");
  pass_options.hoist_time_parallel = !args.flag("no-hoist");
  pass_options.fuse_elementwise = !args.flag("no-fuse");
  pass_options.rematerialize = !args.flag("no-remat");
  std::string stage = args.choice("emit", {"graph", "grad", "dot", "grad-dot", "jvp", "sched", "passes", "llvm", "llvm-opt", "asm"}, "graph");
  ir::Graph cell = cell_from_options(args);
  const bool rewritten = args.flag("variable-lengths") || args.flag("dropout") || args.has("zoneout");
  if (rewritten && (stage == "llvm" || stage == "llvm-opt" || stage == "asm"))
    user_error("--variable-lengths, --dropout and --zoneout show the rewritten cell's graph; the code of a network with them is "
               "what CompiledNetwork::compile makes from a NetworkSpec (examples/04_stacking_and_bidirectional.cpp); "
               "use them with --emit graph, grad, dot, grad-dot, jvp, passes or sched");
  const bool input_gradient = !args.flag("no-input-gradient");
  if (!input_gradient && stage != "passes" && stage != "sched")
    user_error("--no-input-gradient changes what the passes schedule; use it with --emit passes or sched, not --emit ",
               stage, " (a network without the input gradient is compiled from a NetworkSpec with "
               "input_gradient = false)");
  const bool one_hot = args.flag("one-hot-input");
  if (one_hot && stage != "llvm" && stage != "llvm-opt" && stage != "asm")
    user_error("--one-hot-input changes the generated code, not the graph or its schedule; use it with --emit llvm, "
               "llvm-opt or asm, not --emit ", stage, " (--no-input-gradient shows the schedule without dL/dx)");
  if (args.has("zoneout")) cell = passes::zone_out_states(cell, zoned_states(cell, args.text("zoneout")));
  if (args.flag("variable-lengths")) cell = passes::mask_padded_steps(cell);
  if (args.flag("dropout")) cell = passes::drop_layer_input(cell);
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
    sizes.extra = args.sizes("size");
    NetworkOptions options;
    options.passes = pass_options;
    options.fused_vector_width = static_cast<int>(args.integer("vector-width", 0));
    ir::NetworkSpec spec = ir::NetworkSpec::stack(cell, sizes);
    spec.one_hot_input = one_hot;
    spec.input_gradient = !one_hot;
    out = emit_network(spec,
                       stage == "llvm" ? jit::Stage::ir : stage == "llvm-opt" ? jit::Stage::optimized_ir : jit::Stage::assembly,
                       options);
  }
  else {
    passes::LayerSchedule schedule = passes::schedule_layer(cell, pass_options, input_gradient, args.integer("batch", 8));
    for (const auto& [pass, text] : schedule.log) {
      bool last_two = pass.rfind("schedule", 0) == 0;
      if (stage == "passes" || last_two) out += "# after " + pass + "\n" + text + "\n";
    }
  }
  if (args.has("svg")) {
    if (stage != "dot" && stage != "grad-dot")
      user_error("--svg renders a graph; use it with --emit dot or --emit grad-dot, not --emit ", stage);
    render_svg(out, args.text("svg"));
    std::printf("wrote %s\n", args.text("svg").c_str());
    return 0;
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace cellforge::cli
