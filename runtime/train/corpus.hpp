// The character corpus and its batches, the way char-rnn and torch-rnn feed a language model.
//
// Characters are bytes: the vocabulary is the sorted set of distinct bytes of the text (char-rnn
// does the same; UTF-8 text is learned as byte sequences). The text is split into a training part
// (the first 95 %) and a validation part (the rest), each a contiguous block so no validation text
// leaks into training (torch-rnn's split; char-rnn interleaves). Each part is cut into B streams
// of equal length, stream b reading the b-th slice of the part, and a batch is the next T
// characters of every stream. The target of a character is the one after it. Because batch k+1
// continues batch k in every stream, the trainer carries the recurrent state from one batch to the
// next (truncated BPTT); at the end of the part it starts over with a zero state.
//
//   Corpus corpus = Corpus::from_file("input.txt");
//   TextSplit split = split_text(corpus, 0.05);
//   BatchStream train(split.train, /*batch*/ 50, /*unroll*/ 50);
//   Batch b = train.batch(0);   // inputs[t * B + b], targets[t * B + b]
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cellforge::train {

/// The characters (bytes) a model knows, in increasing byte order; token k is symbols()[k].
class Vocabulary {
 public:
  Vocabulary() = default;
  /// The distinct bytes of `text`.
  static Vocabulary of_text(std::string_view text);
  /// From a list of distinct bytes in increasing order (as a checkpoint stores it); throws
  /// UserError otherwise.
  static Vocabulary from_symbols(std::string symbols);

  int64_t size() const { return static_cast<int64_t>(symbols_.size()); }
  const std::string& symbols() const { return symbols_; }
  bool contains(unsigned char c) const { return index_[c] >= 0; }
  int32_t token(unsigned char c) const { return index_[c]; }
  char symbol(int32_t token) const { return symbols_.at(static_cast<size_t>(token)); }
  /// The tokens of `text`; throws UserError naming the first character the vocabulary lacks.
  std::vector<int32_t> encode(std::string_view text, const std::string& what) const;
  /// A character shown readably in messages: 'a', '\n', '\x9c'.
  static std::string show(unsigned char c);

 private:
  std::string symbols_;
  int32_t index_[256] = {};
};

/// A text and its tokens.
struct Corpus {
  std::string name;  // the file, or a description
  std::string text;
  Vocabulary vocabulary;
  std::vector<int32_t> tokens;

  static Corpus from_text(std::string text, std::string name);
  /// Reads a file; throws UserError if it cannot be read or is empty.
  static Corpus from_file(const std::string& path);
  /// The default corpus: every regular file of /usr/share/common-licenses (symlinks skipped, so no
  /// license appears twice) in name order, joined. base-files installs them on every Debian system.
  static Corpus default_corpus();
};

/// Where the default corpus comes from.
inline constexpr const char* kDefaultCorpusDir = "/usr/share/common-licenses";

/// Training and validation tokens: the first (1 - val_fraction) of the text, and the rest.
struct TextSplit {
  std::vector<int32_t> train;
  std::vector<int32_t> val;
};
TextSplit split_text(const Corpus& corpus, double val_fraction);

/// Throws UserError unless val_fraction is in [0, 1), naming --val-fraction and a value that works.
void check_val_fraction(double val_fraction);

/// One batch: inputs and targets, [T][B] tokens each (step-major, as the network reads them).
struct Batch {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
};

/// B parallel streams over a token sequence, T steps at a time.
class BatchStream {
 public:
  /// Throws UserError when the tokens cannot fill one batch (B * T + 1 tokens); `what` names the
  /// part ("training text") in that message.
  BatchStream(std::vector<int32_t> tokens, int64_t batch, int64_t unroll, const std::string& what);

  int64_t batches() const { return batches_; }  // per pass over the text
  int64_t batch_size() const { return batch_; }
  int64_t unroll() const { return unroll_; }
  /// Tokens each pass reads: batches() * B * T.
  int64_t tokens_per_pass() const { return batches_ * batch_ * unroll_; }
  /// Batch `index` of a pass (0 <= index < batches()).
  Batch batch(int64_t index) const;

 private:
  std::vector<int32_t> tokens_;
  int64_t batch_, unroll_, stream_length_, batches_;
};

}  // namespace cellforge::train
