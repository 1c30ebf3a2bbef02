// `cellforge train`: trains a character-level language model of any cell (a zoo cell by --cell, or
// a cell in IR text by --graph) on a text file, the way char-rnn does, printing a progress line
// and writing the loss curves (CSV and SVG) and checkpoints; `--resume FILE` continues a run
// exactly where it stopped.
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/cell_option.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/training.hpp"
#include "runtime/train/loss_log.hpp"
#include "runtime/train/safetensors.hpp"
#include "runtime/train/sampler.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string duration_text(double seconds) {
  char buffer[32];
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60) std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buffer, sizeof buffer, "%lds", s);
  return buffer;
}

std::string rate_text(double per_second) {
  char buffer[32];
  if (per_second >= 1e6) std::snprintf(buffer, sizeof buffer, "%.2fM", per_second / 1e6);
  else if (per_second >= 1e3) std::snprintf(buffer, sizeof buffer, "%.1fk", per_second / 1e3);
  else std::snprintf(buffer, sizeof buffer, "%.0f", per_second);
  return buffer;
}

ir::Graph cell_from(const Args& args) {
  if (args.has("graph") && args.has("cell")) user_error("give either --cell NAME or --graph FILE, not both");
  return cell_from_options(args);
}

ir::Bindings extra_sizes(const std::string& text) {
  ir::Bindings sizes;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t eq = item.find('=');
    char* end = nullptr;
    const long long v = eq == std::string::npos ? 0 : std::strtoll(item.c_str() + eq + 1, &end, 10);
    if (eq == std::string::npos || eq == 0 || !end || *end || v < 1)
      user_error("option --sizes takes NAME=SIZE[,NAME=SIZE...] with sizes >= 1, got '", item, "'");
    sizes[item.substr(0, eq)] = v;
  }
  return sizes;
}

