// Exact resume (reliability plan S2): training N steps straight and training k steps, saving,
// dropping everything, loading and training N - k more give the same loss at every step and the
// same parameters, bit for bit. The window has clipping active on most steps and one step whose
// gradient is not finite (refused), so the counters and the refused-step path are resumed too; it
// runs without and with dropout, and with zoneout, weight drop and dropout per sequence (whose
// masks must follow the run's seed and the iteration alone).
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/train/sampler.hpp"
#include "train_support.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

constexpr int64_t kSteps = 50;
constexpr int64_t kPoisoned = 30;  // the step whose gradient is made non-finite

TrainConfig resume_config() {
  TrainConfig c = testing::small_config();
  c.unroll = 16;            // 25 batches per pass: the window crosses an epoch boundary
  c.clip.max_value = 0.02;  // small: most steps clip
  c.optimizer.kind = OptimizerKind::adam;
  c.optimizer.learning_rate = 3e-3;
  return c;
}

// One step; at kPoisoned the top layer's scale s is pushed near zero for that step only, so its
// gradient overflows and the update is refused (then s is put back: a refused step changes nothing).
IterationReport step(Trainer& trainer) {
  if (trainer.progress().iteration + 1 != kPoisoned) return trainer.train_step();
  ParameterView s = testing::parameter(trainer.network(), "layer1.s");  // the top layer: its output feeds the loss
  const float saved = s.value[0];
  s.value[0] = 1e-30f;
  IterationReport r = trainer.train_step();
  s.value[0] = saved;
  return r;
}

struct Run {
  std::vector<double> losses;
  std::vector<std::vector<float>> parameters;
  TrainingProgress progress;
};

Run finish(Trainer& trainer, Run run) {
  while (trainer.progress().iteration < kSteps) run.losses.push_back(step(trainer).loss);
  for (const ParameterView& p : trainer.network().parameters()) run.parameters.emplace_back(p.value.begin(), p.value.end());
  run.progress = trainer.progress();
  return run;
}

std::unique_ptr<Trainer> fresh(const Corpus& corpus, double dropout = 0, double zoneout = 0) {
  ModelSpec spec = testing::small_model("scaled_rnn", 8, 2);
  spec.dropout = dropout;
  if (zoneout > 0) spec.zoneout = {{"h", zoneout}}, spec.weight_drop = {{"U", 0.25}}, spec.dropout_per_sequence = true;
  auto trainer = std::make_unique<Trainer>(spec, corpus, resume_config());
  for (const char* name : {"layer0.s", "layer1.s"})
    for (float& v : testing::parameter(trainer->network(), name).value) v = 1.0f;
  return trainer;
}

}  // namespace

TEST_CASE("resume: k steps + save + load + N-k steps = N steps, bit for bit", "[train][resume]") {
  const auto [dropout, zoneout] = GENERATE(std::pair{0.0, 0.0}, std::pair{0.25, 0.0}, std::pair{0.25, 0.3});
  INFO("dropout " << dropout << ", zoneout " << zoneout);
  const Corpus corpus = testing::small_corpus();
  auto straight_trainer = fresh(corpus, dropout, zoneout);
  const Run straight = finish(*straight_trainer, {});
  REQUIRE(straight.progress.refused_steps == 1);
  REQUIRE(straight.progress.clipped_steps > kSteps / 2);
  REQUIRE(straight.progress.epoch >= 1);  // the window crosses an epoch boundary (state reset)

  testing::ScratchDir dir("resume");
  for (int64_t k : {int64_t{1}, kSteps / 2, kPoisoned, kSteps - 1}) {
    INFO("resume after step " << k);
    Run run;
    {
      auto first = fresh(corpus, dropout, zoneout);
      while (first->progress().iteration < k) run.losses.push_back(step(*first).loss);
      first->save(dir.file("run.ckpt"));
    }
    auto second = Trainer::resume(dir.file("run.ckpt"), corpus);
    REQUIRE(second->train_losses().size() == static_cast<size_t>(k));
    REQUIRE(second->spec().dropout == dropout);
    REQUIRE(second->spec().zoneout == fresh(corpus, dropout, zoneout)->spec().zoneout);
    REQUIRE(second->spec().weight_drop == fresh(corpus, dropout, zoneout)->spec().weight_drop);
    REQUIRE(second->spec().dropout_per_sequence == (zoneout > 0));
    run = finish(*second, std::move(run));
    REQUIRE(run.losses.size() == straight.losses.size());
    for (size_t i = 0; i < run.losses.size(); ++i) {
      INFO("step " << i + 1);
      if (std::isnan(straight.losses[i])) CHECK(std::isnan(run.losses[i]));
      else CHECK(run.losses[i] == straight.losses[i]);  // bitwise: the same double
    }
    REQUIRE(run.parameters.size() == straight.parameters.size());
    for (size_t p = 0; p < run.parameters.size(); ++p)
      CHECK(std::memcmp(run.parameters[p].data(), straight.parameters[p].data(), run.parameters[p].size() * 4) == 0);
    CHECK(run.progress.clipped_steps == straight.progress.clipped_steps);
    CHECK(run.progress.refused_steps == straight.progress.refused_steps);
    CHECK(run.progress.optimizer_steps == straight.progress.optimizer_steps);
    CHECK(run.progress.epoch == straight.progress.epoch);
    CHECK(run.progress.batch_index == straight.progress.batch_index);
  }
}

