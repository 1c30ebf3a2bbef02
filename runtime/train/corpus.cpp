// Corpus, vocabulary, split and batches; see corpus.hpp.
#include "runtime/train/corpus.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codegen/ir/error.hpp"

namespace cellforge::train {

Vocabulary Vocabulary::of_text(std::string_view text) {
  bool seen[256] = {};
  for (char c : text) seen[static_cast<unsigned char>(c)] = true;
  std::string symbols;
  for (int c = 0; c < 256; ++c)
    if (seen[c]) symbols += static_cast<char>(c);
  return from_symbols(std::move(symbols));
}

Vocabulary Vocabulary::from_symbols(std::string symbols) {
  Vocabulary v;
  if (symbols.empty()) user_error("the vocabulary is empty");
  std::fill(std::begin(v.index_), std::end(v.index_), -1);
  for (size_t i = 0; i < symbols.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(symbols[i]);
    if (i > 0 && c <= static_cast<unsigned char>(symbols[i - 1]))
      user_error("the vocabulary's characters must be distinct and in increasing byte order; ", show(c),
                 " at position ", i, " follows ", show(static_cast<unsigned char>(symbols[i - 1])));
    v.index_[c] = static_cast<int32_t>(i);
  }
  v.symbols_ = std::move(symbols);
  return v;
}

std::vector<int32_t> Vocabulary::encode(std::string_view text, const std::string& what) const {
  std::vector<int32_t> tokens;
  tokens.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (index_[c] < 0)
      user_error(what, " has the character ", show(c), " (at position ", i,
                 ") that the model's vocabulary lacks; the vocabulary is ", size(), " characters: ", [&] {
                   std::string all;
                   for (char s : symbols_) all += show(static_cast<unsigned char>(s));
                   return all;
                 }());
    tokens.push_back(index_[c]);
  }
  return tokens;
}

std::string Vocabulary::show(unsigned char c) {
  switch (c) {
    case '\n': return "'\\n'";
    case '\t': return "'\\t'";
    case '\r': return "'\\r'";
    case '\'': return "'\\''";
    case '\\': return "'\\\\'";
    default: break;
  }
  if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "'\\x%02x'", c);
  return buffer;
}

Corpus Corpus::from_text(std::string text, std::string name) {
  if (text.empty()) user_error("the corpus '", name, "' is empty; give a text file with at least a few thousand characters");
  Corpus c;
  c.name = std::move(name);
  c.vocabulary = Vocabulary::of_text(text);
  c.tokens = c.vocabulary.encode(text, "the corpus");
  c.text = std::move(text);
  return c;
}

Corpus Corpus::from_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) user_error("corpus '", path, "' is a directory; give a text file");
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("cannot read the corpus '", path, "': no such file, or no permission to read it");
  std::ostringstream text;
  text << in.rdbuf();
  return from_text(text.str(), path);
}

Corpus Corpus::default_corpus() {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kDefaultCorpusDir, ec))
    if (entry.is_regular_file() && !entry.is_symlink()) files.push_back(entry.path());
  if (ec || files.empty())
    user_error("the default corpus ", kDefaultCorpusDir, " is missing (base-files installs it on Debian); "
               "give a text file with --corpus FILE");
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream part;
    part << in.rdbuf();
    text += part.str();
  }
  return from_text(std::move(text), std::string(kDefaultCorpusDir) + "/* (" + std::to_string(files.size()) + " files)");
}

void check_val_fraction(double val_fraction) {
  if (!(val_fraction >= 0 && val_fraction < 1))
    user_error("the validation fraction (--val-fraction) must be in [0, 1), got ", val_fraction,
               "; for example --val-fraction 0.05 (0: no validation)");
}

TextSplit split_text(const Corpus& corpus, double val_fraction) {
  check_val_fraction(val_fraction);
  const size_t n = corpus.tokens.size();
  const size_t val = static_cast<size_t>(static_cast<double>(n) * val_fraction);
  TextSplit split;
  split.train.assign(corpus.tokens.begin(), corpus.tokens.begin() + static_cast<std::ptrdiff_t>(n - val));
  split.val.assign(corpus.tokens.begin() + static_cast<std::ptrdiff_t>(n - val), corpus.tokens.end());
  return split;
}

BatchStream::BatchStream(std::vector<int32_t> tokens, int64_t batch, int64_t unroll, const std::string& what)
    : tokens_(std::move(tokens)), batch_(batch), unroll_(unroll) {
  if (batch < 1 || unroll < 1) user_error("batch size and unroll length must be >= 1, got ", batch, " and ", unroll);
  const int64_t n = static_cast<int64_t>(tokens_.size());
  // Each stream needs one token beyond its inputs for the last target.
  stream_length_ = n > 0 ? (n - 1) / batch : 0;
  batches_ = stream_length_ / unroll;
  if (batches_ < 1)
    user_error(what, " has ", n, " characters, too few for one batch of ", batch, " streams x ", unroll,
               " steps (needs ", batch * unroll + 1, "); use a longer text, or a smaller --batch or --unroll");
}

Batch BatchStream::batch(int64_t index) const {
  if (index < 0 || index >= batches_) user_error("batch ", index, " is outside [0, ", batches_, ")");
  Batch b;
  b.inputs.resize(static_cast<size_t>(batch_ * unroll_));
  b.targets.resize(b.inputs.size());
  for (int64_t s = 0; s < batch_; ++s)
    for (int64_t t = 0; t < unroll_; ++t) {
      const int64_t at = s * stream_length_ + index * unroll_ + t;
      b.inputs[static_cast<size_t>(t * batch_ + s)] = tokens_[static_cast<size_t>(at)];
      b.targets[static_cast<size_t>(t * batch_ + s)] = tokens_[static_cast<size_t>(at + 1)];
    }
  return b;
}

}  // namespace cellforge::train
