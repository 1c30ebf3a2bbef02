// How a language model is trained: batching, optimizer, schedule, clipping, initialization and
// seed. The defaults are char-rnn's (B = 50, T = 50, RMSprop lr 2e-3 decay 0.95, clip 5 by value,
// 95/5 split, uniform(-0.08, 0.08) with forget bias 1). A checkpoint stores all of it, so a resumed
// run continues with exactly the settings it started with.
#pragma once

#include <cstdint>

#include "codegen/ir/error.hpp"
#include "runtime/train/corpus.hpp"
#include "runtime/train/init.hpp"
#include "runtime/train/optimizer.hpp"

namespace cellforge::train {

struct TrainConfig {
  int64_t batch = 50;   // B parallel streams of the text
  int64_t unroll = 50;  // T steps per batch (truncated BPTT length)
  double val_fraction = 0.05;
  OptimizerConfig optimizer;
  LearningRateSchedule schedule;
  ClipConfig clip{5.0, 0.0};
  InitOptions init;
  uint64_t seed = 123;
  int64_t val_batches = 0;  // batches per validation, from the start of the validation text; 0 = all

  /// Throws UserError naming the first setting that is out of range.
  void check() const {
    if (batch < 1) user_error("batch size must be >= 1, got ", batch, "; pass --batch N");
    if (unroll < 1) user_error("unroll length must be >= 1, got ", unroll, "; pass --unroll N");
    check_val_fraction(val_fraction);
    if (val_batches < 0)
      user_error("validation batches (--val-batches) must be >= 0 (0: all), got ", val_batches,
                 "; for example --val-batches 20");
    optimizer.check();
    schedule.check();
    clip.check();
  }
};

}  // namespace cellforge::train
