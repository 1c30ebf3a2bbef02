// The optimizers, the learning-rate schedule and gradient clipping against their formulas worked
// by hand (PyTorch 1.13's and char-rnn's definitions), one parameter at a time.
#include <catch2/catch.hpp>

#include <cmath>

#include "runtime/train/optimizer.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

// One 2x2 parameter "layer0.W_hh" and one vector "head.b", with storage.
struct Params {
  std::vector<float> w{0.5f, -0.25f, 1.0f, 2.0f}, gw{0.1f, -0.2f, 0.3f, -0.4f};
  std::vector<float> b{0.0f, 1.0f}, gb{1.0f, -3.0f};
  std::vector<ParameterView> views() { return {{"layer0.W_hh", 2, 2, w, gw}, {"head.b", 2, 0, b, gb}}; }
};

}  // namespace

TEST_CASE("optimizer: SGD with and without momentum", "[unit][optimizer]") {
  Params p;
  auto views = p.views();
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  c.learning_rate = 0.1;
  Optimizer plain(c, views);
  plain.step(views, 0.1, {}, 1);
  CHECK(p.w[0] == Approx(0.5 - 0.1 * 0.1));
  CHECK(p.b[1] == Approx(1.0 + 0.1 * 3.0));
  CHECK(plain.slots().empty());

  Params q;
  auto qv = q.views();
  c.momentum = 0.9;
  Optimizer momentum(c, qv);
  momentum.step(qv, 0.1, {}, 1);  // buf = g
  CHECK(q.w[1] == Approx(-0.25 + 0.1 * 0.2));
  momentum.step(qv, 0.1, {}, 2);  // buf = 0.9 g + g
  CHECK(q.w[1] == Approx(-0.25 + 0.1 * 0.2 + 0.1 * 1.9 * 0.2));
  REQUIRE(momentum.slots().size() == 2);
  CHECK(momentum.slots()[0].name == "layer0.W_hh.momentum");
  CHECK(momentum.slots()[0].values[1] == Approx(-0.2 * 1.9));

  Params n;
  auto nv = n.views();
  c.nesterov = true;
  Optimizer nesterov(c, nv);
  nesterov.step(nv, 0.1, {}, 1);  // buf = g; step g + 0.9 buf
  CHECK(n.w[0] == Approx(0.5 - 0.1 * (0.1 + 0.9 * 0.1)));
}

TEST_CASE("optimizer: RMSprop is char-rnn's optim.rmsprop and torch.optim.RMSprop", "[unit][optimizer]") {
  Params p;
  auto views = p.views();
  OptimizerConfig c;  // rmsprop, lr 2e-3, alpha 0.95, eps 1e-8
  Optimizer o(c, views);
  double s = 0, w = 0.5;
  for (int t = 1; t <= 3; ++t) {
    o.step(views, 2e-3, {}, t);
    s = 0.95 * s + 0.05 * 0.1 * 0.1;
    w -= 2e-3 * 0.1 / (std::sqrt(s) + 1e-8);
    CHECK(p.w[0] == Approx(w).epsilon(1e-6));
  }
  CHECK(o.slots()[0].name == "layer0.W_hh.square_avg");
  CHECK(o.slots()[0].values[0] == Approx(s).epsilon(1e-6));
  CHECK(o.steps() == 3);
}

