// `cellforge demo`: the README's first command. It trains a character-level language model, a
// 2-layer LSTM with 128 units as char-rnn's README trains one, for about a minute and a half on a
// text every Debian machine has without a download (the licenses base-files installs in
// /usr/share/common-licenses, ~240 kB of English), printing the progress line, samples as the model
// learns and the loss curves' file names.
//
// `cellforge demo --explain` instead takes a zoo cell through the pipeline and shows each stage:
// the step graph, its derivative, a run of the reference interpreter and a gradient check of BPTT
// against finite differences.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/ir/text.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/training.hpp"
#include "runtime/train/sampler.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

namespace {

ir::Array random_array(int64_t rows, int64_t cols, std::mt19937& rng, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  ir::Array a(rows, cols);
  for (double& v : a.data) v = u(rng);
  return a;
}

int explain_cell(const std::string& name) {
  const zoo::ZooCell& entry = zoo::find(name);
  ir::Graph cell = entry.build();
  std::printf("== the cell, as its equations ==\n%s\n\n", entry.equations.c_str());
  std::printf("== its step graph (cellforge inspect --cell %s --emit graph) ==\n%s\n", entry.name.c_str(),
              ir::print(cell).c_str());
  ir::Graph backward = autodiff::differentiate(cell);
  std::printf("== its backward step graph (--emit grad) ==\n%s\n", ir::print(backward).c_str());

  ir::NetworkSizes sizes;
  sizes.input = 3, sizes.hidden = 4, sizes.batch = 2, sizes.unroll = 5, sizes.layers = 2;
  ir::ReferenceNetwork net(cell, backward, sizes);
  std::mt19937 rng(7);
  ir::LayerValues params(2), states(2), d_final(2);
  for (int64_t l = 0; l < sizes.layers; ++l) {
    ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    for (ir::NodeId p : cell.leaves(ir::Op::param)) {
      const ir::Type& t = cell.type(p);
      params[l][cell.node(p).name] =
          random_array(t.is_matrix() ? t.rows.bind(b) : 1, t.is_matrix() ? t.cols.bind(b) : t.rows.bind(b), rng, 0.5);
    }
    for (ir::NodeId s : cell.leaves(ir::Op::state)) {
      states[l][cell.node(s).name] = random_array(sizes.batch, cell.type(s).rows.bind(b), rng, 0.5);
      d_final[l][cell.node(s).name] = ir::Array(sizes.batch, cell.type(s).rows.bind(b));
    }
  }
  std::vector<ir::Array> x, dy;
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    x.push_back(random_array(sizes.batch, sizes.input, rng, 1.0));
    dy.push_back(random_array(sizes.batch, sizes.hidden, rng, 1.0));
  }
  auto fwd = net.forward(params, x, states);
  std::printf("== the reference interpreter: %lld layers x %lld steps, batch %lld ==\n", (long long)sizes.layers,
              (long long)sizes.unroll, (long long)sizes.batch);
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    std::printf("  y[t=%lld, row 0] =", (long long)t);
    for (int64_t j = 0; j < fwd.outputs[t].cols; ++j) std::printf(" %+.5f", fwd.outputs[t].at(0, j));
    std::printf("\n");
  }
  // BPTT against central differences of L = sum_t <dy_t, y_t> for one recurrent weight.
  auto grads = net.backward(params, x, states, dy, d_final);
  auto loss = [&](const ir::LayerValues& p) {
    auto f = net.forward(p, x, states);
    double s = 0;
    for (int64_t t = 0; t < sizes.unroll; ++t)
      for (size_t i = 0; i < f.outputs[t].data.size(); ++i) s += f.outputs[t].data[i] * dy[t].data[i];
    return s;
  };
  const std::string recurrent = cell.leaves(ir::Op::param).size() > 1 ? cell.node(cell.leaves(ir::Op::param)[1]).name
                                                                      : cell.node(cell.leaves(ir::Op::param)[0]).name;
  double worst = 0;
  for (size_t i = 0; i < params[0][recurrent].data.size(); ++i) {
    const double eps = 1e-6;
    ir::LayerValues plus = params, minus = params;
    plus[0][recurrent].data[i] += eps;
    minus[0][recurrent].data[i] -= eps;
    double numeric = (loss(plus) - loss(minus)) / (2 * eps);
    double analytic = grads.params[0][recurrent].data[i];
    worst = std::max(worst, std::fabs(numeric - analytic) / std::max(1e-7, std::fabs(numeric)));
  }
  std::printf("\n== BPTT vs central differences, dL/d%s of layer 0 (%zu entries): worst relative error %.2e ==\n",
              recurrent.c_str(), params[0][recurrent].data.size(), worst);
  return worst < 1e-5 ? 0 : 1;
}

