// Loss CSV and plot; see loss_log.hpp.
#include "runtime/train/loss_log.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "runtime/train/safetensors.hpp"

namespace cellforge::train {

void write_loss_csv(const std::string& path, const std::vector<LossPoint>& train, const std::vector<LossPoint>& val) {
  std::map<int64_t, std::pair<std::string, std::string>> rows;
  char buffer[64];
  for (const LossPoint& p : train) {
    std::snprintf(buffer, sizeof buffer, "%.9g", p.loss);
    rows[p.iteration].first = buffer;
  }
  for (const LossPoint& p : val) {
    std::snprintf(buffer, sizeof buffer, "%.9g", p.loss);
    rows[p.iteration].second = buffer;
  }
  std::string csv = "iteration,train_loss,val_loss\n";
  for (const auto& [iteration, losses] : rows) csv += std::to_string(iteration) + "," + losses.first + "," + losses.second + "\n";
  write_file_atomically(path, csv, "loss curve '" + path + "'");
}

plot::Plot loss_plot(const std::string& title, const std::vector<LossPoint>& train, const std::vector<LossPoint>& val,
                     int window) {
  plot::Plot p;
  p.title = title;
  p.x_label = "iteration";
  p.y_label = "cross-entropy (nats per character)";
  plot::Series t;
  t.name = window > 1 ? "train (mean of " + std::to_string(window) + ")" : "train";
  // A window mean over the finite losses only: one refused (NaN) step leaves a gap, not a hole.
  const size_t w = static_cast<size_t>(std::max(window, 1));
  for (size_t i = 0; i < train.size(); ++i) {
    double sum = 0;
    int n = 0;
    for (size_t k = i + 1 > w ? i + 1 - w : 0; k <= i; ++k)
      if (std::isfinite(train[k].loss)) sum += train[k].loss, ++n;
    t.x.push_back(static_cast<double>(train[i].iteration));
    t.y.push_back(n ? sum / n : std::nan(""));
  }
  p.series.push_back(std::move(t));
  if (!val.empty()) {
    plot::Series v;
    v.name = "validation";
    v.dashed = v.markers = true;
    for (const LossPoint& point : val) v.x.push_back(static_cast<double>(point.iteration)), v.y.push_back(point.loss);
    p.series.push_back(std::move(v));
  }
  return p;
}

}  // namespace cellforge::train
