// `cellforge cells`: the zoo with each cell's equations and source.
#include <cstdio>

#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

int run_cells(const Argv& argv) {
  Args args(argv, {"cells", "Lists the cells of the zoo with their equations and sources.",
                   {{"names", "", "print the names only", ""}}});
  for (const zoo::ZooCell& c : zoo::cells()) {
    if (args.flag("names")) {
      std::printf("%s\n", c.name.c_str());
      continue;
    }
    std::printf("%s — %s\n", c.name.c_str(), c.summary.c_str());
    std::string eq = c.equations;
    size_t start = 0;
    while (start <= eq.size()) {
      size_t end = eq.find('\n', start);
      if (end == std::string::npos) end = eq.size();
      std::printf("    %s\n", eq.substr(start, end - start).c_str());
      start = end + 1;
    }
    std::printf("    (%s)\n\n", c.source.c_str());
  }
  return 0;
}

}  // namespace cellforge::cli
