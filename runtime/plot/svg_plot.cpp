// The SVG line-plot writer; see svg_plot.hpp.
#include "runtime/plot/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "codegen/ir/error.hpp"
#include "runtime/train/safetensors.hpp"

namespace cellforge::plot {

namespace {

// Colorblind-safe (Okabe-Ito), in an order whose first two colors contrast well.
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters even as references.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", v);
  return buffer;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  char buffer[32];
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-3) std::snprintf(buffer, sizeof buffer, "%.0e", v);
  else std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

bool usable(double v, Scale scale) { return std::isfinite(v) && (scale == Scale::linear || v > 0); }

double to_axis(double v, Scale scale) { return scale == Scale::log ? std::log10(v) : v; }

struct Range {
  double low, high;
};

// The axis range in axis units (log10 for a log axis), from the data and the user's limits.
Range axis_range(const Plot& plot, bool is_x) {
  const Scale scale = is_x ? plot.x_scale : plot.y_scale;
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (const Series& s : plot.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.x[i], plot.x_scale) || !usable(s.y[i], plot.y_scale)) continue;
      const double v = to_axis(is_x ? s.x[i] : s.y[i], scale);
      low = std::min(low, v), high = std::max(high, v);
    }
  const std::optional<double>& min = is_x ? plot.x_min : plot.y_min;
  const std::optional<double>& max = is_x ? plot.x_max : plot.y_max;
  if (min && usable(*min, scale)) low = to_axis(*min, scale);
  if (max && usable(*max, scale)) high = to_axis(*max, scale);
  if (!std::isfinite(low) || !std::isfinite(high)) return {0, 1};  // no data
  if (low > high) std::swap(low, high);
  if (high - low < 1e-12 * std::max(1.0, std::fabs(high))) {
    const double pad = scale == Scale::log ? 0.5 : std::max(0.5, std::fabs(high) * 0.1);
    low -= pad, high += pad;
  } else if (!min && !max && !is_x) {
    const double pad = 0.04 * (high - low);  // breathing room above and below the curves
    low -= pad, high += pad;
  }
  return {low, high};
}

}  // namespace

std::vector<double> ticks(double low, double high, Scale scale) {
  std::vector<double> out;
  if (!(high > low)) return {low};
  if (scale == Scale::log) {  // low, high are values, not logs
    const int first = static_cast<int>(std::floor(std::log10(low))), last = static_cast<int>(std::ceil(std::log10(high)));
    const bool fine = last - first <= 2;
    for (int e = first; e <= last; ++e)
      for (double m : fine ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
        const double v = m * std::pow(10.0, e);
        if (v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9)) out.push_back(v);
      }
    if (out.size() >= 2) return out;
    // Less than a factor of ten between ends: linear ticks read better.
    return ticks(low, high, Scale::linear);
  }
  const double raw = (high - low) / 6;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  for (double v = std::ceil(low / step - 1e-9) * step; v <= high + step * 1e-9; v += step)
    out.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return out;
}