// Options that define the model or the run; on --resume they come from the checkpoint.
const std::vector<Option> kModelOptions = [] {
  std::vector<Option> options = cell_options();
  options.insert(options.end(), {
    {"layers", "N", "stacked layers of the cell", "2"},
    {"hidden", "N", "units per layer (H)", "128"},
    {"sizes", "NAME=N,...", "the cell's other sizes, e.g. P=64 for a projection", ""},
    {"embedding", "E", "learn an E-wide embedding of the characters; 0: one-hot input", "0"},
    {"loss", "every|last", "cross-entropy at every step (many-to-many) or at the last only", "every"},
    {"dropout", "P",
     "while training, zero each input feature of the layers above the first and of the head with probability P "
     "(char-rnn's -dropout)",
     "0"},
    {"variational-dropout", "",
     "with --dropout: one mask per sequence for all its steps (Gal & Ghahramani; AWD-LSTM's LockedDropout) instead of "
     "one per step",
     ""},
    {"weight-drop", "PARAM=P,...",
     "while training, zero each element of these cell parameters with probability P for a whole step, in every "
     "layer (DropConnect; AWD-LSTM drops W_hh=0.5)",
     ""},
    {"zoneout", "Z|STATE=Z,...",
     "while training, keep each element of a state at its previous value with probability Z (Krueger et al.); Z alone "
     "zones out every state of the cell, e.g. c=0.5,h=0.05 sets each",
     ""},
  });
  return options;
}();
const std::vector<Option> kRunOptions = {
    {"batch", "B", "parallel streams of the text per batch", "50"},
    {"unroll", "T", "steps per batch: the truncated BPTT length", "50"},
    {"val-fraction", "F", "the share of the text kept for validation", "0.05"},
    {"val-batches", "N", "validation batches per evaluation, from the start; 0: all", "0"},
    {"optimizer", "rmsprop|adam|sgd", "the update rule", "rmsprop"},
    {"lr", "RATE", "learning rate", "2e-3"},
    {"momentum", "M", "momentum of sgd", "0"},
    {"nesterov", "", "Nesterov momentum for sgd", ""},
    {"beta1", "B1", "adam's first-moment decay", "0.9"},
    {"beta2", "B2", "adam's second-moment decay", "0.999"},
    {"decay", "ALPHA", "rmsprop's decay of the squared-gradient average", "0.95"},
    {"eps", "EPS", "added to the denominator of adam and rmsprop", "1e-8"},
    {"weight-decay", "W", "adds W times each parameter to its gradient (L2 regularization)", "0"},
    {"lr-decay", "F", "multiply the learning rate by F every --lr-decay-every iterations", "1"},
    {"lr-decay-every", "N", "iterations between learning-rate decays (needed with --lr-decay)", "0"},
    {"lr-decay-after", "N", "iterations before the decay schedule starts (its first decay comes --lr-decay-every later)",
     "0"},
    {"clip", "V", "clip each gradient element into [-V, V]; 0: off (off by default when --clip-norm is given)", "5"},
    {"clip-norm", "N", "scale all gradients down when their global L2 norm is above N; 0: off", "0"},
    {"seed", "N", "seed of the initialization and of dropout", "123"},
};
// How a new run initializes the parameters (not import-torch's: it brings its own).
const std::vector<Option> kInitOptions = {
    {"init-scale", "S", "parameters start uniform in [-S, S]", "0.08"},
    {"forget-bias", "V|none", "the forget gate's bias starts at V; none keeps it uniform", "1"},
};
const std::vector<Option> kLoopOptions = {
    {"corpus", "FILE", "the text to learn; without it, the text files every Debian system has (as the demo)", ""},
    {"iterations", "N", "train until this iteration (counted from the run's start, also after --resume)", "1000"},
    {"time-limit", "SECONDS", "stop after this much training time; 0: no limit", "0"},
    {"print-every", "N", "iterations between progress lines", "10"},
    {"eval-every", "N", "iterations between validations, checkpoints, loss curves and samples; 0: only at the end",
     "250"},
    {"out", "PREFIX", "write PREFIX.ckpt, PREFIX.csv and PREFIX.svg (the loss curves)", "char-lm"},
    {"checkpoint", "FILE", "write the checkpoint here instead of PREFIX.ckpt", ""},
    {"resume", "FILE", "continue the run of this checkpoint exactly, with its own model and training settings", ""},
    {"allow-inexact-resume", "", "resume a checkpoint written on another machine (not bit for bit then)", ""},
    {"sample-length", "N", "characters sampled at each evaluation; 0: none", "200"},
    {"temperature", "T", "temperature of those samples", "0.8"},
    {"sample-seed", "N", "seed of those samples", "1"},
    {"threads", "N", "threads of the compiled network; 0: one per hardware thread", "0"},
    {"summary", "FILE", "write the run's final numbers as JSON", ""},
};

Command train_command() {
  Command c{"train",
            "Trains a character-level language model of any cell on a text, as char-rnn does: a one-hot (or "
            "embedded) input, the stacked cell, a linear head and softmax cross-entropy, trained by truncated BPTT. "
            "Prints a progress line, writes a checkpoint and the loss curves; --resume continues a run exactly. "
            "docs/training.md explains each choice.",
            {}};
  for (const auto* group : {&kModelOptions, &kRunOptions, &kInitOptions, &kLoopOptions})
    c.options.insert(c.options.end(), group->begin(), group->end());
  return c;
}

double dropout_from(const Args& args) {
  const double p = args.number("dropout", 0.0);
  if (!(p >= 0 && p < 1))
    user_error("option --dropout needs a probability in [0, 1) (0: no dropout; char-rnn's 0.5 is a common choice), got ",
               args.text("dropout"));
  return p;
}

// A probability in [0, 1) of --zoneout or --weight-drop, from `number` (the text of `item`).
double probability(const std::string& option, const std::string& item, const std::string& number, const char* example) {
  char* stop = nullptr;
  const double p = std::strtod(number.c_str(), &stop);
  if (number.empty() || std::isspace(static_cast<unsigned char>(number[0])) || !stop || *stop || !(p >= 0 && p < 1))
    user_error("option --", option, " needs probabilities in [0, 1) (e.g. ", example, "), got '", item, "'");
  return p;
}

