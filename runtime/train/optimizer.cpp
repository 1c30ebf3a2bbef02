// Optimizers, schedule and clipping; see optimizer.hpp.
#include "runtime/train/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "codegen/ir/error.hpp"
#include "codegen/jit/thread_pool.hpp"

namespace cellforge::train {

namespace {

// A setting out of range: names it, its command-line option, the rule, the value and a fix.
void require(bool ok, const char* what, const char* option, double value, const char* rule, const char* example) {
  if (!ok) user_error(what, " (", option, ") must be ", rule, ", got ", value, "; for example ", option, " ", example);
}

std::string element(const ParameterView& p, size_t i) {
  if (!p.cols) return "[" + std::to_string(i) + "]";
  return "[" + std::to_string(static_cast<int64_t>(i) / p.cols) + ", " + std::to_string(static_cast<int64_t>(i) % p.cols) + "]";
}

}  // namespace

const char* optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::rmsprop: return "rmsprop";
  }
  return "?";
}

OptimizerKind optimizer_from_name(const std::string& name) {
  for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::adam, OptimizerKind::rmsprop})
    if (name == optimizer_name(k)) return k;
  user_error("unknown optimizer '", name, "'; known: sgd, adam, rmsprop");
}

void OptimizerConfig::check() const {
  require(std::isfinite(learning_rate) && learning_rate >= 0, "the learning rate", "--lr", learning_rate, "a finite number >= 0",
          "0.002");
  require(std::isfinite(momentum) && momentum >= 0 && momentum < 1, "momentum", "--momentum", momentum, "in [0, 1)", "0.9");
  require(std::isfinite(beta1) && beta1 >= 0 && beta1 < 1, "Adam's beta1", "--beta1", beta1, "in [0, 1)", "0.9");
  require(std::isfinite(beta2) && beta2 >= 0 && beta2 < 1, "Adam's beta2", "--beta2", beta2, "in [0, 1)", "0.999");
  require(std::isfinite(alpha) && alpha >= 0 && alpha < 1, "RMSprop's decay alpha", "--decay", alpha, "in [0, 1)",
          "0.95");
  require(std::isfinite(epsilon) && epsilon > 0, "epsilon", "--eps", epsilon, "a positive finite number", "1e-8");
  require(std::isfinite(weight_decay) && weight_decay >= 0, "weight decay", "--weight-decay", weight_decay, "a finite number >= 0",
          "1e-4");
  if (nesterov && (kind != OptimizerKind::sgd || momentum <= 0))
    user_error("Nesterov momentum needs --optimizer sgd with --momentum > 0");
}

double LearningRateSchedule::at(double base, int64_t iteration) const {
  if (every <= 0 || iteration < after) return base;
  return base * std::pow(decay, static_cast<double>((iteration - after) / every));
}

void LearningRateSchedule::check() const {
  require(std::isfinite(decay) && decay > 0 && decay <= 1, "the learning-rate decay", "--lr-decay", decay, "in (0, 1]", "0.97");
  require(every >= 0, "the learning-rate decay interval", "--lr-decay-every", static_cast<double>(every),
          ">= 0 (0: no decay)", "1000");
  require(after >= 0, "the learning-rate decay start", "--lr-decay-after", static_cast<double>(after), ">= 0",
          "5000");
}

void ClipConfig::check() const {
  require(std::isfinite(max_value) && max_value >= 0, "the gradient clip value", "--clip", max_value,
          "a finite number > 0 (0 turns clipping by value off)", "5");
  require(std::isfinite(max_norm) && max_norm >= 0, "the gradient norm limit", "--clip-norm", max_norm,
          "a finite number > 0 (0 turns clipping by norm off)", "5");
}

Optimizer::Optimizer(const OptimizerConfig& config, const std::vector<ParameterView>& parameters, int threads)
    : config_(config) {
  config_.check();
  for (const ParameterView& p : parameters) {
    names_.push_back(p.name);
    sizes_.push_back(p.value.size());
    const bool first = config_.kind != OptimizerKind::sgd || config_.momentum > 0;
    first_.emplace_back(first ? p.value.size() : 0, 0.0f);
    second_.emplace_back(config_.kind == OptimizerKind::adam ? p.value.size() : 0, 0.0f);
    for (size_t begin = 0; begin < p.value.size(); begin += kChunk)
      chunks_.push_back({names_.size() - 1, begin, std::min(p.value.size(), begin + kChunk)});
  }
  chunk_sums_.assign(chunks_.size(), 0.0);
  chunk_counts_.assign(chunks_.size(), 0);
  pool_ = jit::shared_thread_pool(threads > 0 ? threads : jit::hardware_threads());
}

template <class Work>
void Optimizer::for_each_chunk(const Work& work) {
  const size_t n = chunks_.size();
  pool_->run([&](int thread, int threads) {
    const size_t t = static_cast<size_t>(thread), count = static_cast<size_t>(threads);
    for (size_t c = n * t / count; c < n * (t + 1) / count; ++c) work(c);
  });
}

double Optimizer::sum_of_squares(const std::vector<ParameterView>& parameters) {
  for_each_chunk([&](size_t c) {
    const Chunk& chunk = chunks_[c];
    const std::span<const float> g = parameters[chunk.parameter].grad;
    double sum = 0;
    for (size_t i = chunk.begin; i < chunk.end; ++i) sum += static_cast<double>(g[i]) * g[i];
    chunk_sums_[c] = sum;
  });
  double sum = 0;
  for (double s : chunk_sums_) sum += s;
  return sum;
}

