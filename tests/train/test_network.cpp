// The language-model network around the compiled cells: the loss gradient of the whole chain
// (encoding, cells, head, softmax cross-entropy) against finite differences, for one-hot and
// embedding input and for the every-step and last-step losses; a many-to-one task that needs
// memory; the parameter list worked out without compiling; and the forget-gate search.
#include <catch2/catch.hpp>

#include <cmath>

#include "runtime/train/init.hpp"
#include "train_support.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

struct Case {
  const char* cell;
  InputEncoding encoding;
  LossMode loss;
};

}  // namespace

TEST_CASE("network: the gradient of the loss matches central differences", "[train][network]") {
  const Case c = GENERATE(Case{"lstm", InputEncoding::one_hot, LossMode::every_step},
                          Case{"gru", InputEncoding::embedding, LossMode::every_step},
                          Case{"rnn", InputEncoding::one_hot, LossMode::last_step},
                          Case{"lstm", InputEncoding::embedding, LossMode::last_step});
  INFO(c.cell << " " << encoding_name(c.encoding) << " " << loss_mode_name(c.loss));
  ModelSpec spec = testing::small_model(c.cell, 5, 2);
  spec.vocabulary = 6;
  spec.encoding = c.encoding;
  spec.embedding = 4;
  spec.loss = c.loss;
  const int64_t B = 3, T = 4;
  Network net(spec, B, T, testing::threads(1));
  Rng rng(11);
  initialize(net, rng, {.scale = 0.5, .forget_bias = 1.0});
  std::vector<int32_t> inputs, targets;
  for (int64_t i = 0; i < T * B; ++i) inputs.push_back(static_cast<int32_t>(rng.next() % 6));
  for (int64_t i = 0; i < (c.loss == LossMode::every_step ? T * B : B); ++i) targets.push_back(static_cast<int32_t>(rng.next() % 6));
  States initial = net.zero_states();
  for (auto& s : initial)
    for (float& v : s) v = static_cast<float>(rng.uniform(-0.5, 0.5));
  States states = initial;
  net.train_batch(inputs, targets, states);
  std::vector<std::vector<float>> analytic;
  for (const ParameterView& p : net.parameters()) analytic.emplace_back(p.grad.begin(), p.grad.end());
  auto loss = [&] {
    States s = initial;
    return net.evaluate_batch(inputs, targets, s);
  };
  CHECK(testing::check_central_differences(net, analytic, loss, 7) > 40);
}

TEST_CASE("network: many-to-one learns to recall the first token of a sequence", "[train][network]") {
  ModelSpec spec = testing::small_model("lstm", 16, 1);
  spec.vocabulary = 4;
  spec.loss = LossMode::last_step;
  const int64_t B = 32, T = 6;
  Network net(spec, B, T, testing::threads(1));
  Rng rng(3);
  initialize(net, rng);
  std::vector<ParameterView> params = net.parameters();
  OptimizerConfig oc;
  oc.kind = OptimizerKind::adam;
  oc.learning_rate = 0.02;
  Optimizer optimizer(oc, params);
  auto batch = [&](std::vector<int32_t>& inputs, std::vector<int32_t>& labels) {
    inputs.assign(static_cast<size_t>(T * B), 0);
    labels.assign(static_cast<size_t>(B), 0);
    for (auto& v : inputs) v = static_cast<int32_t>(rng.next() % 4);
    for (int64_t b = 0; b < B; ++b) labels[static_cast<size_t>(b)] = inputs[static_cast<size_t>(b)];  // step 0, row b
  };
  std::vector<int32_t> inputs, labels;
  double loss = 0;
  for (int i = 0; i < 300; ++i) {
    batch(inputs, labels);
    States s = net.zero_states();
    loss = net.train_batch(inputs, labels, s);
    optimizer.step(params, oc.learning_rate, {}, i + 1);
  }
  INFO("final training loss " << loss);
  batch(inputs, labels);
  States s = net.zero_states();
  std::span<const float> logits = net.forward_logits(inputs, s);
  REQUIRE(logits.size() == static_cast<size_t>(B * 4));
  int correct = 0;
  for (int64_t b = 0; b < B; ++b) {
    const float* z = &logits[static_cast<size_t>(b * 4)];
    correct += std::max_element(z, z + 4) - z == labels[static_cast<size_t>(b)];
  }
  CHECK(correct >= B * 9 / 10);  // chance is 1/4
}

