// The cell a command works on; see cell_option.hpp.
#include "runtime/cli/cell_option.hpp"

#include <fstream>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

std::vector<Option> cell_options() {
  return {{"cell", "NAME", "a cell of the zoo (cellforge cells lists them)", "lstm"},
          {"graph", "FILE", "a cell in IR text (as cellforge inspect --emit graph prints one) instead of --cell", ""}};
}

ir::Graph cell_from_options(const Args& args) {
  if (!args.has("graph")) return zoo::find(args.text("cell", "lstm")).build();
  const std::string path = args.text("graph");
  check_not_directory(path, "graph file");
  std::ifstream in(path);
  if (!in) user_error("cannot read graph file '", path, "'; check the path");
  std::ostringstream text;
  text << in.rdbuf();
  ir::Graph g = ir::parse(text.str());
  ir::verify_cell(g);
  return g;
}

}  // namespace cellforge::cli
