// `cellforge gradflow --cell NAME --unroll T ...`: how a gradient at the last step flows back through
// time in a network of one or more zoo cells (or cells in IR text). Prints a summary table and
// writes CSV, JSON and SVG plots (runtime/gradflow/analysis.hpp). Several cells, comma-separated,
// are analysed with the same sizes and seed and plotted together, so a vanilla RNN and an LSTM can
// be compared in one picture.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/gradflow/analysis.hpp"
#include "runtime/plot/svg_plot.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

ir::Graph load_cell(const std::string& name) {
  if (name.find('/') != std::string::npos || name.find(".cf") != std::string::npos) {
    check_not_directory(name, "cell file");
    std::ifstream in(name);
    if (!in) user_error("cannot read the cell file '", name, "'; pass a zoo name (cellforge cells) or a file of IR text");
    std::ostringstream text;
    text << in.rdbuf();
    ir::Graph g = ir::parse(text.str());
    ir::verify_cell(g);
    return g;
  }
  return zoo::find(name).build();
}

}  // namespace

int run_gradflow(const Argv& argv) {
  Args args(argv, {"gradflow",
                   "How a gradient at the last step flows back through time: the norm of the loss's gradient with "
                   "respect to each state k steps back, the step Jacobians' largest singular values, and for gated "
                   "cells the forget gates. Prints a table, writes CSV, JSON and SVG (docs/gradient-flow.md).",
                   {{"cell", "NAME,...", "zoo cells or files of IR text, compared in one plot", "rnn,lstm"},
                    {"input", "X", "input size", "8"},
                    {"hidden", "H", "hidden size", "64"},
                    {"batch", "B", "batch size", "16"},
                    {"unroll", "T", "time steps (at least 2)", "50"},
                    {"layers", "L", "stacked layers", "1"},
                    {"size", "NAME=N,...", "the cells' other sizes, e.g. P=16", ""},
                    {"scale", "S", "weights start uniform in [-S, S] / sqrt(fan-in)", "1"},
                    {"forget-bias", "V", "added to the bias of a gate named f (the LSTM's forget gate)", "0"},
                    {"seed", "N", "seed of the weights and inputs", "1"},
                    {"lanczos", "N", "Lanczos steps for the step Jacobians' singular values; 0: skip them", "40"},
                    {"threads", "N", "threads of the compiled network", "1"},
                    {"out", "PREFIX",
                     "writes PREFIX.csv, PREFIX.json, PREFIX_norms.svg and PREFIX_sigma.svg; for several cells "
                     "PREFIX_<cell>.csv ... per cell and PREFIX_norms.svg of all",
                     "gradflow"},
                    {"quiet", "", "print only the files written, not the table", ""}}});
  std::vector<std::string> cells = split_commas(args.text("cell", "rnn,lstm"));
  if (cells.empty()) user_error("--cell: expected one or more cell names separated by commas");
  gradflow::Setup setup;
  setup.sizes.input = args.integer("input", 8);
  setup.sizes.hidden = args.integer("hidden", 64);
  setup.sizes.batch = args.integer("batch", 16);
  setup.sizes.unroll = args.integer("unroll", 50);
  setup.sizes.layers = args.integer("layers", 1);
  setup.sizes.extra = args.sizes("size");
  setup.weight_scale = args.number("scale", 1.0);
  setup.forget_bias = args.number("forget-bias", 0.0);
  setup.seed = static_cast<uint64_t>(args.integer("seed", 1));
  setup.lanczos_steps = static_cast<int>(args.integer("lanczos", 40));
  setup.threads = static_cast<int>(args.integer("threads", 1));
  if (setup.sizes.unroll < 2) user_error("--unroll: expected at least 2 steps to follow a gradient back, got ", setup.sizes.unroll);
  if (setup.lanczos_steps < 0) user_error("--lanczos: expected a number of steps >= 0 (0 skips the step Jacobians), got ", setup.lanczos_steps);
  if (!(setup.weight_scale > 0)) user_error("--scale: expected a positive weight scale, got ", setup.weight_scale);
  const std::string prefix = args.text("out", "gradflow");
  std::filesystem::path parent = std::filesystem::path(prefix).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) user_error("--out: cannot create the directory '", parent.string(), "': ", ec.message());

  plot::Plot all;
  all.title = "gradient norm by steps back";
  all.x_label = "steps back from the last step (k)";
  all.y_label = "||dL/ds||";
  all.y_scale = plot::Scale::log;
  for (const std::string& name : cells) {
    setup.cell = load_cell(name);
    gradflow::Report report = gradflow::analyze(setup);
    std::string cell_prefix = cells.size() == 1 ? prefix : prefix + "_" + report.cell;
    std::vector<std::string> files = gradflow::write_report(report, cell_prefix);
    if (!args.flag("quiet")) std::fputs(gradflow::report_table(report).c_str(), stdout);
    std::printf("wrote");
    for (const std::string& f : files) std::printf(" %s", f.c_str());
    std::printf("\n\n");
    for (const gradflow::StateFlow& s : report.states) {
      plot::Series series;
      series.name = report.cell + " layer " + std::to_string(s.layer) + (s.direction ? " (backward) " : " ") + s.state;
      for (size_t k = 0; k < s.norm.size(); ++k) {
        series.x.push_back(static_cast<double>(k));
        series.y.push_back(s.norm[k]);
      }
      all.series.push_back(std::move(series));
    }
  }
  if (cells.size() > 1) {
    std::string path = prefix + "_norms.svg";
    plot::write_svg(path, all);
    std::printf("wrote %s (all cells)\n", path.c_str());
  }
  return 0;
}

}  // namespace cellforge::cli
