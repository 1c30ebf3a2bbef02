// The training loop of a character-level language model: truncated BPTT over B parallel streams
// of the training text, one optimizer step per batch, periodic validation, checkpoints, and an
// exact resume.
//
//   Trainer trainer(spec, corpus, config);          // fresh: parameters from config.seed
//   for (int i = 0; i < 1000; ++i) trainer.train_step();
//   double val = trainer.validate();
//   trainer.save("run.ckpt");
//   Trainer again = Trainer::resume("run.ckpt", corpus);   // continues bit for bit
//
// The state after batch k of a pass is the initial state of batch k+1; a new pass over the text
// starts from zeros. Validation runs over the validation text (all of it, or the first
// config.val_batches batches) from a zero state, carrying the state across its batches, and never
// touches the training state. A step whose gradient is not finite is refused (parameters and
// optimizer state unchanged, counted, reported) and the carried state is reset when it is not
// finite either. With dropout (ModelSpec::dropout), training step i draws its masks from
// dropout_seed(config.seed, i); validation runs without dropout.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/train/checkpoint.hpp"
#include "runtime/train/corpus.hpp"
#include "runtime/train/network.hpp"
#include "runtime/train/optimizer.hpp"
#include "runtime/train/rng.hpp"
#include "runtime/train/train_config.hpp"

namespace cellforge::train {

/// What one training step did.
struct IterationReport {
  int64_t iteration = 0;  // 1-based: the number of batches trained after this step
  int64_t epoch = 0;      // passes over the training text completed
  double loss = 0;
  double learning_rate = 0;
  StepReport step;
};

/// The dropout seed of training iteration `iteration` (1-based) of a run seeded `seed`: a function
/// of the two alone (no generator state), so a resumed run draws the masks the uninterrupted one
/// would, and the parameter initialization's random numbers are not disturbed by dropout.
uint64_t dropout_seed(uint64_t seed, int64_t iteration);

struct ResumeOptions {
  /// Continue when the checkpoint was written on a different CPU or LLVM (the losses then agree
  /// only to rounding, not bit for bit).
  bool allow_inexact = false;
  /// When set, the checkpoint must hold this model (cell, sizes, encoding, loss).
  const ModelSpec* expected = nullptr;
};

class Trainer {
 public:
  /// A fresh model: the vocabulary is the corpus's, parameters initialized from config.seed.
  Trainer(const ModelSpec& spec, const Corpus& corpus, const TrainConfig& config, const NetworkOptions& options = {});

  /// Continues the run saved in `path` on `corpus`, which must be the corpus it was trained on.
  static std::unique_ptr<Trainer> resume(const std::string& path, const Corpus& corpus, const ResumeOptions& resume = {},
                                         const NetworkOptions& options = {});

  IterationReport train_step();
  /// The mean validation loss (nats per character); recorded in val_losses() at the current
  /// iteration. Throws UserError when there is no validation text.
  double validate();
  void save(const std::string& path) const;
  Checkpoint checkpoint() const;

  Network& network() { return *network_; }
  const ModelSpec& spec() const { return network_->spec(); }
  const TrainConfig& config() const { return config_; }
  const Vocabulary& vocabulary() const { return vocabulary_; }
  const TrainingProgress& progress() const { return progress_; }
  const std::vector<LossPoint>& train_losses() const { return train_losses_; }
  const std::vector<LossPoint>& val_losses() const { return val_losses_; }
  const std::vector<ForgetBias>& forget_biases() const { return forget_biases_; }
  int64_t train_batches() const { return train_stream_->batches(); }
  int64_t val_batches() const { return val_stream_ ? val_stream_->batches() : 0; }
  bool has_validation() const { return val_stream_ != nullptr; }
  /// Characters trained per step: B * T.
  int64_t characters_per_step() const { return config_.batch * config_.unroll; }
  /// The carried recurrent state (for tests).
  const States& states() const { return states_; }

 private:
  Trainer(const Checkpoint& checkpoint, const Corpus& corpus, const NetworkOptions& options);
  void build(const Corpus& corpus, const NetworkOptions& options);

  ModelSpec spec_;
  TrainConfig config_;
  Vocabulary vocabulary_;
  CorpusFingerprint corpus_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<BatchStream> train_stream_, val_stream_;
  States states_;
  Rng rng_;
  TrainingProgress progress_;
  std::vector<LossPoint> train_losses_, val_losses_;
  std::vector<ForgetBias> forget_biases_;
};

}  // namespace cellforge::train
