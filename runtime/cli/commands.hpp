// The subcommands of the cellforge tool, one function each; main.cpp dispatches to them.
#pragma once

#include <string>
#include <vector>

namespace cellforge::cli {

using Argv = std::vector<std::string>;

int run_demo(const Argv& args);
int run_cells(const Argv& args);
int run_inspect(const Argv& args);
int run_train(const Argv& args);
int run_sample(const Argv& args);
int run_plot(const Argv& args);
int run_compile(const Argv& args);
int run_gradflow(const Argv& args);
int run_check(const Argv& args);
int run_export_torch(const Argv& args);
int run_import_torch(const Argv& args);
int run_score(const Argv& args);

}  // namespace cellforge::cli
