// What `cellforge train` and `cellforge demo` share: the training loop with its progress line,
// validation, samples, checkpoints and loss curves.
#pragma once

#include <cstdint>
#include <vector>
#include <string>

#include "runtime/cli/args.hpp"
#include "runtime/train/trainer.hpp"

namespace cellforge::cli {

/// The options of `cellforge train` that set how a run trains (--batch, --unroll, --lr, ...), and
/// the settings they give (with train's --init-scale and --forget-bias when the command takes
/// them). A checkpoint keeps its settings on --resume, so `cellforge import-torch`, which writes a
/// checkpoint to fine-tune, takes them too.
const std::vector<Option>& training_options();
train::TrainConfig training_config(const Args& args);

struct LoopOptions {
  int64_t iterations = 1000;  // stop when the trainer reaches this iteration
  double time_limit = 0;      // seconds of training; 0 = no limit
  int64_t print_every = 10;
  int64_t eval_every = 250;   // validation, checkpoint, curves (and a sample); 0 = only at the end
  std::string checkpoint;     // "" = none
  std::string csv, svg;       // "" = none
  int64_t sample_length = 0;  // a sample at each evaluation and at the end; 0 = none
  double sample_temperature = 0.8;
  std::string sample_prime;   // must use only characters of the vocabulary
  uint64_t sample_seed = 1;
  std::string title;          // of the plot
  std::string summary;        // "" = none; else a JSON file with the run's final numbers
  bool show_total = true;     // "iter 50/2000" rather than "iter 50" (a run bounded by time has no total)
};

/// Trains until options.iterations (or the time limit), printing progress to stdout. Throws
/// UserError when training diverges (10 refused updates in a row).
void run_training_loop(train::Trainer& trainer, const LoopOptions& options);

}  // namespace cellforge::cli