std::vector<OptimizerSlot> Optimizer::slots() {
  const char* first_name = config_.kind == OptimizerKind::sgd ? "momentum" : config_.kind == OptimizerKind::adam ? "m" : "square_avg";
  std::vector<OptimizerSlot> out;
  for (size_t k = 0; k < names_.size(); ++k) {
    if (!first_[k].empty()) out.push_back({names_[k] + "." + first_name, first_[k]});
    if (!second_[k].empty()) out.push_back({names_[k] + ".v", second_[k]});
  }
  return out;
}

StepReport Optimizer::step(std::vector<ParameterView>& parameters, double learning_rate, const ClipConfig& clip,
                           int64_t iteration) {
  if (parameters.size() != names_.size()) internal_error("Optimizer::step: ", parameters.size(), " parameters, built for ", names_.size());
  StepReport report;
  for (size_t k = 0; k < parameters.size(); ++k)
    if (parameters[k].value.size() != sizes_[k] || parameters[k].grad.size() != sizes_[k])
      internal_error("Optimizer::step: parameter '", parameters[k].name, "' has ", parameters[k].value.size(),
                     " values and ", parameters[k].grad.size(), " gradients, built for ", sizes_[k]);
  // 1. Refuse a non-finite gradient before anything changes.
  report.grad_norm = std::sqrt(sum_of_squares(parameters));
  if (!std::isfinite(report.grad_norm)) {
    for (const ParameterView& p : parameters)
      for (size_t i = 0; i < p.grad.size(); ++i)
        if (!std::isfinite(p.grad[i])) {
          report.applied = false;
          report.refused = detail::concat("gradient norm is ", std::isnan(report.grad_norm) ? "NaN" : "Inf",
                                          " at step ", iteration, " (first non-finite: '", p.name, "' element ",
                                          element(p, i), " = ", p.grad[i], "); the update was not applied");
          return report;
        }
    // Every element finite but the sum of squares overflowed double: still a real gradient.
    report.applied = false;
    report.refused = detail::concat("gradient norm overflows at step ", iteration, "; the update was not applied");
    return report;
  }
  // 2. Clip.
  if (clip.max_value > 0) {
    const float v = static_cast<float>(clip.max_value);
    for_each_chunk([&](size_t c) {
      const Chunk& chunk = chunks_[c];
      const std::span<float> g = parameters[chunk.parameter].grad;
      int64_t clipped = 0;
      for (size_t i = chunk.begin; i < chunk.end; ++i)
        if (g[i] > v || g[i] < -v) g[i] = g[i] > v ? v : -v, ++clipped;
      chunk_counts_[c] = clipped;
    });
    for (int64_t count : chunk_counts_) report.clipped_elements += count;
    report.clipped = report.clipped_elements > 0;
  }
  if (clip.max_norm > 0) {
    // Clipping by value changed the norm.
    const double norm = report.clipped ? std::sqrt(sum_of_squares(parameters)) : report.grad_norm;
    const double coefficient = clip.max_norm / (norm + 1e-6);
    if (coefficient < 1) {
      const float scale = static_cast<float>(coefficient);
      for_each_chunk([&](size_t c) {
        const Chunk& chunk = chunks_[c];
        const std::span<float> g = parameters[chunk.parameter].grad;
        for (size_t i = chunk.begin; i < chunk.end; ++i) g[i] *= scale;
      });
      report.clipped = true;
    }
  }
  // 3. Update.
  ++steps_;
  for_each_chunk([&](size_t c) { update(chunks_[c], parameters[chunks_[c].parameter], learning_rate); });
  return report;
}

void Optimizer::update(const Chunk& chunk, ParameterView& p, double learning_rate) {
  const float lr = static_cast<float>(learning_rate), wd = static_cast<float>(config_.weight_decay);
  const float eps = static_cast<float>(config_.epsilon);
  float* w = p.value.data();
  const float* grad = p.grad.data();
  float* a = first_[chunk.parameter].data();
  float* b = second_[chunk.parameter].data();
  switch (config_.kind) {
    case OptimizerKind::sgd: {
      const float mu = static_cast<float>(config_.momentum);
      for (size_t i = chunk.begin; i < chunk.end; ++i) {
        float g = grad[i] + wd * w[i];
        if (mu > 0) {
          a[i] = steps_ == 1 ? g : mu * a[i] + g;
          g = config_.nesterov ? g + mu * a[i] : a[i];
        }
        w[i] -= lr * g;
      }
      break;
    }
    case OptimizerKind::rmsprop: {
      const float alpha = static_cast<float>(config_.alpha);
      for (size_t i = chunk.begin; i < chunk.end; ++i) {
        const float g = grad[i] + wd * w[i];
        a[i] = alpha * a[i] + (1 - alpha) * g * g;
        w[i] -= lr * g / (std::sqrt(a[i]) + eps);
      }
      break;
    }
    case OptimizerKind::adam: {
      const float b1 = static_cast<float>(config_.beta1), b2 = static_cast<float>(config_.beta2);
      const double t = static_cast<double>(steps_);
      const float step_size = static_cast<float>(learning_rate / (1 - std::pow(config_.beta1, t)));
      const float root_bc2 = static_cast<float>(std::sqrt(1 - std::pow(config_.beta2, t)));
      for (size_t i = chunk.begin; i < chunk.end; ++i) {
        const float g = grad[i] + wd * w[i];
        a[i] = b1 * a[i] + (1 - b1) * g;
        b[i] = b2 * b[i] + (1 - b2) * g * g;
        w[i] -= step_size * a[i] / (std::sqrt(b[i]) / root_bc2 + eps);
      }
      break;
    }
  }
}

}  // namespace cellforge::train
