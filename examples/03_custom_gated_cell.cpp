// Lesson 03: a cell nobody has written yet — from equations to a trained, verified network.
//
// A GRU variant with two ideas of its own: its update gate z peeks at the state through a
// per-unit weight p (a "peephole", as Gers & Schmidhuber gave the LSTM), and its candidate n is
// layer-normalized with a learned gain, so that n stays well scaled whatever W and U do:
//
//     r = sigmoid(W_r x + b_r + U_r h)
//     z = sigmoid(W_z x + b_z + U_z h + p * h)
//     a = W_n x + b_n + r * (U_n h)          n = tanh(gain * (a - mean(a)) / sqrt(var(a) + 1e-5))
//     h' = (1 - z) * n + z * h
//
// No library has this cell; in cellforge it is the 15 lines of make_cell() below. The lesson then
//   1. checks the derivative: BPTT through 3 steps of 2 stacked layers, in double precision,
//      against central differences (verify::gradcheck);
//   2. checks the compiled code: the JIT's forward and BPTT against the reference interpreter
//      (verify::compare_with_reference);
//   3. trains it briefly as a character-level language model, next to a GRU.
#include <cstdio>

#include "dsl/dsl.hpp"
#include "runtime/train/trainer.hpp"
#include "runtime/verify/differential.hpp"
#include "runtime/verify/gradcheck.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

ir::Graph make_cell() {
  using namespace cellforge::dsl;
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 3_c * H, X);
  auto U = param("U"_s, 3_c * H, H);
  auto b = param("b"_s, 3_c * H);
  auto p = param("p"_s, H);
  auto gain = param("gain"_s, H);
  auto [xr, xz, xn] = split<3>(W * x + b);
  auto [hr, hz, hn] = split<3>(U * h);
  auto r = named("r"_s, sigmoid(xr + hr));
  auto z = named("z"_s, sigmoid(xz + hz + p * h));
  auto a = xn + r * hn;
  auto centered = a - mean(a);
  auto n = named("n"_s, tanh(gain * centered * rsqrt(mean(centered * centered) + 1e-5)));
  auto h_next = named("h_next"_s, (1 - z) * n + z * h);
  return reify(cell("peephole_ln_gru"_s, next(h, h_next), output(h_next)));
}

int main() {
  const ir::Graph cell = make_cell();
  int failures = 0;
  auto expect = [&](bool ok, const std::string& what) {
    std::printf("[%s] %s\n", ok ? "ok" : "FAILED", what.c_str());
    failures += !ok;
  };

  // 1. The symbolic derivative, in double, against central differences.
  const ir::NetworkSizes small{.input = 3, .hidden = 4, .batch = 2, .unroll = 3, .layers = 2};
  const verify::GradcheckReport g = verify::gradcheck(cell, small);
  std::printf("gradient check (X=3 H=4 B=2 T=3 L=2, double):\n%s", g.table().c_str());
  expect(g.passed(), std::to_string(g.checked()) + " gradient entries agree with central differences");

  // 2. The compiled code (float32) against the reference interpreter (double).
  const ir::NetworkSizes medium{.input = 9, .hidden = 16, .batch = 5, .unroll = 7, .layers = 2};
  const verify::Comparison c = verify::compare_with_reference(cell, medium, {});
  std::printf("\ncompiled vs interpreter (X=9 H=16 B=5 T=7 L=2), relative difference:\n%s",
              verify::comparison_table(c).c_str());
  expect(!c.worst.nonfinite_mismatch && c.worst.relative < 1e-4,
         "the JIT's outputs and every gradient match the interpreter within 1e-4");

  // 3. A short training run as a language model on the licenses of the machine, next to a GRU.
  const train::Corpus corpus = train::Corpus::default_corpus();
  auto train = [&](const ir::Graph& model_cell) {
    train::ModelSpec spec;
    spec.cell = model_cell;
    spec.hidden = 96;
    spec.layers = 1;
    train::TrainConfig config;
    config.batch = 32;
    config.unroll = 50;
    config.val_batches = 20;
    config.seed = 11;
    train::Trainer trainer(spec, corpus, config);
    double loss = 0;
    for (int i = 1; i <= 400; ++i) loss = trainer.train_step().loss;
    const double val = trainer.validate();
    std::printf("  %-16s %6lld parameters   train loss %.3f   validation loss %.3f nats/char\n",
                model_cell.name().c_str(), static_cast<long long>(trainer.network().parameter_count()), loss, val);
    return val;
  };
  std::printf("\n400 updates of B=32 x T=50 characters, RMSprop 2e-3, clip 5:\n");
  const double ours = train(cell), gru = train(zoo::find("gru").build());
  expect(ours < 2.6, "the new cell learns: validation loss below 2.6 nats/char (uniform: 4.45)");
  std::printf("(the GRU reached %.3f on the same budget)\n", gru);
  return failures ? 1 : 0;
}
