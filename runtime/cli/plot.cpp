// `cellforge plot`: draws columns of one or more CSV files (loss curves from `cellforge train` or
// scripts/torch_char_rnn.py, gradient norms, ...) as one SVG line plot.
//
//   cellforge plot --csv cf.csv,torch.csv --labels cellforge,pytorch --columns val_loss
//                  --out compare.svg --title "val loss"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/plot/csv.hpp"
#include "runtime/plot/svg_plot.hpp"

namespace cellforge::cli {

namespace {

std::vector<std::string> list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) items.push_back(item);
  return items;
}

}  // namespace

int run_plot(const Argv& argv) {
  Args args(argv, {"plot",
                   "Draws columns of one or more CSV files (the loss curves cellforge train writes, for instance) as "
                   "one SVG line plot.",
                   {{"csv", "A.csv,B.csv", "the files", ""},
                    {"out", "FILE.svg", "the plot", ""},
                    {"columns", "NAME,...", "the columns drawn from each file", "train_loss,val_loss"},
                    {"x", "NAME", "the column of the x axis", "iteration"},
                    {"labels", "NAME,...", "one label per file (default: the file names)", ""},
                    {"title", "TEXT", "the plot's title", ""},
                    {"x-label", "TEXT", "the x axis's label (default: the --x column)", ""},
                    {"y-label", "TEXT", "the y axis's label (default: the column, or 'value' for several)", ""},
                    {"smooth", "N", "draw the mean of the last N points; 1: the points", "1"},
                    {"log-y", "", "logarithmic y axis", ""},
                    {"log-x", "", "logarithmic x axis", ""}}});
  const int64_t smooth = args.integer("smooth", 1);
  if (smooth < 1) user_error("option --smooth needs a window >= 1 (1: no smoothing), got ", smooth);
  const std::vector<std::string> files = list(args.text("csv"));
  std::vector<std::string> labels = list(args.text("labels", ""));
  if (labels.empty()) labels = files;
  if (labels.size() != files.size())
    user_error("--labels has ", labels.size(), " names for ", files.size(), " files in --csv");
  const std::vector<std::string> columns = list(args.text("columns", "train_loss,val_loss"));
  const std::string x = args.text("x", "iteration");
  plot::Plot p;
  p.title = args.text("title", "");
  p.x_label = args.text("x-label", x);
  p.y_label = args.text("y-label", columns.size() == 1 ? columns[0] : "value");
  p.y_scale = args.flag("log-y") ? plot::Scale::log : plot::Scale::linear;
  p.x_scale = args.flag("log-x") ? plot::Scale::log : plot::Scale::linear;
  const char* const colors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"};
  for (size_t f = 0; f < files.size(); ++f) {
    const plot::Table table = plot::read_csv(files[f]);
    const size_t xi = table.column(x);
    for (size_t c = 0; c < columns.size(); ++c) {
      const size_t yi = table.column(columns[c]);
      plot::Series s;
      s.name = columns.size() == 1 ? labels[f] : labels[f] + " " + columns[c];
      s.color = colors[f % std::size(colors)];
      s.dashed = c > 0;
      for (const auto& row : table.rows) {
        if (std::isnan(row[yi])) continue;  // sparse columns (validation) join their own points
        s.x.push_back(row[xi]);
        s.y.push_back(row[yi]);
      }
      s.markers = s.x.size() <= 60;
      if (smooth > 1 && s.y.size() > static_cast<size_t>(smooth)) {  // a trailing mean over `smooth` points
        std::vector<double> mean(s.y.size());
        double sum = 0;
        for (size_t i = 0; i < s.y.size(); ++i) {
          sum += s.y[i];
          if (i >= static_cast<size_t>(smooth)) sum -= s.y[i - static_cast<size_t>(smooth)];
          mean[i] = sum / static_cast<double>(std::min<size_t>(i + 1, static_cast<size_t>(smooth)));
        }
        s.y = std::move(mean);
        s.name += " (mean of " + std::to_string(smooth) + ")";
      }
      p.series.push_back(std::move(s));
    }
  }
  const std::string out = args.text("out");
  plot::write_svg(out, p);
  std::printf("wrote %s (%zu series)\n", out.c_str(), p.series.size());
  return 0;
}

}  // namespace cellforge::cli
