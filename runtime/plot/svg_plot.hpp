// Line plots as standalone SVG files: several series, linear or logarithmic axes, axis labels,
// tick labels, a title and a legend. Written for loss curves and gradient-norm plots, with no
// dependency beyond the standard library; the output is plain SVG 1.1 that browsers, Inkscape and
// XML parsers read.
//
//   plot::Plot p;
//   p.title = "char-rnn on tinyshakespeare";
//   p.x_label = "iteration";  p.y_label = "loss (nats/char)";
//   p.series.push_back({"train", xs, ys});
//   p.series.push_back({"val", vx, vy, "", /*dashed*/ true, /*markers*/ true});
//   plot::write_svg("loss.svg", p);
//
// Points whose x or y is not finite (or not positive on a log axis) are skipped and break the
// line there, so a NaN in a gradient-norm series shows as a gap rather than a crash or a spike.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cellforge::plot {

struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  std::string color = "";  // any SVG color; "" takes the next color of the palette
  bool dashed = false;
  bool markers = false;    // a dot at every point (for sparse series)
};

enum class Scale { linear, log };

struct Plot {
  std::string title;
  std::string x_label;
  std::string y_label;
  Scale x_scale = Scale::linear;
  Scale y_scale = Scale::linear;
  std::optional<double> x_min, x_max, y_min, y_max;  // unset: from the data
  int width = 800;
  int height = 480;
  std::vector<Series> series;
};

/// The SVG document.
std::string render_svg(const Plot& plot);

/// Writes render_svg(plot) to `path` (through a temporary file and a rename, so a reader never
/// sees half a plot); throws UserError naming the path when it cannot.
void write_svg(const std::string& path, const Plot& plot);

/// Tick positions for [low, high]: 1-2-5 steps on a linear axis, powers of ten (with 2 and 5
/// between them on short ranges) on a log axis. Exposed for tests.
std::vector<double> ticks(double low, double high, Scale scale);

}  // namespace cellforge::plot
