// `cellforge score --checkpoint RUN.ckpt --text FILE [--logits OUT.safetensors]`: how well a model
// predicts a text. The model reads the text from a zero state (B = 1, no dropout), kChunk characters
// per network call with the state carried from call to call (the input and output products then run
// over kChunk rows at once; the rest, fewer than kChunk characters, one at a time, as `cellforge
// sample` runs), and each step's logits predict the next character. It prints the mean cross-entropy of the N - 1 predictions; --logits writes every
// step's logits, "logits" [N, V], and the log-probability of each next character, "log_probs"
// [N - 1], as a safetensors file, which is how the torch tests compare cellforge with PyTorch
// number for number (scripts/torch_char_model.py computes the same from the exported model).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "codegen/ir/error.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/torch_char_model.hpp"
#include "runtime/interop/safetensors_file.hpp"
#include "runtime/train/checkpoint.hpp"
#include "runtime/train/network.hpp"
#include "runtime/train/safetensors.hpp"

namespace cellforge::cli {

namespace {

constexpr size_t kChunk = 256;  // characters per network call

// The checkpoint's model for inference: logits after every character, no dropout or weight drop
// (zoneout stays: inference blends by its rates).
train::ModelSpec scoring_spec(const train::Checkpoint& c) {
  train::ModelSpec spec = c.model;
  spec.loss = train::LossMode::every_step;
  spec.dropout = 0;
  spec.dropout_per_sequence = false;
  spec.weight_drop.clear();
  return spec;
}

// Copies the checkpoint's parameters into `network` (load_checkpoint checked their names and shapes
// against the model; this checks the network has the same list).
void load_parameters(train::Network& network, const train::Checkpoint& c, const std::string& checkpoint_path) {
  std::vector<train::ParameterView> params = network.parameters();
  if (params.size() != c.parameters.size())
    internal_error("checkpoint '", checkpoint_path, "' has ", c.parameters.size(), " parameters, the network ", params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    if (params[k].name != c.parameters[k].name || params[k].value.size() != c.parameters[k].values.size())
      internal_error("checkpoint parameter ", k, " is '", c.parameters[k].name, "', the network's '", params[k].name, "'");
    std::copy(c.parameters[k].values.begin(), c.parameters[k].values.end(), params[k].value.begin());
  }
}

}  // namespace

int run_score(const Argv& argv) {
  Args args(argv, {"score",
                   "How well a checkpoint predicts a text: the mean cross-entropy of each character given the ones "
                   "before it, in nats and bits per character.",
                   {{"checkpoint", "FILE", "the trained model", ""},
                    {"text", "FILE", "the text to score", ""},
                    {"logits", "FILE", "also write every step's logits and log-probabilities as safetensors", ""},
                    {"threads", "N", "threads of the compiled network (the numbers do not depend on it); 0: one "
                                     "per hardware thread", "0"}}});
  const std::string checkpoint_path = args.text("checkpoint"), text_path = args.text("text");
  const train::Checkpoint c = load_checkpoint_or_explain(checkpoint_path, "--checkpoint");
  const std::string text = train::read_file_bytes(text_path, "text '" + text_path + "'");
  if (text.empty()) user_error("the text '", text_path, "' is empty; give at least one character");
  std::vector<int32_t> tokens;
  try {
    tokens = c.vocabulary.encode(text, "the text '" + text_path + "'");
  } catch (const UserError& e) {
    user_error(e.what(), "\n  fix: score a text made of the characters the model was trained on (the checkpoint's "
               "vocabulary); a character it never saw has no probability to measure");
  }

  const size_t N = tokens.size(), V = static_cast<size_t>(c.model.vocabulary);
  const size_t chunk = std::min(kChunk, N);
  NetworkOptions options;
  options.threads = static_cast<int>(args.integer("threads", 0));
  train::Network chunked(scoring_spec(c), 1, static_cast<int64_t>(chunk), options);
  load_parameters(chunked, c, checkpoint_path);
  std::optional<train::Network> one_by_one;  // for the last N % chunk characters
  if (N % chunk) {
    one_by_one.emplace(scoring_spec(c), 1, 1, options);
    load_parameters(*one_by_one, c, checkpoint_path);
  }

  std::vector<float> logits(N * V), log_probs(N - 1);
  train::States states = chunked.zero_states();
  bool chunked_packed = false, one_by_one_packed = false;  // a network's later calls reuse its packed weights
  for (size_t t = 0; t < N;) {
    const bool whole_chunk = N - t >= chunk;
    train::Network& network = whole_chunk ? chunked : *one_by_one;
    bool& packed = whole_chunk ? chunked_packed : one_by_one_packed;
    const size_t steps = whole_chunk ? chunk : 1;
    const std::span<const float> out = network.forward_logits(std::span<const int32_t>(&tokens[t], steps), states, packed);
    packed = true;
    std::copy(out.begin(), out.end(), logits.begin() + static_cast<std::ptrdiff_t>(t * V));
    t += steps;
  }
  double total = 0;
  for (size_t t = 0; t + 1 < N; ++t) {
    const std::span<const float> step(&logits[t * V], V);
    double largest = step[0], sum = 0;  // log-softmax in double, as the trainer's loss
    for (float v : step) largest = std::max(largest, static_cast<double>(v));
    for (float v : step) sum += std::exp(static_cast<double>(v) - largest);
    const double log_p = static_cast<double>(step[static_cast<size_t>(tokens[t + 1])]) - largest - std::log(sum);
    log_probs[t] = static_cast<float>(log_p);
    total -= log_p;
  }
  if (N > 1)
    std::printf("score    %zu characters of %s: mean cross-entropy %.6f nats/char (%.4f bits/char) over %zu predictions\n", N,
                text_path.c_str(), total / static_cast<double>(N - 1), total / static_cast<double>(N - 1) / std::log(2.0), N - 1);
  else
    std::printf("score    1 character of %s: nothing to predict (the logits after it are written)\n", text_path.c_str());
  if (args.has("logits")) {
    const std::string out = args.text("logits");
    interop::write_safetensors(out,
                               {{"logits", {static_cast<int64_t>(N), static_cast<int64_t>(V)}, logits},
                                {"log_probs", {static_cast<int64_t>(N - 1)}, log_probs}},
                               {{kVocabularyKey, escape_vocabulary(c.vocabulary.symbols())}});
    std::printf("wrote    %s: logits [%zu, %zu] (row t: after reading characters 0..t), log_probs [%zu]\n", out.c_str(), N, V,
                N - 1);
  }
  return 0;
}

}  // namespace cellforge::cli
