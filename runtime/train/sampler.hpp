// Sampling text from a trained model (one-to-many): the same cells and head compiled for one
// sequence of one step (B = 1, T = 1; without dropout, which only training applies), fed the priming text one character at a time, then its own
// samples. Each next character is drawn from softmax(logits / temperature) with the sampler's own
// seeded Rng, so a model, a prime and a seed always give the same text; temperature 0 takes the
// most likely character (greedy, char-rnn's -sample 0).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/train/checkpoint.hpp"
#include "runtime/train/corpus.hpp"
#include "runtime/train/network.hpp"
#include "runtime/train/rng.hpp"

namespace cellforge::train {

struct SampleOptions {
  int64_t length = 500;      // characters to generate after the prime
  double temperature = 1.0;  // > 0, or 0 for greedy
  std::string prime;         // fed first and returned as the start of the text
  uint64_t seed = 1;
};

class Sampler {
 public:
  /// Compiles the B = 1, T = 1 network for `spec`.
  Sampler(const ModelSpec& spec, Vocabulary vocabulary, const NetworkOptions& options = {});
  /// From a checkpoint file.
  static std::unique_ptr<Sampler> from_checkpoint(const std::string& path, const NetworkOptions& options = {});

  /// Copies the parameters of a network of the same spec (any batch and unroll).
  void load_parameters(Network& trained);

  /// The prime followed by `length` sampled characters. With an empty prime the model starts
  /// from a zero state and a newline if the vocabulary has one (else its first character), and
  /// that start character is not part of the result.
  std::string sample(const SampleOptions& options);
  /// The same text handed to `write` as it is made: the prime, then each character as soon as it
  /// is drawn (`cellforge sample` prints it as it comes).
  void sample_to(const SampleOptions& options, const std::function<void(std::string_view)>& write);
  /// The probabilities of the next character after `text` from a zero state (for tests and tools).
  std::vector<double> next_distribution(const std::string& text, double temperature = 1.0);

 private:
  /// One step of the network: its parameters change only in load_parameters(), so every step
  /// after the first reuses the weights the first one packed.
  std::span<const float> step(int32_t token, States& states);

  Network network_;
  Vocabulary vocabulary_;
  bool packed_ = false;  // the network's last forward pass packed the current parameters
};

}  // namespace cellforge::train
