// Lesson 05: every stage of compilation, for any cell.
//
// cellforge's pipeline is a sequence of arrows (docs/design.md), and each can stop and print its
// result. The cellforge tool does this with `inspect --emit graph|grad|sched|passes|llvm|
// llvm-opt|asm|dot|grad-dot`; this lesson does the same through the library for the LSTM:
//
//   1. the step graph reify() builds from the DSL
//   2. its derivative (symbolic reverse mode)
//   3. the schedules of the forward and backward scans (which work is hoisted out of the time
//      loop, which runs inside it, which fused loops and GEMMs run in what order)
//   4. the LLVM IR of the whole network, with values named after the cell's equations
//   5. the assembly for this CPU
//   6. a Graphviz rendering of the backward graph in which the cell-state highway
//      dc_next -> dc is drawn in its own colour (rendered to SVG when `dot` is installed)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/dot.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "codegen/passes/passes.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

// The lines of `text` that contain `needle`, at most `limit` of them.
std::string lines_with(const std::string& text, const std::string& needle, int limit) {
  std::istringstream in(text);
  std::string line, out;
  for (int n = 0; std::getline(in, line) && n < limit;)
    if (line.find(needle) != std::string::npos) {
      out += line + "\n";
      ++n;
    }
  return out;
}

}  // namespace

int main() {
  const ir::Graph lstm = zoo::find("lstm").build();
  std::printf("== 1. the step graph ==\n%s\n", ir::print(lstm).c_str());
  const ir::Graph backward = autodiff::differentiate(lstm);
  std::printf("== 2. its derivative ==\n%s\n", ir::print(backward).c_str());

  const passes::LayerSchedule schedule = passes::schedule_layer(lstm);
  std::printf("== 3. the scheduled backward scan ==\n%s\n", passes::print_schedule(schedule.backward).c_str());

  const ir::NetworkSizes sizes{.input = 64, .hidden = 64, .batch = 8, .unroll = 10, .layers = 1};
  const std::string ir_text = emit_network(lstm, sizes, jit::Stage::optimized_ir);
  std::printf("== 4. LLVM IR after optimization: the gate arithmetic of the fused loop ==\n%s\n",
              lines_with(ir_text, "%c_next", 4).c_str());
  const std::string assembly = emit_network(lstm, sizes, jit::Stage::assembly);
  std::printf("== 5. assembly: fused multiply-adds on vector registers ==\n%s\n",
              lines_with(assembly, "vfmadd", 4).c_str());

  std::ofstream("lstm_backward.dot") << ir::to_dot(backward);
  std::printf("== 6. wrote lstm_backward.dot ==\n");
  if (std::system("command -v dot >/dev/null 2>&1") == 0 &&
      std::system("dot -Tsvg lstm_backward.dot -o lstm_backward.svg") == 0)
    std::printf("   and rendered it to lstm_backward.svg with Graphviz\n");
  // The lesson checks what it shows: the fused loop is vectorized, the assembly multiplies and adds
  // in one instruction, and the derivative joins the four gates' gradients in one concat.
  const bool vectorized = lines_with(ir_text, "%c_next", 1000).find(" = fadd <") != std::string::npos;
  const bool fused_fma = assembly.find("vfmadd") != std::string::npos;
  const std::string derivative = ir::print(backward);
  const size_t concat = derivative.find(" = concat ");
  const bool four_gates = concat != std::string::npos &&
                          std::count(derivative.begin() + static_cast<long>(concat),
                                     derivative.begin() + static_cast<long>(derivative.find('\n', concat)), '%') == 4;
  return vectorized && fused_fma && four_gates ? 0 : 1;
}