std::string render_svg(const Plot& plot) {
  const double W = std::max(plot.width, 200), H = std::max(plot.height, 150);
  const double left = 72, right = 24, top = plot.title.empty() ? 20 : 44, bottom = 56;
  const double pw = W - left - right, ph = H - top - bottom;
  const Range xr = axis_range(plot, true), yr = axis_range(plot, false);
  auto px = [&](double v) { return left + (to_axis(v, plot.x_scale) - xr.low) / (xr.high - xr.low) * pw; };
  auto py = [&](double v) { return top + ph - (to_axis(v, plot.y_scale) - yr.low) / (yr.high - yr.low) * ph; };
  auto value = [](double a, Scale s) { return s == Scale::log ? std::pow(10.0, a) : a; };

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + number(W) + "\" height=\"" + number(H) +
         "\" viewBox=\"0 0 " + number(W) + " " + number(H) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + number(W) + "\" height=\"" + number(H) + "\" fill=\"white\"/>\n";
  if (!plot.title.empty())
    svg += "<text class=\"title\" x=\"" + number(W / 2) + "\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">" +
           escape(plot.title) + "</text>\n";
  // Grid and tick labels.
  svg += "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
  std::string labels;
  for (double t : ticks(value(xr.low, plot.x_scale), value(xr.high, plot.x_scale), plot.x_scale)) {
    const double x = px(t);
    svg += "<line x1=\"" + number(x) + "\" y1=\"" + number(top) + "\" x2=\"" + number(x) + "\" y2=\"" + number(top + ph) + "\"/>\n";
    labels += "<text x=\"" + number(x) + "\" y=\"" + number(top + ph + 16) + "\" text-anchor=\"middle\">" + escape(tick_label(t)) + "</text>\n";
  }
  for (double t : ticks(value(yr.low, plot.y_scale), value(yr.high, plot.y_scale), plot.y_scale)) {
    const double y = py(t);
    svg += "<line x1=\"" + number(left) + "\" y1=\"" + number(y) + "\" x2=\"" + number(left + pw) + "\" y2=\"" + number(y) + "\"/>\n";
    labels += "<text x=\"" + number(left - 6) + "\" y=\"" + number(y + 4) + "\" text-anchor=\"end\">" + escape(tick_label(t)) + "</text>\n";
  }
  svg += "</g>\n<g class=\"ticks\" fill=\"#333\">\n" + labels + "</g>\n";
  svg += "<rect class=\"frame\" x=\"" + number(left) + "\" y=\"" + number(top) + "\" width=\"" + number(pw) + "\" height=\"" +
         number(ph) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg += "<text class=\"x-label\" x=\"" + number(left + pw / 2) + "\" y=\"" + number(H - 14) + "\" text-anchor=\"middle\">" +
         escape(plot.x_label) + (plot.x_scale == Scale::log ? " (log)" : "") + "</text>\n";
  svg += "<text class=\"y-label\" transform=\"translate(16 " + number(top + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(plot.y_label) + (plot.y_scale == Scale::log ? " (log)" : "") + "</text>\n";
  // Series, clipped to the plot area.
  svg += "<clipPath id=\"area\"><rect x=\"" + number(left) + "\" y=\"" + number(top) + "\" width=\"" + number(pw) +
         "\" height=\"" + number(ph) + "\"/></clipPath>\n";
  std::string legend;
  size_t longest = 0;
  for (const Series& s : plot.series) longest = std::max(longest, s.name.size());
  const double box = std::min(pw - 8, 44 + 7.0 * static_cast<double>(longest));  // ~7 px per character at 12 px
  size_t palette = 0;
  double legend_y = top + 18;
  for (const Series& s : plot.series) {
    const std::string color = s.color.empty() ? kPalette[palette++ % std::size(kPalette)] : s.color;
    const std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
    svg += "<g class=\"series\" data-name=\"" + escape(s.name) + "\" clip-path=\"url(#area)\">\n";
    std::string points, dots;
    auto flush = [&] {
      if (!points.empty())
        svg += "<polyline fill=\"none\" stroke=\"" + escape(color) + "\" stroke-width=\"1.5\"" + dash + " points=\"" + points + "\"/>\n";
      points.clear();
    };
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.x[i], plot.x_scale) || !usable(s.y[i], plot.y_scale)) {
        flush();
        continue;
      }
      const std::string at = number(px(s.x[i])) + "," + number(py(s.y[i]));
      points += (points.empty() ? "" : " ") + at;
      if (s.markers)
        dots += "<circle cx=\"" + number(px(s.x[i])) + "\" cy=\"" + number(py(s.y[i])) + "\" r=\"2.5\" fill=\"" + escape(color) + "\"/>\n";
    }
    flush();
    svg += dots + "</g>\n";
    legend += "<line x1=\"" + number(left + pw - box) + "\" y1=\"" + number(legend_y - 4) + "\" x2=\"" + number(left + pw - box + 24) +
              "\" y2=\"" + number(legend_y - 4) + "\" stroke=\"" + escape(color) + "\" stroke-width=\"2\"" + dash + "/>\n";
    legend += "<text x=\"" + number(left + pw - box + 30) + "\" y=\"" + number(legend_y) + "\">" + escape(s.name) + "</text>\n";
    legend_y += 16;
  }
  if (!plot.series.empty())
    svg += "<g class=\"legend\">\n<rect x=\"" + number(left + pw - box - 8) + "\" y=\"" + number(top + 4) + "\" width=\"" + number(box) + "\" height=\"" +
           number(legend_y - top - 8) + "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n" + legend + "</g>\n";
  return svg + "</svg>\n";
}

void write_svg(const std::string& path, const Plot& plot) {
  train::write_file_atomically(path, render_svg(plot), "plot '" + path + "'");
}

}  // namespace cellforge::plot