// "NAME=P,NAME=P" of --zoneout and --weight-drop; train::ModelSpec::check() checks the names
// against the cell.
std::map<std::string, double> named_rates(const std::string& option, const std::string& text, const char* example) {
  std::map<std::string, double> out;
  for (size_t at = 0; at <= text.size();) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      user_error("option --", option, " takes NAME=P[,NAME=P...] (e.g. ", example, "), got '", item, "' in '", text, "'");
    if (out.count(item.substr(0, eq)))
      user_error("option --", option, " gives '", item.substr(0, eq), "' twice in '", text, "'; give each name once");
    out[item.substr(0, eq)] = probability(option, item, item.substr(eq + 1), example);
    at = end + 1;
  }
  return out;  // (a rate of 0 changes nothing, but its name is still checked against the cell)
}

// --zoneout: "Z" for every state of the cell, or "STATE=Z,STATE=Z".
std::map<std::string, double> zoneout_from(const Args& args, const ir::Graph& cell) {
  if (!args.has("zoneout")) return {};
  const char* example = "c=0.5,h=0.05, Krueger et al.'s for a character LSTM, or 0.1 for every state";
  const std::string text = args.text("zoneout");
  if (text.find('=') != std::string::npos) return named_rates("zoneout", text, example);
  const double z = probability("zoneout", text, text, example);
  std::map<std::string, double> out;
  if (z > 0)
    for (ir::NodeId id : cell.leaves(ir::Op::state)) out[cell.node(id).name] = z;
  return out;
}

// --weight-drop: "PARAM=P,PARAM=P" (the cell's parameter names, in every layer).
std::map<std::string, double> weight_drop_from(const Args& args) {
  return args.has("weight-drop") ? named_rates("weight-drop", args.text("weight-drop"), "W_hh=0.5, AWD-LSTM's")
                                 : std::map<std::string, double>{};
}

train::TrainConfig config_from(const Args& args) {
  train::TrainConfig c;
  c.batch = args.integer("batch", c.batch);
  c.unroll = args.integer("unroll", c.unroll);
  c.val_fraction = args.number("val-fraction", c.val_fraction);
  c.val_batches = args.integer("val-batches", c.val_batches);
  c.optimizer.kind = train::optimizer_from_name(args.choice("optimizer", {"rmsprop", "adam", "sgd"}, "rmsprop"));
  c.optimizer.learning_rate = args.number("lr", c.optimizer.learning_rate);
  c.optimizer.momentum = args.number("momentum", c.optimizer.momentum);
  c.optimizer.nesterov = args.flag("nesterov");
  c.optimizer.beta1 = args.number("beta1", c.optimizer.beta1);
  c.optimizer.beta2 = args.number("beta2", c.optimizer.beta2);
  c.optimizer.alpha = args.number("decay", c.optimizer.alpha);
  c.optimizer.epsilon = args.number("eps", c.optimizer.epsilon);
  c.optimizer.weight_decay = args.number("weight-decay", c.optimizer.weight_decay);
  c.schedule.decay = args.number("lr-decay", c.schedule.decay);
  c.schedule.every = args.integer("lr-decay-every", c.schedule.every);
  c.schedule.after = args.integer("lr-decay-after", c.schedule.after);
  if (c.schedule.decay != 1 && c.schedule.every == 0)
    user_error("--lr-decay needs --lr-decay-every N (iterations between decays)");
  // char-rnn clips by value at 5; asking for clipping by norm alone turns that default off.
  c.clip.max_value = args.has("clip-norm") && !args.has("clip") ? 0.0 : args.number("clip", c.clip.max_value);
  c.clip.max_norm = args.number("clip-norm", c.clip.max_norm);
  if (args.takes("init-scale")) {
    c.init.scale = args.number("init-scale", c.init.scale);
    c.init.forget_bias = args.text("forget-bias", "1") == "none" ? std::nan("") : args.number("forget-bias", 1.0);
  }
  const int64_t seed = args.integer("seed", 123);
  if (seed < 0) user_error("option --seed needs an integer >= 0, got ", seed);
  c.seed = static_cast<uint64_t>(seed);
  c.check();
  return c;
}