TEST_CASE("optimizer: Adam with bias correction", "[unit][optimizer]") {
  Params p;
  auto views = p.views();
  OptimizerConfig c;
  c.kind = OptimizerKind::adam;
  c.learning_rate = 0.01;
  c.weight_decay = 0.1;
  Optimizer o(c, views);
  double m = 0, v = 0, w = -0.25;
  for (int t = 1; t <= 4; ++t) {
    o.step(views, 0.01, {}, t);
    const double g = -0.2 + 0.1 * w;  // weight decay adds wd * w to the gradient
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    w -= (0.01 / (1 - std::pow(0.9, t))) * m / (std::sqrt(v) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
    CHECK(p.w[1] == Approx(w).epsilon(1e-5));
  }
  REQUIRE(o.slots().size() == 4);
  CHECK(o.slots()[1].name == "layer0.W_hh.v");
}

TEST_CASE("optimizer: the learning-rate schedule", "[unit][optimizer]") {
  LearningRateSchedule s;
  CHECK(s.at(0.1, 1000) == 0.1);
  s.decay = 0.5;
  s.every = 10;
  s.after = 20;
  CHECK(s.at(0.1, 0) == 0.1);
  CHECK(s.at(0.1, 29) == 0.1);
  CHECK(s.at(0.1, 30) == Approx(0.05));
  CHECK(s.at(0.1, 45) == Approx(0.025));
}

TEST_CASE("clipping: by value clamps every element and counts them", "[unit][clip]") {
  Params p;
  auto views = p.views();
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  Optimizer o(c, views);
  const StepReport r = o.step(views, 0.0, {0.25, 0.0}, 1);
  CHECK(r.clipped);
  CHECK(r.clipped_elements == 4);  // 0.3, -0.4, 1.0, -3.0
  CHECK(p.gw == std::vector<float>{0.1f, -0.2f, 0.25f, -0.25f});
  CHECK(p.gb == std::vector<float>{0.25f, -0.25f});
  CHECK(r.grad_norm == Approx(std::sqrt(0.01 + 0.04 + 0.09 + 0.16 + 1 + 9)));  // the norm before clipping
}

TEST_CASE("clipping: by global norm scales to max_norm, and below it changes nothing", "[unit][clip]") {
  Params p;
  auto views = p.views();
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  Optimizer o(c, views);
  const double norm = std::sqrt(0.01 + 0.04 + 0.09 + 0.16 + 1 + 9);
  StepReport r = o.step(views, 0.0, {0.0, 1.0}, 1);
  CHECK(r.clipped);
  double after = 0;
  for (float g : p.gw) after += g * g;
  for (float g : p.gb) after += g * g;
  CHECK(std::sqrt(after) <= 1.0 * (1 + 1e-6));
  CHECK(std::sqrt(after) == Approx(1.0).epsilon(1e-5));
  CHECK(p.gb[1] == Approx(-3.0 / norm).epsilon(1e-5));

  Params q;
  auto qv = q.views();
  const std::vector<float> gw = q.gw, gb = q.gb;
  r = o.step(qv, 0.0, {0.0, 100.0}, 2);
  CHECK_FALSE(r.clipped);
  CHECK(q.gw == gw);  // bitwise identical
  CHECK(q.gb == gb);
}

TEST_CASE("optimizer: a non-finite gradient refuses the update, naming parameter, element and step", "[unit][optimizer]") {
  Params p;
  auto views = p.views();
  OptimizerConfig c;
  c.kind = OptimizerKind::adam;
  Optimizer o(c, views);
  o.step(views, 1e-3, {}, 1);
  const std::vector<float> w = p.w, b = p.b;
  const std::vector<float> m(o.slots()[0].values.begin(), o.slots()[0].values.end());
  p.gw[3] = std::nanf("");
  p.gb[0] = INFINITY;
  const StepReport r = o.step(views, 1e-3, {5.0, 1.0}, 1234);
  CHECK_FALSE(r.applied);
  CHECK(r.refused == "gradient norm is NaN at step 1234 (first non-finite: 'layer0.W_hh' element [1, 1] = nan); the update was not applied");
  CHECK(p.w == w);
  CHECK(p.b == b);
  CHECK(std::equal(m.begin(), m.end(), o.slots()[0].values.begin()));
  CHECK(o.steps() == 1);
  p.gw[3] = 0.5f;
  const StepReport inf = o.step(views, 1e-3, {}, 1235);
  CHECK(inf.refused == "gradient norm is Inf at step 1235 (first non-finite: 'head.b' element [0] = inf); the update was not applied");
}

TEST_CASE("optimizer: the same steps bit for bit on 1, 2 and 3 threads, with parameters of many chunks",
          "[unit][optimizer]") {
  // Sizes around the optimizer's chunk of 8,192 elements: several chunks, a partial one, a small one.
  const std::vector<size_t> sizes{20000, 5, 8192, 8193};
  struct Run {
    std::vector<std::vector<float>> values, grads;
    std::vector<StepReport> reports;
  };
  auto run = [&](OptimizerKind kind, const ClipConfig& clip, int threads) {
    Run r;
    for (size_t k = 0; k < sizes.size(); ++k) {
      r.values.emplace_back(sizes[k]);
      r.grads.emplace_back(sizes[k]);
      for (size_t i = 0; i < sizes[k]; ++i) r.values[k][i] = std::sin(0.37 * static_cast<double>(i + 1000 * k));
    }
    std::vector<ParameterView> views;
    for (size_t k = 0; k < sizes.size(); ++k)
      views.push_back({"p" + std::to_string(k), static_cast<int64_t>(sizes[k]), 0, r.values[k], r.grads[k]});
    OptimizerConfig c;
    c.kind = kind;
    c.momentum = kind == OptimizerKind::sgd ? 0.9 : 0.0;
    c.weight_decay = 1e-3;
    Optimizer o(c, views, threads);
    for (int step = 1; step <= 3; ++step) {
      for (size_t k = 0; k < sizes.size(); ++k)
        for (size_t i = 0; i < sizes[k]; ++i) r.grads[k][i] = static_cast<float>(std::cos(0.11 * (i + step * 7 + k)) * 3);
      r.reports.push_back(o.step(views, 0.01, clip, step));
    }
    return r;
  };
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::rmsprop, OptimizerKind::adam})
    for (const ClipConfig& clip : {ClipConfig{}, ClipConfig{2.0, 0.0}, ClipConfig{0.0, 5.0}, ClipConfig{2.0, 5.0}}) {
      INFO(optimizer_name(kind) << ", clip by value " << clip.max_value << ", by norm " << clip.max_norm);
      const Run one = run(kind, clip, 1);
      // The chunked norm is the norm: against a plain sum in long double.
      long double sum = 0;
      for (size_t k = 0; k < sizes.size(); ++k)
        for (size_t i = 0; i < sizes[k]; ++i) sum += static_cast<long double>(std::cos(0.11 * (i + 7 + k)) * 3 * (std::cos(0.11 * (i + 7 + k)) * 3));
      CHECK(one.reports[0].grad_norm == Approx(std::sqrt(static_cast<double>(sum))).epsilon(1e-6));
      if (clip.max_value > 0) CHECK(one.reports[0].clipped_elements > 0);
      for (int threads : {2, 3}) {
        const Run other = run(kind, clip, threads);
        CHECK(other.values == one.values);
        for (size_t s = 0; s < one.reports.size(); ++s) {
          CHECK(other.reports[s].grad_norm == one.reports[s].grad_norm);
          CHECK(other.reports[s].clipped_elements == one.reports[s].clipped_elements);
          CHECK(other.reports[s].clipped == one.reports[s].clipped);
        }
      }
    }
}