TEST_CASE("network: parameter_shapes() is what the compiled network has", "[train][network]") {
  for (const zoo::ZooCell& cell : zoo::cells()) {
    INFO(cell.name);
    ModelSpec spec = testing::small_model(cell.name, 5, 2);
    spec.vocabulary = 7;
    spec.encoding = InputEncoding::embedding;
    spec.embedding = 3;
    for (const std::string& size : spec.cell.dim_names())
      if (size != "X" && size != "H") spec.extra[size] = 4;
    Network net(spec, 2, 3, testing::threads(1));
    const std::vector<ParameterShape> shapes = parameter_shapes(spec);
    const std::vector<ParameterView> views = net.parameters();
    REQUIRE(shapes.size() == views.size());
    for (size_t k = 0; k < shapes.size(); ++k) {
      CHECK(shapes[k].name == views[k].name);
      CHECK(shapes[k].shape == views[k].shape());
    }
    int64_t n = 0;
    for (const ParameterView& v : views) n += static_cast<int64_t>(v.value.size());
    CHECK(n == net.parameter_count());
    const auto states = state_sizes(spec, 2);
    const States zero = net.zero_states();
    REQUIRE(states.size() == zero.size());
    for (size_t k = 0; k < zero.size(); ++k) CHECK(states[k].second == static_cast<int64_t>(zero[k].size()));
  }
}

TEST_CASE("network: the forget-gate bias is found in the graph, not by the cell's name", "[train][init]") {
  ModelSpec lstm = testing::small_model("lstm", 6, 2);
  lstm.vocabulary = 5;
  const std::vector<ForgetBias> found = find_forget_biases(lstm);
  REQUIRE(found.size() == 2);
  CHECK(found[0].parameter == "layer0.b_ih");
  CHECK(found[0].begin == 6);
  CHECK(found[0].end == 12);
  CHECK(found[1].parameter == "layer1.b_ih");
  for (const char* cell : {"rnn", "gru", "gru_classic"}) {
    ModelSpec spec = testing::small_model(cell, 6, 1);
    spec.vocabulary = 5;
    CHECK(find_forget_biases(spec).empty());
  }
  // A cell of its own whose gate is labelled "forget" and has one bias per gate.
  ModelSpec custom;
  custom.cell = ir::parse(R"(cell leaky {
  input %x : [X]
  state %h : [H]
  param %W : [H, X]
  param %b_f : [H]
  param %U : [H, H]
  %0 = matmul %W, %x : [H]
  %1 = add %0, %b_f : [H]
  %forget = sigmoid %1 : [H]
  %2 = matmul %U, %h : [H]
  %3 = tanh %2 : [H]
  %4 = mul %forget, %3 : [H]
  next h = %4
  output y = %4
}
)");
  custom.hidden = 4;
  custom.vocabulary = 3;
  const std::vector<ForgetBias> leaky = find_forget_biases(custom);
  REQUIRE(leaky.size() == 1);
  CHECK(leaky[0].parameter == "layer0.b_f");
  CHECK(leaky[0].begin == 0);
  CHECK(leaky[0].end == 4);
  // Initialization: everything uniform in [-0.08, 0.08] except the forget rows.
  Network net(lstm, 2, 2, testing::threads(1));
  Rng rng(1);
  initialize(net, rng);
  for (const ParameterView& p : net.parameters())
    for (size_t i = 0; i < p.value.size(); ++i) {
      const bool forget = p.name.ends_with(".b_ih") && i >= 6 && i < 12;
      if (forget) CHECK(p.value[i] == 1.0f);
      else CHECK(std::fabs(p.value[i]) <= 0.08f);
    }
}
