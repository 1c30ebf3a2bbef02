// Training checkpoints: everything an exact resume needs, in one safetensors file.
//
// Tensors:   the parameters under their network names ("layer0.W_hh", "head.W", "embedding"),
//            "optimizer.<parameter>.<slot>", "state.<state name>" (the recurrent state carried to
//            the next batch, [L*B*S]), "vocabulary" (U8), "rng.state" (U64 [4]),
//            "history.train" and "history.val" (F64 [n, 2]: iteration, loss).
// Metadata:  format and version, the cell as IR text (ir::print, so any DSL cell is rebuilt with
//            ir::parse), the model sizes, input encoding, loss, dropout, zoneout and weight drop, every
//            training setting (doubles
//            written with 17 significant digits, so they read back bit for bit), the progress
//            (iteration, epoch, next batch, optimizer steps, clipped and refused steps), the corpus
//            fingerprint (name, bytes, CRC-32C) and the machine it was written on.
//
// save_checkpoint() writes atomically (safetensors.hpp). load_checkpoint() verifies the file
// (checksums, layout) and then its meaning: every required entry present and well formed, the cell
// parses and verifies, the parameter shapes are what the cell and sizes give. check_resumable()
// then compares it with the model a caller expects and lists every difference at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/train/corpus.hpp"
#include "runtime/train/network.hpp"
#include "runtime/train/rng.hpp"
#include "runtime/train/train_config.hpp"

namespace cellforge::train {

inline constexpr const char* kCheckpointFormat = "cellforge.char_lm";
/// The version written. Version 2 added "model.dropout", version 3 "model.dropout_per_sequence",
/// "model.zoneout" and "model.weight_drop"; older files
/// still load, as models without them.
inline constexpr int kCheckpointVersion = 3;
inline constexpr int kOldestCheckpointVersion = 1;

struct LossPoint {
  int64_t iteration = 0;
  double loss = 0;
  bool operator==(const LossPoint&) const = default;
};

struct FloatTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct TrainingProgress {
  int64_t iteration = 0;        // batches trained (updates attempted)
  int64_t epoch = 0;            // passes over the training text completed
  int64_t batch_index = 0;      // the next training batch of this pass
  int64_t optimizer_steps = 0;  // updates applied
  int64_t clipped_steps = 0;
  int64_t refused_steps = 0;
  double seconds = 0;           // training time so far
};

struct CorpusFingerprint {
  std::string name;
  int64_t bytes = 0;
  uint32_t crc32c = 0;
  static CorpusFingerprint of(const Corpus& corpus);
};

struct Checkpoint {
  ModelSpec model;
  Vocabulary vocabulary;
  TrainConfig config;
  TrainingProgress progress;
  CorpusFingerprint corpus;
  Rng::State rng{};
  std::string machine;  // CPU and LLVM version of the writer: bitwise resume needs the same
  std::vector<FloatTensor> parameters;  // Network::parameters() order
  std::vector<FloatTensor> optimizer;   // Optimizer::slots() order, names without "optimizer."
  std::vector<FloatTensor> states;      // Network::state_names() order, names without "state."
  std::vector<LossPoint> train_losses, val_losses;
};

/// This machine, as Checkpoint::machine records it.
std::string machine_signature();

/// Writes `checkpoint` to `path` atomically; throws UserError naming the file on failure.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

/// The file's bytes, as save_checkpoint() would write them (for tests of the format).
std::string encode_checkpoint(const Checkpoint& checkpoint);

/// Reads and verifies a checkpoint; never modifies the file. Every failure is a UserError that
/// starts with "checkpoint '<path>': " and names the tensor or entry and what is wrong.
Checkpoint load_checkpoint(const std::string& path);
/// The same from bytes already read; `path` only labels messages.
Checkpoint decode_checkpoint(const std::string& bytes, const std::string& path);

/// Throws one UserError listing every difference between the checkpoint's model and `expected`
/// (cell, sizes, encoding, loss, dropout) and between its parameters and those `expected` has (missing,
/// unexpected, shape).
void check_model_matches(const Checkpoint& checkpoint, const std::string& path, const ModelSpec& expected);

}  // namespace cellforge::train
