// Lesson 06: how a gradient flows back through time — why vanilla RNNs forget, how the LSTM's cell
// state remembers, and what gradient clipping is for.
//
// The task: a network reads T = 50 steps and is judged only at the last one, L = <u, y_T>. If the
// right answer depends on the input k steps back, training can only learn it if dL/ds_{T-k} — the
// gradient that reaches the state k steps back — is not negligible. cellforge's compiled BPTT
// measures ||dL/ds|| for every state at every step (gradient telemetry) and the largest singular
// value sigma_max of each step Jacobian ds_t/ds_{t-1}:
//
//   vanilla RNN   dh_{t-1} = W_hh^T (tanh' * dh_t): every step multiplies by a matrix whose sigma_max
//                 is below 1 here, so the gradient shrinks geometrically — gone after ~20 steps;
//   LSTM          dc_{t-1} = f_t * dc_t + ...: a highway with no matrix product. With the forget
//                 gate half open (bias 0, f ~ 0.5) it still leaks away; with the forget bias at 1.5
//                 (f ~ 0.8, Jozefowicz et al. 2015 recommend 1) the gradient survives all 50 steps;
//   linear RNN    h_t = W_hh h_{t-1} + W_xh x_t + b: the gradient is multiplied by W_hh^T at every
//                 step. sigma_max(W_hh) > 1 allows it to grow; it does grow, geometrically, once the
//                 spectral radius (largest |eigenvalue|) is above 1 too — for a random matrix about
//                 half of sigma_max, so the weights are drawn at scale 3 here. It explodes, and one
//                 update with it would wreck the weights. Clipping the global gradient norm
//                 (at 5 here; char-rnn clips each element at 5 instead) bounds the update.
//
// The same analysis from the command line, with the plot:
//   cellforge gradflow --cell rnn,lstm --scale 0.5 --forget-bias 1.5 --out gradflow
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dsl/dsl.hpp"
#include "runtime/gradflow/analysis.hpp"
#include "runtime/plot/svg_plot.hpp"
#include "runtime/train/optimizer.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what.c_str());
  if (!ok) ++failures;
}

// A recurrence with no squashing nonlinearity: the gradient is multiplied by W_hh^T at every step.
ir::Graph linear_rnn() {
  using namespace cellforge::dsl;
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W_xh = param("W_xh"_s, H, X);
  auto W_hh = param("W_hh"_s, H, H);
  auto b = param("b"_s, H);
  auto h_next = named("h_next"_s, W_hh * h + W_xh * x + b);
  return reify(cell("linear_rnn"_s, next(h, h_next), output(h_next)));
}

gradflow::Report analyze(ir::Graph cell, double scale, double forget_bias) {
  gradflow::Setup setup;
  setup.cell = std::move(cell);
  setup.sizes = {.input = 8, .hidden = 64, .batch = 16, .unroll = 50, .layers = 1};
  setup.weight_scale = scale;
  setup.forget_bias = forget_bias;
  setup.seed = 7;
  setup.lanczos_steps = 30;
  return gradflow::analyze(setup);
}

const std::vector<double>& norms(const gradflow::Report& report, const std::string& state) {
  for (const gradflow::StateFlow& s : report.states)
    if (s.state == state) return s.norm;
  std::fprintf(stderr, "no state %s in the report of %s\n", state.c_str(), report.cell.c_str());
  std::exit(1);
}

// How much of the gradient at the last step is left k steps back.
double surviving(const std::vector<double>& norm, size_t k) { return norm[k] / norm[0]; }

double mean_sigma(const gradflow::Report& report) {
  double sum = 0;
  for (double s : report.jacobian_sigma_max[0]) sum += s;
  return sum / static_cast<double>(report.jacobian_sigma_max[0].size());
}

plot::Series series(const std::string& name, const std::vector<double>& norm) {
  plot::Series s{name, {}, {}};
  for (size_t k = 0; k < norm.size(); ++k) {
    s.x.push_back(static_cast<double>(k));
    s.y.push_back(norm[k]);
  }
  return s;
}

}  // namespace

