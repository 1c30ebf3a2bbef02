// Dropout in the trainer (ModelSpec::dropout, `cellforge train --dropout P`): the compiled cells
// drop the inputs of the layers above the first, Network drops the head's input itself. These tests
// prove that dropout 0 changes nothing, that only training drops (validation, sampling and
// forward_logits see the whole network, unscaled), that the masks follow the seed alone, and that
// the gradient through the head's mask is right. The cells' masks are checked against the reference
// interpreter by tests/differential; exact resume with dropout is in test_resume.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "runtime/train/init.hpp"
#include "runtime/train/sampler.hpp"
#include "train_support.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

struct Case {
  const char* cell;
  int64_t layers;
  InputEncoding encoding;
  LossMode loss;
};

// A network of `c` with dropout `p`, parameters initialized from a fixed seed.
Network make_network(const Case& c, double p, int64_t batch, int64_t unroll) {
  ModelSpec spec = testing::small_model(c.cell, 5, c.layers);
  spec.vocabulary = 6;
  spec.encoding = c.encoding;
  spec.embedding = 4;
  spec.loss = c.loss;
  spec.dropout = p;
  Network net(spec, batch, unroll, testing::threads(1));
  Rng rng(11);
  initialize(net, rng, {.scale = 0.5, .forget_bias = 1.0});
  return net;
}

struct Data {
  std::vector<int32_t> inputs, targets;
  States initial;
};

Data random_batch(const Network& net, uint64_t seed) {
  Rng rng(seed);
  Data d;
  const int64_t V = net.spec().vocabulary, T = net.unroll(), B = net.batch();
  for (int64_t i = 0; i < T * B; ++i) d.inputs.push_back(static_cast<int32_t>(rng.next() % V));
  for (int64_t i = 0; i < (net.spec().loss == LossMode::every_step ? T * B : B); ++i)
    d.targets.push_back(static_cast<int32_t>(rng.next() % V));
  d.initial = net.zero_states();
  for (auto& s : d.initial)
    for (float& v : s) v = static_cast<float>(rng.uniform(-0.5, 0.5));
  return d;
}

std::vector<std::vector<float>> gradients(Network& net) {
  std::vector<std::vector<float>> g;
  for (const ParameterView& p : net.parameters()) g.emplace_back(p.grad.begin(), p.grad.end());
  return g;
}

struct Result {
  double loss;
  std::vector<std::vector<float>> grads;
  States final;
};

Result train_once(Network& net, const Data& d, uint64_t seed) {
  States s = d.initial;
  const double loss = net.train_batch(d.inputs, d.targets, s, seed);
  return {loss, gradients(net), s};
}

}  // namespace

TEST_CASE("dropout: 0 ignores the seed, and training sees the network validation sees", "[train][dropout]") {
  Network net = make_network({"lstm", 2, InputEncoding::one_hot, LossMode::every_step}, 0.0, 3, 4);
  const Data d = random_batch(net, 5);
  const Result a = train_once(net, d, 1), b = train_once(net, d, 2);
  CHECK(a.loss == b.loss);  // bitwise
  CHECK(a.grads == b.grads);
  CHECK(a.final == b.final);
  States s = d.initial;
  CHECK(net.evaluate_batch(d.inputs, d.targets, s) == a.loss);
  CHECK(s == a.final);
}