void print_header(train::Trainer& trainer, const train::Corpus& corpus) {
  const train::ModelSpec& spec = trainer.spec();
  const train::TrainConfig& c = trainer.config();
  std::printf("corpus   %s: %zu characters, vocabulary %lld; %lld training batches of %lld x %lld per epoch, %lld validation batches\n",
              corpus.name.c_str(), corpus.text.size(), (long long)spec.vocabulary, (long long)trainer.train_batches(),
              (long long)c.batch, (long long)c.unroll, (long long)trainer.val_batches());
  std::string regularization;
  auto number = [](double p) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", p);
    return std::string(text);
  };
  if (spec.dropout > 0)
    regularization += ", dropout " + number(spec.dropout) + (spec.dropout_per_sequence ? " per sequence" : "");
  for (const auto& [what, rates] : {std::pair{", zoneout", &spec.zoneout}, std::pair{", weight drop", &spec.weight_drop}}) {
    bool first = true;
    for (const auto& [name, p] : *rates)
      if (p > 0) {
        regularization += (first ? what : "") + (" " + name + " ") + number(p);
        first = false;
      }
  }
  std::printf("model    %s x %lld layers, hidden %lld, %s input%s, %s loss%s: %lld parameters; compiled for %d threads in %.1f s%s\n",
              spec.cell.name().c_str(), (long long)spec.layers, (long long)spec.hidden, train::encoding_name(spec.encoding),
              spec.encoding == train::InputEncoding::embedding ? (" " + std::to_string(spec.embedding)).c_str() : "",
              train::loss_mode_name(spec.loss), regularization.c_str(), (long long)trainer.network().parameter_count(), trainer.network().cells().threads(),
              trainer.network().cells().compile_stats().total_ms / 1000, trainer.network().cells().compile_stats().from_disk_cache ? " (cached)" : "");
  char optimizer[160], clip[64] = "off";
  std::snprintf(optimizer, sizeof optimizer, "%s lr %g", train::optimizer_name(c.optimizer.kind), c.optimizer.learning_rate);
  if (c.optimizer.kind == train::OptimizerKind::rmsprop)
    std::snprintf(optimizer + std::strlen(optimizer), 64, " decay %g eps %g", c.optimizer.alpha, c.optimizer.epsilon);
  if (c.optimizer.kind == train::OptimizerKind::adam)
    std::snprintf(optimizer + std::strlen(optimizer), 64, " betas %g %g eps %g", c.optimizer.beta1, c.optimizer.beta2, c.optimizer.epsilon);
  if (c.optimizer.kind == train::OptimizerKind::sgd && c.optimizer.momentum > 0)
    std::snprintf(optimizer + std::strlen(optimizer), 64, " momentum %g%s", c.optimizer.momentum, c.optimizer.nesterov ? " nesterov" : "");
  if (c.schedule.every > 0)
    std::snprintf(optimizer + std::strlen(optimizer), 64, ", x%g every %lld from %lld", c.schedule.decay,
                  (long long)c.schedule.every, (long long)c.schedule.after);
  if (c.clip.max_value > 0 && c.clip.max_norm > 0) std::snprintf(clip, sizeof clip, "by value at %g, by norm at %g", c.clip.max_value, c.clip.max_norm);
  else if (c.clip.max_value > 0) std::snprintf(clip, sizeof clip, "by value at %g", c.clip.max_value);
  else if (c.clip.max_norm > 0) std::snprintf(clip, sizeof clip, "by global norm at %g", c.clip.max_norm);
  std::printf("training %s, clip %s, init uniform(-%g, %g)", optimizer, clip, c.init.scale, c.init.scale);
  for (const train::ForgetBias& b : trainer.forget_biases())
    std::printf(", %s[%lld:%lld] = %g", b.parameter.c_str(), (long long)b.begin, (long long)b.end, c.init.forget_bias);
  std::printf(", seed %llu\n", (unsigned long long)c.seed);
  std::fflush(stdout);
}

}  // namespace

const std::vector<Option>& training_options() { return kRunOptions; }
train::TrainConfig training_config(const Args& args) { return config_from(args); }

