// Zoneout in the trainer (ModelSpec::zoneout, `cellforge train --zoneout`): the compiled cells
// zone out the named states (tests/differential/test_zoneout.cpp checks them against the reference
// network). These tests prove that training draws the masks from the step's seed alone, on any
// number of threads; that evaluation, logits and sampling blend by the rates (not the network
// without zoneout); and that a checkpoint keeps the rates. Exact resume with zoneout is in
// test_resume.cpp.
#include <catch2/catch.hpp>

#include "runtime/train/init.hpp"
#include "runtime/train/sampler.hpp"
#include "train_support.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

Network make_network(const std::map<std::string, double>& zoneout, int threads = 1) {
  ModelSpec spec = testing::small_model("lstm", 6, 2);
  spec.vocabulary = 7;
  spec.zoneout = zoneout;
  Network net(spec, 3, 5, testing::threads(threads));
  Rng rng(3);
  initialize(net, rng, {.scale = 0.5, .forget_bias = 1.0});
  return net;
}

struct Data {
  std::vector<int32_t> inputs, targets;
  States initial;
};

Data random_batch(const Network& net) {
  Rng rng(9);
  Data b;
  for (int64_t i = 0; i < net.unroll() * net.batch(); ++i) {
    b.inputs.push_back(static_cast<int32_t>(rng.next() % 7));
    b.targets.push_back(static_cast<int32_t>(rng.next() % 7));
  }
  b.initial = net.zero_states();
  for (auto& s : b.initial)
    for (float& v : s) v = static_cast<float>(rng.uniform(-0.5, 0.5));
  return b;
}

}  // namespace

TEST_CASE("zoneout: training follows the seed; evaluation blends by the rate, unlike the plain network", "[train][zoneout]") {
  Network zoned = make_network({{"c", 0.5}, {"h", 0.1}}), plain = make_network({});
  plain.copy_parameters_from(zoned);
  const Data b = random_batch(zoned);
  auto train = [&](Network& net, uint64_t seed) {
    States s = b.initial;
    const double loss = net.train_batch(b.inputs, b.targets, s, seed);
    std::vector<float> grads;
    for (const ParameterView& p : net.parameters()) grads.insert(grads.end(), p.grad.begin(), p.grad.end());
    return std::pair{loss, grads};
  };
  auto evaluate = [&](Network& net) {
    States s = b.initial;
    return std::pair{net.evaluate_batch(b.inputs, b.targets, s), s};
  };
  const auto first = train(zoned, 1), again = train(zoned, 1), other = train(zoned, 2);
  CHECK(first == again);  // bitwise: loss and every gradient
  CHECK(first.first != other.first);
  CHECK(first.second != other.second);
  CHECK(first.first != train(plain, 1).first);
  const auto e1 = evaluate(zoned), e2 = evaluate(zoned), e_plain = evaluate(plain);
  CHECK(e1 == e2);                   // evaluation draws nothing
  CHECK(e1.first != e_plain.first);  // it blends by the rates
  CHECK(e1.second != e_plain.second);
  // A training call between two evaluations leaves no mask behind.
  train(zoned, 5);
  CHECK(evaluate(zoned) == e1);
}

TEST_CASE("zoneout: training does not depend on the thread count", "[train][zoneout]") {
  auto run = [&](int threads) {
    ModelSpec spec = testing::small_model("lstm", 16, 2);
    spec.zoneout = {{"c", 0.5}, {"h", 0.05}};
    spec.dropout = 0.2;
    Trainer t(spec, testing::small_corpus(), testing::small_config(), testing::threads(threads));
    std::vector<double> l;
    for (int i = 0; i < 8; ++i) l.push_back(t.train_step().loss);
    l.push_back(t.validate());
    return l;
  };
  const std::vector<double> one = run(1);
  CHECK(run(2) == one);
  CHECK(run(3) == one);
}

TEST_CASE("zoneout: a checkpoint keeps the rates, and sampling from it blends by them", "[train][zoneout][sample]") {
  const Corpus corpus = testing::small_corpus();
  ModelSpec spec = testing::small_model("gru", 12, 2);
  spec.zoneout = {{"h", 0.15}};
  Trainer trainer(spec, corpus, testing::small_config(), testing::threads(1));
  for (int i = 0; i < 20; ++i) trainer.train_step();
  testing::ScratchDir dir("zoneout-sample");
  trainer.save(dir.file("z.ckpt"));
  CHECK(load_checkpoint(dir.file("z.ckpt")).model.zoneout == spec.zoneout);
  auto from_file = Sampler::from_checkpoint(dir.file("z.ckpt"), testing::threads(1));
  Sampler same(trainer.spec(), trainer.vocabulary(), testing::threads(1));
  same.load_parameters(trainer.network());
  ModelSpec without = trainer.spec();
  without.zoneout.clear();
  Sampler plain(without, trainer.vocabulary(), testing::threads(1));
  plain.load_parameters(trainer.network());
  CHECK(from_file->next_distribution("the cat") == same.next_distribution("the cat"));
  CHECK(from_file->next_distribution("the cat") != plain.next_distribution("the cat"));
}

TEST_CASE("zoneout: a rate of 1 or a state the cell lacks is refused, naming the fix", "[train][zoneout][errors]") {
  ModelSpec spec = testing::small_model("gru", 4, 1);
  spec.vocabulary = 5;
  spec.zoneout = {{"h", 1.0}};
  CHECK_THROWS_WITH(spec.check(), "zoneout of state 'h' must be a probability in [0, 1), got 1; pass --zoneout h=Z");
  spec.zoneout = {{"c", 0.5}};
  CHECK_THROWS_WITH(spec.check(), "zoneout names state 'c', but cell 'gru' has the states h; pass --zoneout NAME=Z for one "
                                  "of them");
}