TEST_CASE("resume: a refused step names the parameter and the step, and changes nothing", "[train][resume]") {
  const Corpus corpus = testing::small_corpus();
  auto trainer = fresh(corpus);
  while (trainer->progress().iteration + 1 < kPoisoned) step(*trainer);
  std::vector<std::vector<float>> before;
  for (const ParameterView& p : trainer->network().parameters()) before.emplace_back(p.value.begin(), p.value.end());
  const IterationReport r = step(*trainer);
  CHECK_FALSE(r.step.applied);
  CHECK(std::isfinite(r.loss));
  CHECK_THAT(r.step.refused, Catch::Matches("gradient norm is (Inf|NaN) at step 30 \\(first non-finite: 'layer1\\.s' element "
                                            "\\[[0-9]+\\] = (-?inf|-?nan)\\); the update was not applied"));
  size_t k = 0;
  for (const ParameterView& p : trainer->network().parameters()) CHECK(std::equal(p.value.begin(), p.value.end(), before[k++].begin()));
  CHECK(trainer->progress().refused_steps == 1);
  CHECK(trainer->progress().optimizer_steps == kPoisoned - 1);
}

TEST_CASE("resume: the same seed gives the same run, another seed another", "[train][resume]") {
  const Corpus corpus = testing::small_corpus();
  auto losses = [&](uint64_t seed) {
    TrainConfig c = testing::small_config();
    c.seed = seed;
    Trainer t(testing::small_model("gru", 6, 1), corpus, c);
    std::vector<double> l;
    for (int i = 0; i < 5; ++i) l.push_back(t.train_step().loss);
    return l;
  };
  CHECK(losses(5) == losses(5));
  CHECK(losses(5) != losses(6));
}

TEST_CASE("resume: results do not depend on the thread count", "[train][resume]") {
  const Corpus corpus = testing::small_corpus();
  auto run = [&](int threads) {
    Trainer t(testing::small_model("lstm", 16, 2), corpus, testing::small_config(), testing::threads(threads));
    std::vector<double> l;
    for (int i = 0; i < 10; ++i) l.push_back(t.train_step().loss);
    l.push_back(t.validate());
    return l;
  };
  CHECK(run(1) == run(2));
}

TEST_CASE("resume: sampling is deterministic for a seed and follows the prime", "[train][sample]") {
  const Corpus corpus = testing::small_corpus();
  Trainer trainer(testing::small_model("lstm", 16, 1), corpus, testing::small_config());
  for (int i = 0; i < 30; ++i) trainer.train_step();
  testing::ScratchDir dir("sample");
  trainer.save(dir.file("m.ckpt"));
  auto a = Sampler::from_checkpoint(dir.file("m.ckpt"));
  Sampler b(trainer.spec(), trainer.vocabulary());
  b.load_parameters(trainer.network());
  SampleOptions o;
  o.prime = "the cat";
  o.length = 80;
  o.seed = 42;
  const std::string text = a->sample(o);
  CHECK(text.rfind("the cat", 0) == 0);
  CHECK(text.size() == 7 + 80);
  CHECK(b.sample(o) == text);
  // Streamed: the prime, then one character per call, the same text.
  std::vector<std::string> pieces;
  a->sample_to(o, [&](std::string_view piece) { pieces.emplace_back(piece); });
  REQUIRE(pieces.size() == 1 + 80);
  CHECK(pieces.front() == "the cat");
  std::string joined;
  for (const std::string& piece : pieces) joined += piece;
  CHECK(joined == text);
  o.seed = 43;
  CHECK(a->sample(o) != text);
  o.temperature = 0;  // greedy: the seed does not matter
  const std::string greedy = a->sample(o);
  o.seed = 44;
  CHECK(a->sample(o) == greedy);
  o.prime = "the cat?";
  CHECK_THROWS_WITH(a->sample(o), Catch::Contains("the priming text has the character '?' (at position 7) that the model's vocabulary lacks"));
}

TEST_CASE("resume: a sampler that loads new parameters after sampling samples from them", "[train][sample]") {
  // The sampler reuses the weights its network packed until load_parameters() changes them.
  const Corpus corpus = testing::small_corpus();
  Trainer trainer(testing::small_model("lstm", 16, 1), corpus, testing::small_config());
  for (int i = 0; i < 5; ++i) trainer.train_step();
  Sampler reused(trainer.spec(), trainer.vocabulary());
  reused.load_parameters(trainer.network());
  SampleOptions o;
  o.prime = "the cat";
  o.length = 60;
  o.temperature = 0;
  const std::string early = reused.sample(o);
  for (int i = 0; i < 25; ++i) trainer.train_step();
  reused.load_parameters(trainer.network());
  Sampler fresh_sampler(trainer.spec(), trainer.vocabulary());
  fresh_sampler.load_parameters(trainer.network());
  const std::string later = fresh_sampler.sample(o);
  CHECK(later != early);
  CHECK(reused.sample(o) == later);
  CHECK(reused.next_distribution("the c") == fresh_sampler.next_distribution("the c"));
}

TEST_CASE("resume: validation after training steps sees the updated parameters", "[train][resume]") {
  // Its batches after the first reuse the weights the first packed; the first must pack the
  // parameters the last update left (the last forward pass before it had those of the step before).
  const Corpus corpus = testing::small_corpus();
  Trainer trainer(testing::small_model("lstm", 16, 2), corpus, testing::small_config());
  for (int i = 0; i < 3; ++i) trainer.train_step();
  const double validated = trainer.validate();
  testing::ScratchDir dir("validate");
  trainer.save(dir.file("m.ckpt"));
  std::unique_ptr<Trainer> loaded = Trainer::resume(dir.file("m.ckpt"), corpus);  // packs from scratch
  CHECK(loaded->validate() == validated);
  trainer.train_step();
  CHECK(trainer.validate() != validated);
}
