// A trained character language model as a PyTorch model file, and back: what `cellforge
// export-torch` and `cellforge import-torch` do, apart from reading arguments and files.
//
// The file is safetensors (interop::write_safetensors: any safetensors reader loads it; cellforge
// adds CRC-32C checksums that PyTorch ignores) holding the state_dict of
// scripts/torch_char_model.py's CharModel:
//
//   embedding.weight        [V, E]       cellforge "embedding"    (embedding input only)
//   rnn.weight_ih_l0 ...    torch.nn     cellforge "layer<l>.*"    (interop/torch_rnn.hpp's mapping;
//                                                                  "rnn." is the default prefix)
//   head.weight, head.bias  [V, Y], [V]  cellforge "head.W", "head.b" (nn.Linear(Y, V); Y = H, or P)
//
// and, in the header's metadata (strings; see the keys below), everything else a user needs to run
// it: the module's constructor (as JSON, interop's kTorchModuleKey, and as Python), the vocabulary,
// the input encoding, the dropout, the loss mode, the prefix.
//
// The vocabulary is bytes (token k is the k-th smallest byte of the training text), which need not
// be UTF-8 on their own, while the header is JSON text; so it is written escaped: printable ASCII
// (0x20-0x7e) as itself except the backslash, which is "\\", and every other byte as "\xHH"
// (Python's bytes-literal escapes: "\x0a !.abc\\").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/interop/safetensors_file.hpp"
#include "runtime/interop/torch_rnn.hpp"
#include "runtime/train/checkpoint.hpp"
#include "runtime/train/corpus.hpp"
#include "runtime/train/train_config.hpp"

namespace cellforge::cli {

/// Metadata keys of a character-model file (besides interop::kTorchModuleKey and "format": "pt").
inline constexpr const char* kCharModelKey = "cellforge.char_model";         // the layout's version: "1"
inline constexpr const char* kModulePythonKey = "cellforge.torch_module_python";  // "torch.nn.LSTM(input_size=...)"
inline constexpr const char* kPrefixKey = "cellforge.prefix";                // "rnn."
inline constexpr const char* kVocabularyKey = "cellforge.vocabulary";        // escaped, see above
inline constexpr const char* kVocabularySizeKey = "cellforge.vocabulary_size";
inline constexpr const char* kEncodingKey = "cellforge.encoding";            // "one_hot" | "embedding"
inline constexpr const char* kDropoutKey = "cellforge.dropout";              // before the upper layers and the head
inline constexpr const char* kLossKey = "cellforge.loss";                    // "every_step" | "last_step"
inline constexpr const char* kCellKey = "cellforge.cell";                    // the zoo cell, for people
inline constexpr const char* kIterationsKey = "cellforge.iterations";        // trained, for people
inline constexpr const char* kDefaultPrefix = "rnn.";

/// Throws UserError unless `prefix` can hold the recurrent module's entries in a character model
/// file: "" (bare names) or a submodule path ending in '.' ("rnn.", "encoder.lstm."), and not under
/// "head." or "embedding." (CharModel's other entries), so that every entry has one owner.
/// `what` names where the prefix came from ("--prefix 'rnn'").
void check_prefix(const std::string& prefix, const std::string& what);

/// The vocabulary as the metadata spells it, and back. unescape_vocabulary throws UserError
/// (starting with `label`) for anything escape_vocabulary does not write.
std::string escape_vocabulary(std::string_view symbols);
std::string unescape_vocabulary(std::string_view text, const std::string& label);

struct TorchCharModel {
  interop::TorchRnn module;                     // the recurrent part
  std::vector<interop::Tensor> tensors;         // in CharModel.state_dict() order
  std::map<std::string, std::string> metadata;  // without cellforge's checksums
};

/// The model of a checkpoint (read from `path`, which labels messages) as a PyTorch file's tensors
/// and metadata, the recurrent module's entries under `prefix` ("" or ending in '.', not "head." or
/// "embedding."). Throws UserError when the cell has no torch.nn equivalent (a peephole_lstm, a
/// custom cell), naming the cell, the cells that can be exported and the fix.
TorchCharModel export_char_model(const train::Checkpoint& checkpoint, const std::string& path,
                                 const std::string& prefix = kDefaultPrefix);

struct ImportSettings {
  /// Where the recurrent module's entries are; default: the file's kPrefixKey, else "rnn.".
  std::optional<std::string> prefix;
  /// The text whose distinct bytes are the vocabulary (--vocabulary-from). It becomes the
  /// checkpoint's corpus, so `cellforge train --resume` fine-tunes on it. Without it the vocabulary
  /// comes from the file's metadata and the checkpoint has no corpus (0 bytes), which resume
  /// refuses with a message that says to import again with a corpus.
  const train::Corpus* corpus = nullptr;
  /// The nonlinearity of a torch.nn.RNN in a file that does not say which module it holds.
  std::optional<interop::TorchMode> rnn_mode;
  /// The settings `cellforge train --resume` continues with (it refuses other ones).
  train::TrainConfig config;
};

/// train::load_checkpoint(path), except that a PyTorch model file given where a checkpoint belongs
/// (what export-torch writes, or any state_dict of a character model) is refused with a message that
/// says so and gives the import-torch command, rather than with the checkpoint reader's complaint.
/// `option` names the command-line option that gave the path ("--checkpoint").
train::Checkpoint load_checkpoint_or_explain(const std::string& path, const std::string& option);

/// A trainer checkpoint at iteration 0 (fresh optimizer state, zero carried state, no loss history)
/// with the file's weights: `cellforge sample` runs it and `cellforge train --resume` fine-tunes it.
/// Every problem is a UserError starting with "safetensors file '<path>'": a cellforge checkpoint
/// instead of a PyTorch file, a module cellforge's language model cannot be (bidirectional), missing or misshapen tensors (all listed at once),
/// unknown tensors, no vocabulary, a vocabulary of the wrong size or different from the corpus's.
train::Checkpoint import_char_model(const interop::SafetensorsFile& file, const std::string& path,
                                    const ImportSettings& settings);

}  // namespace cellforge::cli