TEST_CASE("dropout: only training drops; evaluation, logits and sampling run the whole network", "[train][dropout]") {
  const Case c = GENERATE(Case{"lstm", 2, InputEncoding::one_hot, LossMode::every_step},
                          Case{"gru", 1, InputEncoding::embedding, LossMode::last_step},
                          Case{"rnn", 3, InputEncoding::one_hot, LossMode::last_step});
  INFO(c.cell << " x" << c.layers << " " << encoding_name(c.encoding) << " " << loss_mode_name(c.loss));
  Network dropped = make_network(c, 0.5, 3, 4), plain = make_network(c, 0.0, 3, 4);
  plain.copy_parameters_from(dropped);
  const Data d = random_batch(plain, 5);

  // Evaluation: the same numbers as the network compiled without dropout, bit for bit.
  States s1 = d.initial, s2 = d.initial;
  CHECK(dropped.evaluate_batch(d.inputs, d.targets, s1) == plain.evaluate_batch(d.inputs, d.targets, s2));
  CHECK(s1 == s2);
  s1 = d.initial, s2 = d.initial;
  const std::span<const float> l1 = dropped.forward_logits(d.inputs, s1), l2 = plain.forward_logits(d.inputs, s2);
  CHECK(std::vector<float>(l1.begin(), l1.end()) == std::vector<float>(l2.begin(), l2.end()));

  // Training: masks that depend on the seed alone.
  const Result with = train_once(dropped, d, 7), again = train_once(dropped, d, 7), other = train_once(dropped, d, 8), without = train_once(plain, d, 7);
  CHECK(with.loss == again.loss);
  CHECK(with.grads == again.grads);
  CHECK(with.loss != without.loss);
  CHECK(with.loss != other.loss);
  CHECK(with.grads != other.grads);
  // Dropout changes no state of a single layer: the cell's own input is never dropped.
  if (c.layers == 1) CHECK(with.final == without.final);
  else CHECK(with.final != without.final);

  // A training call between two evaluations leaves no mask behind.
  s1 = d.initial, s2 = d.initial;
  CHECK(dropped.evaluate_batch(d.inputs, d.targets, s1) == plain.evaluate_batch(d.inputs, d.targets, s2));
}

TEST_CASE("dropout: the gradient with the masks matches central differences", "[train][dropout]") {
  // One layer: the head's input is the only thing dropped, by Network's own C++ loop. Two and three
  // layers: the compiled cells' masks as well, and the gradient through both.
  const Case c = GENERATE(Case{"lstm", 1, InputEncoding::one_hot, LossMode::every_step},
                          Case{"gru", 1, InputEncoding::embedding, LossMode::last_step},
                          Case{"lstm", 2, InputEncoding::embedding, LossMode::every_step},
                          Case{"rnn", 3, InputEncoding::one_hot, LossMode::last_step});
  INFO(c.cell << " x" << c.layers << " " << encoding_name(c.encoding) << " " << loss_mode_name(c.loss));
  Network net = make_network(c, 0.4, 3, 4);
  const Data d = random_batch(net, 9);
  constexpr uint64_t kSeed = 1234;
  const Result analytic = train_once(net, d, kSeed);
  States s = d.initial;
  REQUIRE(analytic.loss != net.evaluate_batch(d.inputs, d.targets, s));  // the masks are in play
  // The loss under the same masks: train_batch with the same seed (it overwrites the gradients,
  // which were copied above).
  auto loss = [&] {
    States st = d.initial;
    return net.train_batch(d.inputs, d.targets, st, kSeed);
  };
  CHECK(testing::check_central_differences(net, analytic.grads, loss, 10) > 40);
}

