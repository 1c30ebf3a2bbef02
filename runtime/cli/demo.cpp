// `cellforge demo`: the README's first command. It trains a character-level language model, a
// 2-layer LSTM with 128 units and dropout 0.5 as char-rnn's README trains one, with one dropout
// mask per sequence (variational dropout: of the regularizers docs/training.md compares on this
// text, the lowest validation loss; without any the model learns the text by heart), for about a
// minute and a half on a
// text every Debian machine has without a download (the licenses base-files installs in
// /usr/share/common-licenses, ~240 kB of English), printing the progress line, samples as the model
// learns and the loss curves' file names.
//
// `cellforge demo --explain` instead takes a zoo cell through the pipeline and shows each stage:
// the step graph, its derivative, a run of the reference interpreter and a gradient check of BPTT
// against finite differences.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/ir/text.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/training.hpp"
#include "runtime/train/sampler.hpp"
#include "runtime/verify/gradcheck.hpp"
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
  ir::LayerValues params(2), states(2);
  for (int64_t l = 0; l < sizes.layers; ++l) {
    ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    for (ir::NodeId p : cell.leaves(ir::Op::param)) {
      const ir::Type& t = cell.type(p);
      params[l][cell.node(p).name] =
          random_array(t.is_matrix() ? t.rows.bind(b) : 1, t.is_matrix() ? t.cols.bind(b) : t.rows.bind(b), rng, 0.5);
    }
    for (ir::NodeId s : cell.leaves(ir::Op::state)) {
      states[l][cell.node(s).name] = random_array(sizes.batch, cell.type(s).rows.bind(b), rng, 0.5);
    }
  }
  std::vector<ir::Array> x;
  for (int64_t t = 0; t < sizes.unroll; ++t) x.push_back(random_array(sizes.batch, sizes.input, rng, 1.0));
  auto fwd = net.forward(params, x, states);
  std::printf("== the reference interpreter: %lld layers x %lld steps, batch %lld ==\n", (long long)sizes.layers,
              (long long)sizes.unroll, (long long)sizes.batch);
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    std::printf("  y[t=%lld, row 0] =", (long long)t);
    for (int64_t j = 0; j < fwd.outputs[t].cols; ++j) std::printf(" %+.5f", fwd.outputs[t].at(0, j));
    std::printf("\n");
  }
  // BPTT against central differences, every parameter, input and initial state (cellforge check).
  const verify::GradcheckReport check = verify::gradcheck(cell, sizes);
  std::printf("\n== BPTT vs central differences, in double (cellforge check --cell %s) ==\n%s", entry.name.c_str(),
              check.table().c_str());
  std::printf("%s: %lld entries, worst %.1e of the tolerance |fd - bptt| <= 1e-5 + 1e-3 |fd|\n",
              check.passed() ? "passed" : "FAILED", static_cast<long long>(check.checked()), check.worst_ratio);
  return check.passed() ? 0 : 1;
}

int train_demo(const Args& args) {
  const train::Corpus corpus =
      args.has("corpus") ? train::Corpus::from_file(args.text("corpus")) : train::Corpus::default_corpus();
  train::ModelSpec spec;
  spec.cell = zoo::find(args.text("cell", "lstm")).build();
  spec.hidden = args.integer("hidden", 128);
  spec.layers = args.integer("layers", 2);
  spec.dropout = args.number("dropout", 0.5);
  spec.dropout_per_sequence = spec.dropout > 0;
  if (const double p = args.number("weight-drop", 0.0); p != 0) {
    if (!(p > 0 && p < 1)) user_error("option --weight-drop needs a probability in [0, 1) (0: off), got ", args.text("weight-drop"));
    if (spec.cell.find_leaf(ir::Op::param, "W_hh") < 0)
      user_error("--weight-drop drops W_hh, which cell '", spec.cell.name(), "' does not have; leave --weight-drop out, or "
                 "use cellforge train --weight-drop NAME=P with one of its parameters");
    spec.weight_drop = {{"W_hh", p}};
  }
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
  char regularization[96] = "";
  if (spec.dropout > 0)
    std::snprintf(regularization, 48, "dropout %g per sequence, ", spec.dropout);
  if (!spec.weight_drop.empty())
    std::snprintf(regularization + std::strlen(regularization), 48, "weight drop %g on W_hh, ", spec.weight_drop.begin()->second);
  std::printf("model    %s, %lld layers x %lld units, one-hot input, %s%lld parameters; JIT-compiled forward and BPTT for "
              "B = %lld, T = %lld in %.1f s%s\n\n",
              spec.cell.name().c_str(), (long long)spec.layers, (long long)spec.hidden, regularization,
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
  Args args(argv, {"demo",
                   "Trains a character-level language model (char-rnn's 2-layer LSTM of 128 units, dropout 0.5 with "
                   "one mask per sequence) for 90 seconds on a text, printing progress and samples; cellforge train "
                   "does the same with every option.",
                   {{"cell", "NAME", "a cell of the zoo (cellforge cells lists them)", "lstm"},
                    {"corpus", "FILE", "the text; without it, the text files every Debian system has", ""},
                    {"hidden", "H", "units per layer", "128"},
                    {"layers", "L", "stacked layers", "2"},
                    {"dropout", "P", "dropout on the upper layers' and the head's inputs while training, one mask per "
                                     "sequence (0: off)", "0.5"},
                    {"weight-drop", "P", "while training, zero each element of W_hh with probability P per step "
                                         "(AWD-LSTM's 0.5; 0: off)", "0"},
                    {"seconds", "S", "training time", "90"},
                    {"iterations", "N", "stop at this iteration if the time is not up first", "1000000"},
                    {"eval-every", "N", "iterations between validations, checkpoints and samples", "400"},
                    {"out", "DIR", "where the checkpoint and loss curves go (default: cellforge-demo in the "
                                   "temporary directory)", ""},
                    {"explain", "", "show the cell's graph, derivative and a gradient check instead of training", ""}}});
  if (args.flag("explain")) return explain_cell(args.text("cell", "lstm"));
  return train_demo(args);
}

}  // namespace cellforge::cli
