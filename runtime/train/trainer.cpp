// The training loop, validation, checkpoint and resume; see trainer.hpp.
#include "runtime/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <map>

#include "codegen/ir/error.hpp"

namespace cellforge::train {

namespace {

std::span<const int32_t> targets_for(const ModelSpec& spec, const Batch& b, int64_t batch) {
  std::span<const int32_t> all(b.targets);
  return spec.loss == LossMode::every_step ? all : all.last(static_cast<size_t>(batch));
}

bool all_finite(const States& states) {
  for (const auto& s : states)
    for (float v : s)
      if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

uint64_t dropout_seed(uint64_t seed, int64_t iteration) {
  // A stream of its own (the constant tags it), then one counter value per iteration.
  return hash64(hash64(seed ^ 0x64726F706F7574ull /* "dropout" */) + static_cast<uint64_t>(iteration));
}

Trainer::Trainer(const ModelSpec& spec, const Corpus& corpus, const TrainConfig& config, const NetworkOptions& options)
    : spec_(spec), config_(config), vocabulary_(corpus.vocabulary), corpus_(CorpusFingerprint::of(corpus)) {
  if (spec_.vocabulary != 0 && spec_.vocabulary != vocabulary_.size())
    user_error("the model has a vocabulary of ", spec_.vocabulary, " characters but the corpus '", corpus.name, "' has ",
               vocabulary_.size());
  spec_.vocabulary = vocabulary_.size();
  build(corpus, options);
  rng_.reseed(config_.seed);
  forget_biases_ = initialize(*network_, rng_, config_.init);
}

Trainer::Trainer(const Checkpoint& c, const Corpus& corpus, const NetworkOptions& options)
    : spec_(c.model), config_(c.config), vocabulary_(c.vocabulary), corpus_(c.corpus) {
  build(corpus, options);
  std::vector<ParameterView> params = network_->parameters();
  for (size_t k = 0; k < params.size(); ++k)  // decode_checkpoint checked names and shapes
    std::copy(c.parameters.at(k).values.begin(), c.parameters.at(k).values.end(), params[k].value.begin());
  std::map<std::string, const FloatTensor*> slots;
  for (const FloatTensor& t : c.optimizer) slots[t.name] = &t;
  for (OptimizerSlot& slot : optimizer_->slots()) {
    auto it = slots.find(slot.name);
    if (it == slots.end() || it->second->values.size() != slot.values.size())
      internal_error("checkpoint optimizer slot '", slot.name, "' missing after verification");
    std::copy(it->second->values.begin(), it->second->values.end(), slot.values.begin());
  }
  optimizer_->set_steps(c.progress.optimizer_steps);
  const std::vector<std::string> names = network_->state_names();
  for (size_t k = 0; k < names.size(); ++k) {
    if (c.states.at(k).name != names[k] || c.states[k].values.size() != states_[k].size())
      internal_error("checkpoint state '", names[k], "' does not line up after verification");
    states_[k] = c.states[k].values;
  }
  rng_.set_state(c.rng);
  progress_ = c.progress;
  train_losses_ = c.train_losses;
  val_losses_ = c.val_losses;
  forget_biases_ = find_forget_biases(spec_);
}

void Trainer::build(const Corpus& corpus, const NetworkOptions& options) {
  config_.check();
  TextSplit split = split_text(corpus, config_.val_fraction);
  train_stream_ = std::make_unique<BatchStream>(std::move(split.train), config_.batch, config_.unroll, "the training text");
  if (static_cast<int64_t>(split.val.size()) > config_.batch * config_.unroll)
    val_stream_ = std::make_unique<BatchStream>(std::move(split.val), config_.batch, config_.unroll, "the validation text");
  network_ = std::make_unique<Network>(spec_, config_.batch, config_.unroll, options);
  optimizer_ = std::make_unique<Optimizer>(config_.optimizer, network_->parameters(), network_->cells().threads());
  states_ = network_->zero_states();
}

std::unique_ptr<Trainer> Trainer::resume(const std::string& path, const Corpus& corpus, const ResumeOptions& resume,
                                         const NetworkOptions& options) {
  Checkpoint c = load_checkpoint(path);
  if (resume.expected) check_model_matches(c, path, *resume.expected);
  if (c.corpus.bytes != static_cast<int64_t>(corpus.text.size()) || c.corpus.crc32c != CorpusFingerprint::of(corpus).crc32c)
    user_error("checkpoint '", path, "' was trained on '", c.corpus.name, "' (", c.corpus.bytes, " bytes, CRC-32C ",
               c.corpus.crc32c, "), but the corpus given is '", corpus.name, "' (", corpus.text.size(), " bytes, CRC-32C ",
               CorpusFingerprint::of(corpus).crc32c, "); resume on the same text, or start a new run");
  if (c.machine != machine_signature() && !resume.allow_inexact)
    user_error("checkpoint '", path, "' was written on ", c.machine, ", this is ", machine_signature(),
               "; exact resume needs the same CPU and LLVM. Pass --allow-inexact-resume to continue anyway");
  return std::unique_ptr<Trainer>(new Trainer(c, corpus, options));
}

IterationReport Trainer::train_step() {
  const auto start = std::chrono::steady_clock::now();
  IterationReport report;
  const Batch b = train_stream_->batch(progress_.batch_index);
  const int64_t iteration = progress_.iteration + 1;
  report.loss = network_->train_batch(b.inputs, targets_for(spec_, b, config_.batch), states_,
                                      dropout_seed(config_.seed, iteration));
  report.learning_rate = config_.schedule.at(config_.optimizer.learning_rate, progress_.iteration);
  if (!std::isfinite(report.loss)) {
    report.step.applied = false;
    report.step.refused = detail::concat("loss is ", report.loss, " at step ", iteration, "; the update was not applied");
  } else {
    std::vector<ParameterView> params = network_->parameters();
    report.step = optimizer_->step(params, report.learning_rate, config_.clip, iteration);
  }
  if (report.step.applied) {
    ++progress_.optimizer_steps;
    if (report.step.clipped) ++progress_.clipped_steps;
  } else {
    ++progress_.refused_steps;
    if (!all_finite(states_)) states_ = network_->zero_states();
  }
  progress_.iteration = iteration;
  if (++progress_.batch_index == train_stream_->batches()) {
    progress_.batch_index = 0;
    ++progress_.epoch;
    states_ = network_->zero_states();
  }
  train_losses_.push_back({iteration, report.loss});
  report.iteration = iteration;
  report.epoch = progress_.epoch;
  progress_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

double Trainer::validate() {
  if (!val_stream_)
    user_error("there is no validation text: the last ", config_.val_fraction * 100, "% of the corpus is shorter than one batch of ",
               config_.batch, " x ", config_.unroll, " characters; use a longer text, a larger --val-fraction or a smaller batch");
  States states = network_->zero_states();
  const int64_t n = config_.val_batches > 0 ? std::min(config_.val_batches, val_stream_->batches()) : val_stream_->batches();
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) {
    const Batch b = val_stream_->batch(k);
    // The parameters do not change during a validation: after its first batch, the weights that
    // batch packed are used again.
    sum += network_->evaluate_batch(b.inputs, targets_for(spec_, b, config_.batch), states, /*parameters_unchanged=*/k > 0);
  }
  const double loss = sum / static_cast<double>(n);
  val_losses_.push_back({progress_.iteration, loss});
  return loss;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.model = spec_;
  c.vocabulary = vocabulary_;
  c.config = config_;
  c.progress = progress_;
  c.corpus = corpus_;
  c.rng = rng_.state();
  c.machine = machine_signature();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const ParameterView& p : network_->parameters()) {
    c.parameters.push_back({p.name, p.shape(), std::vector<float>(p.value.begin(), p.value.end())});
    shapes[p.name] = p.shape();
  }
  for (const OptimizerSlot& s : optimizer_->slots())
    c.optimizer.push_back({s.name, shapes.at(s.name.substr(0, s.name.rfind('.'))), std::vector<float>(s.values.begin(), s.values.end())});
  const std::vector<std::string> names = network_->state_names();
  for (size_t k = 0; k < names.size(); ++k)
    c.states.push_back({names[k], {static_cast<int64_t>(states_[k].size())}, states_[k]});
  c.train_losses = train_losses_;
  c.val_losses = val_losses_;
  return c;
}

void Trainer::save(const std::string& path) const { save_checkpoint(path, checkpoint()); }

}  // namespace cellforge::train
