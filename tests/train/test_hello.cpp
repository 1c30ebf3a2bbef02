// The seed's example, end to end: a vanilla RNN with 3 hidden units trained on the single
// sequence "hello" (vocabulary {h, e, l, o}) learns to predict the next character: after "h",
// "he", "hel", "hell" its most likely next characters are e, l, l, o. "hel" -> l but "hell" -> o
// needs the recurrent state: the last input is 'l' in both.
#include <catch2/catch.hpp>

#include "runtime/train/sampler.hpp"
#include "train_support.hpp"

using namespace cellforge;
using namespace cellforge::train;

TEST_CASE("hello: a 3-unit RNN trained on 'hello' predicts e, l, l, o", "[train][hello]") {
  const uint64_t seed = GENERATE(123, 7, 2024);
  INFO("seed " << seed);
  const Corpus corpus = Corpus::from_text("hello", "hello");
  REQUIRE(corpus.vocabulary.symbols() == "ehlo");
  ModelSpec spec = testing::small_model("rnn", 3, 1);
  TrainConfig config;
  config.batch = 1;
  config.unroll = 4;  // inputs h e l l, targets e l l o
  config.val_fraction = 0;
  config.optimizer.kind = OptimizerKind::adam;
  config.optimizer.learning_rate = 0.05;
  config.clip = {};
  config.seed = seed;
  Trainer trainer(spec, corpus, config, testing::threads(1));
  double loss = 0;
  for (int i = 0; i < 300; ++i) loss = trainer.train_step().loss;
  INFO("final loss " << loss);
  CHECK(loss < 0.05);

  Sampler sampler(trainer.spec(), trainer.vocabulary(), testing::threads(1));
  sampler.load_parameters(trainer.network());
  const std::pair<std::string, char> cases[] = {{"h", 'e'}, {"he", 'l'}, {"hel", 'l'}, {"hell", 'o'}};
  for (const auto& [prefix, expected] : cases) {
    const std::vector<double> p = sampler.next_distribution(prefix);
    const size_t best = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    INFO("after \"" << prefix << "\": p(e h l o) = " << p[0] << " " << p[1] << " " << p[2] << " " << p[3]);
    CHECK(corpus.vocabulary.symbol(static_cast<int32_t>(best)) == expected);
    CHECK(p[best] > 0.9);
  }
  // Greedy sampling continues the word the same way.
  SampleOptions greedy;
  greedy.prime = "h";
  greedy.length = 4;
  greedy.temperature = 0;
  CHECK(sampler.sample(greedy) == "hello");
}
