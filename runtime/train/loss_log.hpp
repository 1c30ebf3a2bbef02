// Loss curves on disk: a CSV (iteration, train_loss, val_loss; val_loss empty where no validation
// ran) and an SVG plot of both. The PyTorch script in scripts/ writes the same CSV columns, so
// `cellforge plot` can draw the two runs on one chart.
#pragma once

#include <string>
#include <vector>

#include "runtime/plot/svg_plot.hpp"
#include "runtime/train/checkpoint.hpp"

namespace cellforge::train {

/// Writes the CSV (atomically).
void write_loss_csv(const std::string& path, const std::vector<LossPoint>& train, const std::vector<LossPoint>& val);

/// The two curves as a plot: the training loss smoothed over `window` iterations (raw per-batch
/// losses are noisy), and the validation loss with markers.
plot::Plot loss_plot(const std::string& title, const std::vector<LossPoint>& train, const std::vector<LossPoint>& val,
                     int window = 10);

}  // namespace cellforge::train
