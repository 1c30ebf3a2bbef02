// Weight drop in the trainer (ModelSpec::weight_drop, `cellforge train --weight-drop W_hh=0.5`):
// the compiled network drops the weights (tests/differential/test_weight_drop.cpp checks it bit for
// bit against explicitly masked weights). These tests prove that training draws the masks from the
// step's seed alone, on any number of threads; that evaluation, logits and sampling are exactly the
// network without weight drop; and that a checkpoint keeps the rates. Exact resume with weight
// drop is in test_resume.cpp.
#include <catch2/catch.hpp>

#include "runtime/train/init.hpp"
#include "runtime/train/sampler.hpp"
#include "train_support.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

Network make_network(const std::map<std::string, double>& weight_drop) {
  ModelSpec spec = testing::small_model("lstm", 6, 2);
  spec.vocabulary = 7;
  spec.weight_drop = weight_drop;
  Network net(spec, 3, 5, testing::threads(1));
  Rng rng(3);
  initialize(net, rng, {.scale = 0.5, .forget_bias = 1.0});
  return net;
}

}  // namespace

TEST_CASE("weight drop: training follows the seed; evaluation and logits are the plain network's", "[train][weight_drop]") {
  Network dropped = make_network({{"W_hh", 0.5}}), plain = make_network({});
  plain.copy_parameters_from(dropped);
  Rng rng(9);
  std::vector<int32_t> inputs, targets;
  for (int i = 0; i < 15; ++i) {
    inputs.push_back(static_cast<int32_t>(rng.next() % 7));
    targets.push_back(static_cast<int32_t>(rng.next() % 7));
  }
  const States initial = dropped.zero_states();
  auto train = [&](Network& net, uint64_t seed) {
    States s = initial;
    const double loss = net.train_batch(inputs, targets, s, seed);
    std::vector<float> grads;
    for (const ParameterView& p : net.parameters()) grads.insert(grads.end(), p.grad.begin(), p.grad.end());
    return std::pair{loss, grads};
  };
  auto evaluate = [&](Network& net, bool unchanged) {
    States s = initial;
    return std::pair{net.evaluate_batch(inputs, targets, s, unchanged), s};
  };
  const auto first = train(dropped, 1);
  CHECK(train(dropped, 1) == first);  // bitwise
  CHECK(train(dropped, 2).first != first.first);
  CHECK(train(plain, 1).first != first.first);
  // Evaluation right after a training step (even claiming unchanged parameters) is the plain network's.
  CHECK(evaluate(dropped, true) == evaluate(plain, false));
  States s1 = initial, s2 = initial;
  const std::span<const float> l1 = dropped.forward_logits(inputs, s1), l2 = plain.forward_logits(inputs, s2);
  CHECK(std::vector<float>(l1.begin(), l1.end()) == std::vector<float>(l2.begin(), l2.end()));
}

TEST_CASE("weight drop: training does not depend on the thread count; a checkpoint keeps it", "[train][weight_drop]") {
  auto run = [&](int threads) {
    ModelSpec spec = testing::small_model("gru", 16, 2);
    spec.weight_drop = {{"W_hh", 0.5}, {"b_ih", 0.1}};
    Trainer t(spec, testing::small_corpus(), testing::small_config(), testing::threads(threads));
    std::vector<double> l;
    for (int i = 0; i < 8; ++i) l.push_back(t.train_step().loss);
    l.push_back(t.validate());
    testing::ScratchDir dir("weight-drop-" + std::to_string(threads));
    t.save(dir.file("w.ckpt"));
    CHECK(load_checkpoint(dir.file("w.ckpt")).model.weight_drop == spec.weight_drop);
    // Sampling from the checkpoint is the model without weight drop.
    auto from_file = Sampler::from_checkpoint(dir.file("w.ckpt"), testing::threads(1));
    ModelSpec without = t.spec();
    without.weight_drop.clear();
    Sampler plain(without, t.vocabulary(), testing::threads(1));
    plain.load_parameters(t.network());
    CHECK(from_file->next_distribution("the cat") == plain.next_distribution("the cat"));
    return l;
  };
  const std::vector<double> one = run(1);
  CHECK(run(2) == one);
  CHECK(run(3) == one);
}

TEST_CASE("weight drop: a rate of 1 or a parameter the cell lacks is refused, naming the fix", "[train][weight_drop][errors]") {
  ModelSpec spec = testing::small_model("gru", 4, 1);
  spec.vocabulary = 5;
  spec.weight_drop = {{"W_hh", 1.0}};
  CHECK_THROWS_WITH(spec.check(), "weight drop of parameter 'W_hh' must be a probability in [0, 1), got 1; pass "
                                  "--weight-drop W_hh=P");
  spec.weight_drop = {{"U", 0.5}};
  CHECK_THROWS_WITH(spec.check(), "weight drop names parameter 'U', but cell 'gru' has the parameters W_ih, b_ih, W_hh, "
                                  "b_hh; pass --weight-drop NAME=P for one of them (W_hh for AWD-LSTM's recurrent weight "
                                  "drop)");
}