TEST_CASE("dropout: the head's mask is the documented one: about p dropped, the rest scaled by 1/(1-p)", "[train][dropout]") {
  // One layer (only the head drops), one step of one sequence, and head.W = 0: the logits are b
  // whatever the mask, so dlogits is the same with and without dropout, and the head's weight
  // gradient dW[v][j] = dlogits[v] * y[j] * mask[j] shows each mask element on its own.
  const double p = 0.3;
  const int64_t Y = 400;
  ModelSpec spec = testing::small_model("rnn", Y, 1);
  spec.vocabulary = 3;
  Network plain(spec, 1, 1, testing::threads(1));
  spec.dropout = p;
  Network dropped(spec, 1, 1, testing::threads(1));
  Rng rng(4);
  initialize(plain, rng, {.scale = 0.5, .forget_bias = 1.0});
  for (float& w : testing::parameter(plain, "head.W").value) w = 0;
  dropped.copy_parameters_from(plain);
  const std::vector<int32_t> input{1}, target{2};
  constexpr uint64_t kSeed = 99;
  for (Network* net : {&plain, &dropped}) {
    States s = net->zero_states();
    net->train_batch(input, target, s, kSeed);
  }
  const ParameterView dw = testing::parameter(dropped, "head.W"), dw_plain = testing::parameter(plain, "head.W");
  const float keep = static_cast<float>(1 / (1 - p));
  int64_t zeros = 0;
  for (int64_t j = 0; j < Y; ++j) {
    // codegen/jit/dropout_mask.hpp: element j of stream L = 1 (the head) is dropped when half j % 2
    // (the high half first) of the (j / 2)-th SplitMix64 output from key, over 2^32, is below p.
    const uint64_t key = hash64(hash64(kSeed) ^ hash64(uint64_t{1} << 40));
    const uint64_t bits = hash64(key + static_cast<uint64_t>(j / 2) * 0x9E3779B97F4A7C15ull);
    const uint64_t half = j % 2 == 0 ? bits >> 32 : bits & 0xFFFFFFFFull;
    const bool drop = static_cast<double>(half) * 0x1.0p-32 < p;
    zeros += drop;
    for (int64_t v = 0; v < 3; ++v) {
      const float got = dw.grad[static_cast<size_t>(v * Y + j)], plain_grad = dw_plain.grad[static_cast<size_t>(v * Y + j)];
      INFO("element " << j << ", logit " << v << ": " << got << " with dropout, " << plain_grad << " without");
      REQUIRE(plain_grad != 0);
      if (drop) CHECK(got == 0);
      else CHECK(std::fabs(got - plain_grad * keep) <= 1e-6f * std::fabs(plain_grad * keep));
    }
  }
  INFO(zeros << " of " << Y << " dropped");
  CHECK(zeros > Y * p - 40);  // binomial(400, 0.3): mean 120, standard deviation 9.2
  CHECK(zeros < Y * p + 40);
  // The bias gradient does not see the mask.
  const ParameterView db = testing::parameter(dropped, "head.b"), db_plain = testing::parameter(plain, "head.b");
  CHECK(std::vector<float>(db.grad.begin(), db.grad.end()) == std::vector<float>(db_plain.grad.begin(), db_plain.grad.end()));
}

TEST_CASE("dropout per sequence: the head keeps one mask for all the steps of a sequence", "[train][dropout]") {
  // As above with 4 steps of one sequence: with one mask for all steps every column of head.W's
  // gradient is either 0 (dropped) or 1/(1-p) times the plain one; a mask per step would mix them.
  const double p = 0.3;
  const int64_t Y = 200, T = 4;
  ModelSpec spec = testing::small_model("rnn", Y, 1);
  spec.vocabulary = 3;
  Network plain(spec, 1, T, testing::threads(1));
  spec.dropout = p;
  spec.dropout_per_sequence = true;
  Network dropped(spec, 1, T, testing::threads(2));  // and two threads
  Rng rng(4);
  initialize(plain, rng, {.scale = 0.5, .forget_bias = 1.0});
  for (float& w : testing::parameter(plain, "head.W").value) w = 0;
  dropped.copy_parameters_from(plain);
  const std::vector<int32_t> input{1, 0, 2, 1}, target{2, 1, 0, 0};
  for (Network* net : {&plain, &dropped}) {
    States s = net->zero_states();
    net->train_batch(input, target, s, 17);
  }
  const ParameterView dw = testing::parameter(dropped, "head.W"), dw_plain = testing::parameter(plain, "head.W");
  const float keep = static_cast<float>(1 / (1 - p));
  int64_t zeros = 0;
  for (int64_t j = 0; j < Y; ++j) {
    const bool dropped_column = dw.grad[static_cast<size_t>(j)] == 0;
    zeros += dropped_column;
    for (int64_t v = 0; v < 3; ++v) {
      const float got = dw.grad[static_cast<size_t>(v * Y + j)], plain_grad = dw_plain.grad[static_cast<size_t>(v * Y + j)];
      INFO("element " << j << ", logit " << v << ": " << got << " with dropout, " << plain_grad << " without");
      if (dropped_column) CHECK(got == 0);
      else CHECK(std::fabs(got - plain_grad * keep) <= 1e-5f * std::fabs(plain_grad * keep) + 1e-7f);
    }
  }
  CHECK(zeros > Y * p - 30);  // binomial(200, 0.3): mean 60, standard deviation 6.5
  CHECK(zeros < Y * p + 30);
}