int train_demo(const Args& args) {
  const train::Corpus corpus =
      args.has("corpus") ? train::Corpus::from_file(args.text("corpus")) : train::Corpus::default_corpus();
  train::ModelSpec spec;
  spec.cell = zoo::find(args.text("cell", "lstm")).build();
  spec.hidden = args.integer("hidden", 128);
  spec.layers = args.integer("layers", 2);
  train::TrainConfig config;  // char-rnn's defaults: B = T = 50, RMSprop 2e-3 / 0.95, clip 5
  const std::string out_dir = args.text("out", (std::filesystem::temp_directory_path() / "cellforge-demo").string());
  std::filesystem::create_directories(out_dir);
  const double seconds = args.number("seconds", 90);
  std::printf("cellforge demo: a character-level language model, trained for %.0f s\n"
              "(cellforge train does the same with every option; cellforge demo --explain shows the compiler's stages)\n\n",
              seconds);
  train::Trainer trainer(spec, corpus, config);
  const auto& stats = trainer.network().cells().compile_stats();
  std::printf("corpus   %s: %zu characters, %lld distinct\n", corpus.name.c_str(), corpus.text.size(),
              (long long)corpus.vocabulary.size());
  std::printf("model    %s, %lld layers x %lld units, one-hot input, %lld parameters; JIT-compiled forward and BPTT for "
              "B = %lld, T = %lld in %.1f s%s\n\n",
              spec.cell.name().c_str(), (long long)spec.layers, (long long)spec.hidden,
              (long long)trainer.network().parameter_count(), (long long)config.batch, (long long)config.unroll,
              stats.total_ms / 1000, stats.from_disk_cache ? " (from the disk cache)" : "");
  LoopOptions o;
  o.iterations = args.integer("iterations", 1000000);
  o.time_limit = seconds;
  o.print_every = 50;
  o.eval_every = args.integer("eval-every", 400);
  o.checkpoint = out_dir + "/demo.ckpt";
  o.csv = out_dir + "/demo-loss.csv";
  o.svg = out_dir + "/demo-loss.svg";
  std::string prime = args.has("corpus") ? "" : "This License";
  for (char c : prime)
    if (!trainer.vocabulary().contains(static_cast<unsigned char>(c))) prime.clear();
  o.sample_length = 160;
  o.sample_temperature = 0.8;
  o.sample_prime = prime;
  o.show_total = args.has("iterations");
  o.title = "cellforge demo: " + spec.cell.name() + " on " + corpus.name;
  run_training_loop(trainer, o);
  train::Sampler sampler(trainer.spec(), trainer.vocabulary());
  sampler.load_parameters(trainer.network());
  for (double temperature : {0.5, 1.0}) {
    train::SampleOptions s;
    s.length = 400;
    s.temperature = temperature;
    s.prime = prime;
    s.seed = 7;
    std::printf("\n==== sample at temperature %.1f, primed with \"%s\" ====\n%s\n", temperature, s.prime.c_str(),
                sampler.sample(s).c_str());
  }
  std::printf("\nmore samples:  ./build/cellforge sample --checkpoint %s --temperature 0.7 --prime \"The \" --seed 3\n",
              o.checkpoint.c_str());
  std::printf("loss curves:   %s (and .csv)\n", o.svg.c_str());
  return 0;
}

}  // namespace

int run_demo(const Argv& argv) {
  Args args(argv, {"cell", "corpus", "hidden", "layers", "seconds", "iterations", "eval-every", "out"}, {"explain"});
  if (args.flag("explain")) return explain_cell(args.text("cell", "lstm"));
  return train_demo(args);
}

}  // namespace cellforge::cli