int main() {
  const size_t back = 49;  // the first step, 49 steps before the last
  std::printf("Loss at the last of 50 steps; ||dL/ds|| k steps back, relative to k = 0:\n\n");
  std::printf("%-32s %10s %10s %10s %10s %12s\n", "cell (state)", "k=1", "k=10", "k=25", "k=49", "sigma_max J");

  gradflow::Report rnn = analyze(zoo::find("rnn").build(), 0.5, 0.0);
  gradflow::Report lstm_closed = analyze(zoo::find("lstm").build(), 0.5, 0.0);
  gradflow::Report lstm_open = analyze(zoo::find("lstm").build(), 0.5, 1.5);
  gradflow::Report linear = analyze(linear_rnn(), 3.0, 0.0);
  auto row = [](const std::string& name, const std::vector<double>& n, double sigma) {
    std::printf("%-32s %10.3g %10.3g %10.3g %10.3g %12.4f\n", name.c_str(), surviving(n, 1), surviving(n, 10),
                surviving(n, 25), surviving(n, 49), sigma);
  };
  row("vanilla RNN (h)", norms(rnn, "h"), mean_sigma(rnn));
  row("LSTM, forget bias 0 (c)", norms(lstm_closed, "c"), mean_sigma(lstm_closed));
  row("LSTM, forget bias 1.5 (c)", norms(lstm_open, "c"), mean_sigma(lstm_open));
  row("LSTM, forget bias 1.5 (h)", norms(lstm_open, "h"), mean_sigma(lstm_open));
  row("linear RNN, W_hh scale 3 (h)", norms(linear, "h"), mean_sigma(linear));
  std::printf("\nsigma_max(W_hh): vanilla RNN %.3f, linear RNN %.3f\n\n", rnn.weight_sigma_max[0].second,
              linear.weight_sigma_max[0].second);

  std::printf("What the numbers must show:\n");
  // A vanilla RNN's gradient shrinks by about sigma_max per step: after 49 steps, by far more than
  // float32 could ever carry into a useful weight update.
  expect(surviving(norms(rnn, "h"), back) < 1e-12, "the vanilla RNN's gradient vanishes (k=49: below 1e-12 of k=0)");
  const double per_step = std::pow(surviving(norms(rnn, "h"), 20), 1.0 / 20);
  expect(per_step < mean_sigma(rnn) * 1.05,
         "it shrinks geometrically, at most by sigma_max of the step Jacobian per step (" + std::to_string(per_step) +
             " per step)");
  expect(surviving(norms(lstm_open, "c"), back) > 0.1, "the LSTM's cell state with forget bias 1.5 keeps over 10% at k=49");
  expect(surviving(norms(lstm_open, "c"), back) > 1e6 * surviving(norms(lstm_closed, "c"), back),
         "opening the forget gate (bias 0 -> 1.5) keeps a million times more of the gradient at k=49");
  expect(linear.weight_sigma_max[0].second > 1, "the linear RNN's W_hh has sigma_max above 1");
  expect(surviving(norms(linear, "h"), back) > 1e6, "the linear RNN's gradient explodes (k=49: over 1e6 times k=0)");

  // Clipping: one SGD step with the linear RNN's exploding gradient, with and without clipping the
  // global norm at 5 (PyTorch's clip_grad_norm_). The update is lr * g without clipping and at most
  // lr * 5 with it.
  const double lr = 0.01, max_norm = 5.0;
  auto update_norm = [&](double clip_norm, train::StepReport& step) {
    std::vector<float> values = linear.parameters, grads = linear.parameter_gradients;
    std::vector<train::ParameterView> views;
    for (const ParameterInfo& p : linear.parameter_info)
      views.push_back({p.name, p.rows, p.cols, std::span<float>(values).subspan(p.offset, p.size()),
                       std::span<float>(grads).subspan(p.offset, p.size())});
    train::OptimizerConfig sgd;
    sgd.kind = train::OptimizerKind::sgd;
    sgd.learning_rate = lr;
    train::Optimizer optimizer(sgd, views);
    step = optimizer.step(views, lr, {.max_value = 0.0, .max_norm = clip_norm}, 1);
    double sum = 0;
    for (size_t i = 0; i < values.size(); ++i) sum += std::pow(double(values[i]) - linear.parameters[i], 2);
    return std::sqrt(sum);
  };
  train::StepReport unclipped, clipped;
  const double free_step = update_norm(0.0, unclipped), bounded_step = update_norm(max_norm, clipped);
  std::printf("\nlinear RNN: gradient norm %.3g; SGD step (lr %.2g) moves the weights by %.3g unclipped, by %.3g "
              "with the norm clipped at %.0f\n",
              unclipped.grad_norm, lr, free_step, bounded_step, max_norm);
  expect(unclipped.grad_norm > 1e6 && !unclipped.clipped, "the unclipped update is as large as the exploded gradient");
  expect(clipped.clipped && bounded_step <= lr * max_norm * (1 + 1e-4),
         "clipping bounds the update by lr * max_norm = " + std::to_string(lr * max_norm));

  plot::Plot p;
  p.title = "How much gradient reaches k steps back (loss at the last of 50 steps)";
  p.x_label = "steps back from the last step (k)";
  p.y_label = "||dL/ds_{T-k}||";
  p.y_scale = plot::Scale::log;
  p.series = {series("vanilla RNN: h", norms(rnn, "h")), series("LSTM, forget bias 0: c", norms(lstm_closed, "c")),
              series("LSTM, forget bias 1.5: c", norms(lstm_open, "c")),
              series("LSTM, forget bias 1.5: h", norms(lstm_open, "h")),
              series("linear RNN, sigma_max(W_hh) > 1: h", norms(linear, "h"))};
  p.series.back().dashed = true;
  plot::write_svg("gradient_flow.svg", p);
  std::printf("\nwrote gradient_flow.svg\n");
  return failures == 0 ? 0 : 1;
}