TEST_CASE("dropout: the seed of a training step depends on the run's seed and the iteration alone", "[train][dropout]") {
  CHECK(dropout_seed(123, 1) == dropout_seed(123, 1));
  CHECK(dropout_seed(123, 1) != dropout_seed(123, 2));
  CHECK(dropout_seed(123, 1) != dropout_seed(124, 1));

  // Two runs, one with dropout: the same initialization and the same validation loss before
  // training (validation does not drop), different training losses.
  const Corpus corpus = testing::small_corpus();
  ModelSpec spec = testing::small_model("lstm", 8, 2);
  Trainer plain(spec, corpus, testing::small_config(), testing::threads(1));
  spec.dropout = 0.25;
  Trainer dropped(spec, corpus, testing::small_config(), testing::threads(1));
  std::vector<ParameterView> a = plain.network().parameters(), b = dropped.network().parameters();
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) CHECK(std::equal(a[k].value.begin(), a[k].value.end(), b[k].value.begin()));
  CHECK(plain.validate() == dropped.validate());
  CHECK(plain.train_step().loss != dropped.train_step().loss);
}

TEST_CASE("dropout: results do not depend on the thread count", "[train][dropout]") {
  const Corpus corpus = testing::small_corpus();
  auto run = [&](int threads) {
    ModelSpec spec = testing::small_model("lstm", 16, 3);
    spec.dropout = 0.3;
    Trainer t(spec, corpus, testing::small_config(), testing::threads(threads));
    std::vector<double> l;
    for (int i = 0; i < 10; ++i) l.push_back(t.train_step().loss);
    l.push_back(t.validate());
    return l;
  };
  const std::vector<double> one = run(1);
  CHECK(run(2) == one);
  CHECK(run(3) == one);  // more threads than cores; the loss rows and mask pairs split three ways
}

TEST_CASE("dropout: a checkpoint keeps it, and sampling from it runs without", "[train][dropout][sample]") {
  const bool per_sequence = GENERATE(false, true);
  INFO("one mask per " << (per_sequence ? "sequence" : "step"));
  const Corpus corpus = testing::small_corpus();
  ModelSpec spec = testing::small_model("gru", 12, 2);
  spec.dropout = 0.5;
  spec.dropout_per_sequence = per_sequence;
  Trainer trainer(spec, corpus, testing::small_config(), testing::threads(1));
  for (int i = 0; i < 20; ++i) trainer.train_step();
  testing::ScratchDir dir("dropout-sample");
  trainer.save(dir.file("d.ckpt"));
  CHECK(load_checkpoint(dir.file("d.ckpt")).model.dropout == 0.5);
  CHECK(load_checkpoint(dir.file("d.ckpt")).model.dropout_per_sequence == per_sequence);
  auto from_file = Sampler::from_checkpoint(dir.file("d.ckpt"), testing::threads(1));
  ModelSpec without = trainer.spec();
  without.dropout = 0;
  without.dropout_per_sequence = false;
  Sampler reference(without, trainer.vocabulary(), testing::threads(1));
  reference.load_parameters(trainer.network());
  CHECK(from_file->next_distribution("the cat") == reference.next_distribution("the cat"));
  SampleOptions o;
  o.prime = "the ";
  o.length = 40;
  CHECK(from_file->sample(o) == reference.sample(o));
}
