// Sampling; see sampler.hpp.
#include "runtime/train/sampler.hpp"

#include <algorithm>
#include <cmath>

#include "codegen/ir/error.hpp"

namespace cellforge::train {

namespace {

// The network a sampler runs. At T = 1 the two loss modes are the same network; and a sampler never
// trains, so dropout and weight drop (which inference leaves out) are not compiled in at all.
// Zoneout stays: inference blends each zoned state by its rate.
ModelSpec for_sampling(ModelSpec spec) {
  spec.loss = LossMode::every_step;
  spec.dropout = 0;
  spec.dropout_per_sequence = false;
  spec.weight_drop.clear();
  return spec;
}

// softmax(logits / temperature) in double; temperature 0 puts all mass on the first maximum.
std::vector<double> distribution(std::span<const float> logits, double temperature) {
  std::vector<double> p(logits.size(), 0.0);
  const size_t best = static_cast<size_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  if (temperature == 0) {
    p[best] = 1;
    return p;
  }
  double sum = 0;
  for (size_t j = 0; j < p.size(); ++j) sum += p[j] = std::exp((logits[j] - logits[best]) / temperature);
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace

Sampler::Sampler(const ModelSpec& spec, Vocabulary vocabulary, const NetworkOptions& options)
    : network_(for_sampling(spec), 1, 1, options), vocabulary_(std::move(vocabulary)) {
  if (vocabulary_.size() != spec.vocabulary)
    user_error("the vocabulary has ", vocabulary_.size(), " characters but the model ", spec.vocabulary);
}

std::unique_ptr<Sampler> Sampler::from_checkpoint(const std::string& path, const NetworkOptions& options) {
  Checkpoint c = load_checkpoint(path);
  auto sampler = std::make_unique<Sampler>(c.model, c.vocabulary, options);
  std::vector<ParameterView> params = sampler->network_.parameters();
  for (size_t k = 0; k < params.size(); ++k)
    std::copy(c.parameters.at(k).values.begin(), c.parameters.at(k).values.end(), params[k].value.begin());
  return sampler;
}

void Sampler::load_parameters(Network& trained) {
  network_.copy_parameters_from(trained);
  packed_ = false;
}

std::span<const float> Sampler::step(int32_t token, States& states) {
  std::span<const float> logits = network_.forward_logits(std::span<const int32_t>(&token, 1), states, packed_);
  packed_ = true;
  return logits;
}

std::vector<double> Sampler::next_distribution(const std::string& text, double temperature) {
  if (text.empty()) user_error("next_distribution needs at least one character");
  const std::vector<int32_t> tokens = vocabulary_.encode(text, "the text");
  States states = network_.zero_states();
  std::span<const float> logits;
  for (int32_t t : tokens) logits = step(t, states);
  return distribution(logits, temperature);
}

std::string Sampler::sample(const SampleOptions& options) {
  std::string out;
  sample_to(options, [&](std::string_view text) { out += text; });
  return out;
}

void Sampler::sample_to(const SampleOptions& options, const std::function<void(std::string_view)>& write) {
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature))
    user_error("the temperature (--temperature) must be a finite number >= 0 (0: always the most likely character), got ",
               options.temperature, "; for example --temperature 0.8");
  if (options.length < 0)
    user_error("the sample length (--length) must be >= 0, got ", options.length, "; for example --length 500");
  std::vector<int32_t> prime = vocabulary_.encode(options.prime, "the priming text");
  if (prime.empty()) prime.push_back(vocabulary_.contains('\n') ? vocabulary_.token('\n') : 0);
  Rng rng(options.seed);
  States states = network_.zero_states();
  std::span<const float> logits;
  for (int32_t t : prime) logits = step(t, states);
  write(options.prime);
  for (int64_t i = 0; i < options.length; ++i) {
    const std::vector<double> p = distribution(logits, options.temperature);
    double u = rng.uniform();
    int32_t next = static_cast<int32_t>(p.size()) - 1;
    for (size_t j = 0; j < p.size(); ++j) {
      if (u < p[j]) {
        next = static_cast<int32_t>(j);
        break;
      }
      u -= p[j];
    }
    const char symbol = vocabulary_.symbol(next);
    write(std::string_view(&symbol, 1));
    logits = step(next, states);
  }
}

}  // namespace cellforge::train
