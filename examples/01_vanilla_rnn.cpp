// Lesson 01: the classic "hello" example of a character-level language model.
//
// The vocabulary is {e, h, l, o}; the training text is the single word "hello". A vanilla RNN with
// 3 hidden units reads it one character at a time as one-hot vectors and, at every step, predicts
// the next character with a softmax over the 4 symbols:
//
//     h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (cellforge's zoo cell "rnn")
//     p_t = softmax(W_hy h_t + b_y)                          (the output head)
//     L   = -sum_t log p_t[target_t]                         inputs h e l l -> targets e l l o
//
// BPTT runs in code cellforge compiled for this CPU. After training, the predictions after "h",
// "he", "hel" and "hell" must be e, l, l, o. Note "hel" -> l but "hell" -> o: the last input is 'l'
// in both, so only the recurrent state h can tell them apart.
#include <algorithm>
#include <cstdio>

#include "runtime/train/sampler.hpp"
#include "runtime/train/trainer.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using namespace cellforge::train;

int main() {
  const Corpus corpus = Corpus::from_text("hello", "hello");
  std::printf("vocabulary: %s (one-hot vectors of %lld floats)\n", corpus.vocabulary.symbols().c_str(),
              static_cast<long long>(corpus.vocabulary.size()));

  ModelSpec spec;
  spec.cell = zoo::find("rnn").build();
  spec.hidden = 3;
  spec.layers = 1;

  TrainConfig config;
  config.batch = 1;         // one sequence ...
  config.unroll = 4;        // ... of 4 steps: inputs h e l l, targets e l l o
  config.val_fraction = 0;  // nothing to hold out of five characters
  config.optimizer.kind = OptimizerKind::adam;
  config.optimizer.learning_rate = 0.05;
  config.clip = {};
  config.seed = 123;
  NetworkOptions one_thread;
  one_thread.threads = 1;
  Trainer trainer(spec, corpus, config, one_thread);
  std::printf("a vanilla RNN with %lld hidden units: %lld parameters\n\n", static_cast<long long>(spec.hidden),
              static_cast<long long>(trainer.network().parameter_count()));

  double loss = 0;
  for (int i = 1; i <= 300; ++i) {
    loss = trainer.train_step().loss;
    if (i == 1 || i % 50 == 0) std::printf("step %3d  loss %.4f nats/char\n", i, loss);
  }

  Sampler sampler(trainer.spec(), trainer.vocabulary(), one_thread);
  sampler.load_parameters(trainer.network());
  std::printf("\nafter     p(e)   p(h)   p(l)   p(o)   predicted\n");
  int wrong = 0;
  const std::pair<const char*, char> cases[] = {{"h", 'e'}, {"he", 'l'}, {"hel", 'l'}, {"hell", 'o'}};
  for (const auto& [prefix, expected] : cases) {
    const std::vector<double> p = sampler.next_distribution(prefix);
    const auto best = static_cast<int32_t>(std::max_element(p.begin(), p.end()) - p.begin());
    const char predicted = corpus.vocabulary.symbol(best);
    std::printf("%-6s  %5.3f  %5.3f  %5.3f  %5.3f   %c %s\n", prefix, p[0], p[1], p[2], p[3], predicted,
                predicted == expected ? "" : "(expected another)");
    wrong += predicted != expected;
  }
  SampleOptions greedy;
  greedy.prime = "h";
  greedy.length = 4;
  greedy.temperature = 0;
  const std::string text = sampler.sample(greedy);
  std::printf("\ngreedy sample from \"h\": %s\n", text.c_str());
  if (wrong || text != "hello" || loss > 0.05) {
    std::printf("FAILED: the RNN did not learn \"hello\" (final loss %.4f)\n", loss);
    return 1;
  }
  return 0;
}