void run_training_loop(train::Trainer& trainer, const LoopOptions& o) {
  std::unique_ptr<train::Sampler> sampler;
  auto sample = [&] {
    if (o.sample_length <= 0) return;
    if (!sampler) sampler = std::make_unique<train::Sampler>(trainer.spec(), trainer.vocabulary());
    sampler->load_parameters(trainer.network());
    train::SampleOptions s;
    s.length = o.sample_length;
    s.temperature = o.sample_temperature;
    s.seed = o.sample_seed;
    s.prime = o.sample_prime;
    std::printf("---- sample (temperature %g, seed %llu) ----\n%s\n----\n", s.temperature, (unsigned long long)s.seed,
                sampler->sample(s).c_str());
  };
  double last_val = std::nan("");
  auto evaluate = [&] {
    if (trainer.has_validation()) last_val = trainer.validate();
    if (!o.checkpoint.empty()) trainer.save(o.checkpoint);
    if (!o.csv.empty()) train::write_loss_csv(o.csv, trainer.train_losses(), trainer.val_losses());
    if (!o.svg.empty()) plot::write_svg(o.svg, train::loss_plot(o.title, trainer.train_losses(), trainer.val_losses()));
  };
  const int64_t start_iteration = trainer.progress().iteration;
  const int64_t chars = trainer.characters_per_step();
  const auto start = Clock::now();
  auto window_start = start;
  int64_t window_iterations = 0, refused_in_a_row = 0;
  double window_loss = 0;
  int window_losses = 0;
  const double start_seconds = trainer.progress().seconds;
  if (trainer.progress().iteration >= o.iterations) {
    std::printf("the run is at iteration %lld of %lld: nothing to train; writing its files\n",
                (long long)trainer.progress().iteration, (long long)o.iterations);
    evaluate();
  }
  while (trainer.progress().iteration < o.iterations) {
    const train::IterationReport r = trainer.train_step();
    ++window_iterations;
    if (std::isfinite(r.loss)) window_loss += r.loss, ++window_losses;
    if (!r.step.applied) {
      std::fprintf(stderr, "cellforge train: warning: %s\n", r.step.refused.c_str());
      if (++refused_in_a_row >= 10)
        user_error("10 updates in a row were refused (the last: ", r.step.refused,
                   "); training diverged. Lower --lr, or clip with --clip V or --clip-norm N");
    } else {
      refused_in_a_row = 0;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const bool out_of_time = o.time_limit > 0 && elapsed >= o.time_limit;
    const bool last = r.iteration >= o.iterations || out_of_time;
    const bool eval_now = last || (o.eval_every > 0 && r.iteration % o.eval_every == 0);
    if (eval_now) evaluate();
    if (r.iteration % std::max<int64_t>(o.print_every, 1) == 0 || eval_now) {
      const double window = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double rate = window > 0 ? static_cast<double>(window_iterations * chars) / window : 0;
      const double overall = static_cast<double>((r.iteration - start_iteration) * chars) / std::max(elapsed, 1e-9);
      double eta = static_cast<double>((o.iterations - r.iteration) * chars) / std::max(overall, 1e-9);
      if (o.time_limit > 0) eta = std::min(eta, o.time_limit - elapsed);
      char val[32] = "     -";
      if (std::isfinite(last_val)) std::snprintf(val, sizeof val, "%6.4f", last_val);
      char total[32] = "";
      if (o.show_total) std::snprintf(total, sizeof total, "/%lld", (long long)o.iterations);
      std::printf("iter %6lld%s  epoch %5.2f  train %6.4f  val %s  lr %.2e  |g| %7.3f%s  %s chars/s  ETA %s\n",
                  (long long)r.iteration, total, static_cast<double>(r.iteration) / static_cast<double>(trainer.train_batches()),
                  window_losses ? window_loss / window_losses : std::nan(""), val, r.learning_rate, r.step.grad_norm,
                  r.step.clipped ? "*" : " ", rate_text(rate).c_str(), duration_text(last ? 0 : eta).c_str());
      std::fflush(stdout);
      window_start = Clock::now(), window_iterations = 0, window_loss = 0, window_losses = 0;
    }
    if (eval_now) sample();
    if (out_of_time) {
      std::printf("time limit of %s reached at iteration %lld\n", duration_text(o.time_limit).c_str(), (long long)r.iteration);
      break;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const train::TrainingProgress& p = trainer.progress();
  const double trained = static_cast<double>((p.iteration - start_iteration) * chars);
  // Training speed counts the training steps only (forward, loss, backward, clipping, update), not
  // validation, samples or file writes: the same measure scripts/torch_char_rnn.py reports.
  const double train_rate = trained / std::max(p.seconds - start_seconds, 1e-9);
  std::printf("done     %lld iterations (%lld this run) in %s: %s chars/s training (%s overall); %lld of %lld steps clipped (*), %lld refused",
              (long long)p.iteration, (long long)(p.iteration - start_iteration), duration_text(elapsed).c_str(),
              rate_text(train_rate).c_str(), rate_text(trained / std::max(elapsed, 1e-9)).c_str(),
              (long long)p.clipped_steps, (long long)p.iteration, (long long)p.refused_steps);
  if (std::isfinite(last_val)) std::printf("; validation loss %.4f nats/char (%.3f bits/char)", last_val, last_val / std::log(2.0));
  std::printf("\n");
  if (!o.checkpoint.empty()) std::printf("wrote    %s", o.checkpoint.c_str());
  if (!o.csv.empty()) std::printf("%s%s", o.checkpoint.empty() ? "wrote    " : ", ", o.csv.c_str());
  if (!o.svg.empty()) std::printf(", %s", o.svg.c_str());
  std::printf("\n");
  if (!o.summary.empty()) {
    char json[512];
    std::snprintf(json, sizeof json,
                  "{\"iterations\": %lld, \"val_loss\": %.9g, \"train_chars_per_second\": %.6g, \"train_seconds\": %.6g, "
                  "\"clipped_steps\": %lld, \"refused_steps\": %lld, \"threads\": %d}\n",
                  (long long)p.iteration, std::isfinite(last_val) ? last_val : -1.0, train_rate, p.seconds - start_seconds,
                  (long long)p.clipped_steps, (long long)p.refused_steps, trainer.network().cells().threads());
    train::write_file_atomically(o.summary, json, "summary '" + o.summary + "'");
  }
}

// How long the run goes and what it reports, checked before anything is compiled.
LoopOptions loop_options(const Args& args) {
  LoopOptions o;
  o.iterations = args.integer("iterations", 1000);
  o.time_limit = args.number("time-limit", 0);
  o.print_every = args.integer("print-every", 10);
  o.eval_every = args.integer("eval-every", 250);
  const std::string out = args.text("out", "char-lm");
  o.checkpoint = args.text("checkpoint", out + ".ckpt");
  o.csv = out + ".csv";
  o.svg = out + ".svg";
  o.sample_length = args.integer("sample-length", 200);
  o.sample_temperature = args.number("temperature", 0.8);
  o.sample_seed = static_cast<uint64_t>(args.integer("sample-seed", 1));
  o.summary = args.text("summary", "");
  if (o.iterations < 0) user_error("option --iterations needs a count >= 0, got ", o.iterations);
  if (!(o.time_limit >= 0) || std::isinf(o.time_limit))
    user_error("option --time-limit needs seconds >= 0 (0: no limit), got ", args.text("time-limit"));
  if (o.print_every < 1) user_error("option --print-every needs a count of iterations >= 1, got ", o.print_every);
  if (o.eval_every < 0)
    user_error("option --eval-every needs a count of iterations >= 0 (0: only at the end), got ", o.eval_every);
  if (o.sample_length < 0) user_error("option --sample-length needs a count of characters >= 0, got ", o.sample_length);
  if (!(o.sample_temperature >= 0) || std::isinf(o.sample_temperature))
    user_error("option --temperature needs a finite number >= 0 (0: always the most likely character), got ",
               args.text("temperature"));
  return o;
}

int run_train(const Argv& argv) {
  Args args(argv, train_command());
  {
    // Where the run writes, checked before it compiles and trains.
    const std::string out = args.text("out", "char-lm");
    check_output_directory(args.text("checkpoint", out + ".ckpt"), "checkpoint");
    check_output_directory(out + ".csv", "loss curve");
    if (args.has("summary")) check_output_directory(args.text("summary"), "summary");
  }
  loop_options(args);  // refuse bad run options before the corpus is read and the network compiled
  const train::Corpus corpus = args.has("corpus") ? train::Corpus::from_file(args.text("corpus")) : train::Corpus::default_corpus();
  NetworkOptions net;
  net.threads = static_cast<int>(args.integer("threads", 0));
  std::unique_ptr<train::Trainer> trainer;
  if (args.has("resume")) {
    std::string ignored;
    for (const auto* group : {&kRunOptions, &kInitOptions})
      for (const Option& o : *group)
        if (args.has(o.name)) ignored += " --" + o.name;
    if (!ignored.empty())
      user_error("--resume continues with the checkpoint's own training settings; drop", ignored,
                 " (or start a new run without --resume)");
    train::ModelSpec expected;
    const bool check_model = args.has("cell") || args.has("graph");
    for (const Option& o : kModelOptions)
      if (args.has(o.name) && !check_model)
        user_error("--", o.name, " with --resume is checked against the checkpoint's model; give the cell too (--cell NAME or --graph FILE), or drop it");
    if (check_model) {
      expected.cell = cell_from(args);
      expected.vocabulary = corpus.vocabulary.size();
      expected.hidden = args.integer("hidden", 128);
      expected.layers = args.integer("layers", 2);
      expected.extra = extra_sizes(args.text("sizes", ""));
      expected.embedding = args.integer("embedding", 0);
      expected.encoding = expected.embedding > 0 ? train::InputEncoding::embedding : train::InputEncoding::one_hot;
      expected.loss = args.choice("loss", {"every", "last"}, "every") == "every" ? train::LossMode::every_step : train::LossMode::last_step;
      expected.dropout = dropout_from(args);
      expected.dropout_per_sequence = args.flag("variational-dropout");
      expected.zoneout = zoneout_from(args, expected.cell);
      expected.weight_drop = weight_drop_from(args);
    }
    train::ResumeOptions resume;
    resume.allow_inexact = args.flag("allow-inexact-resume");
    resume.expected = check_model ? &expected : nullptr;
    trainer = train::Trainer::resume(args.text("resume"), corpus, resume, net);
    std::printf("resumed  %s at iteration %lld (epoch %lld, batch %lld)\n", args.text("resume").c_str(),
                (long long)trainer->progress().iteration, (long long)trainer->progress().epoch,
                (long long)trainer->progress().batch_index);
  } else {
    train::ModelSpec spec;
    spec.cell = cell_from(args);
    spec.hidden = args.integer("hidden", 128);
    spec.layers = args.integer("layers", 2);
    spec.extra = extra_sizes(args.text("sizes", ""));
    spec.embedding = args.integer("embedding", 0);
    if (spec.embedding < 0) user_error("option --embedding needs a size >= 1 (or 0 for one-hot input), got ", spec.embedding);
    spec.encoding = spec.embedding > 0 ? train::InputEncoding::embedding : train::InputEncoding::one_hot;
    spec.loss = args.choice("loss", {"every", "last"}, "every") == "every" ? train::LossMode::every_step : train::LossMode::last_step;
    spec.dropout = dropout_from(args);
    spec.dropout_per_sequence = args.flag("variational-dropout");
    spec.zoneout = zoneout_from(args, spec.cell);
    spec.weight_drop = weight_drop_from(args);
    trainer = std::make_unique<train::Trainer>(spec, corpus, config_from(args), net);
  }
  print_header(*trainer, corpus);
  LoopOptions o = loop_options(args);
  o.title = trainer->spec().cell.name() + " x" + std::to_string(trainer->spec().layers) + ", hidden " +
            std::to_string(trainer->spec().hidden) + " on " + corpus.name;
  run_training_loop(*trainer, o);
  return 0;
}

}  // namespace cellforge::cli
