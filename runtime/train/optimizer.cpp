// Optimizers, schedule and clipping; see optimizer.hpp.
#include "runtime/train/optimizer.hpp"

#include <cmath>

#include "codegen/ir/error.hpp"

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

Optimizer::Optimizer(const OptimizerConfig& config, const std::vector<ParameterView>& parameters) : config_(config) {
  config_.check();
  for (const ParameterView& p : parameters) {
    names_.push_back(p.name);
    const bool first = config_.kind != OptimizerKind::sgd || config_.momentum > 0;
    first_.emplace_back(first ? p.value.size() : 0, 0.0f);
    second_.emplace_back(config_.kind == OptimizerKind::adam ? p.value.size() : 0, 0.0f);
  }
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
  // 1. Refuse a non-finite gradient before anything changes.
  double sum = 0;
  for (const ParameterView& p : parameters)
    for (float g : p.grad) sum += static_cast<double>(g) * g;
  report.grad_norm = std::sqrt(sum);
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
    for (ParameterView& p : parameters)
      for (float& g : p.grad)
        if (g > v || g < -v) g = g > v ? v : -v, ++report.clipped_elements;
    report.clipped = report.clipped_elements > 0;
  }
  if (clip.max_norm > 0) {
    double norm = report.grad_norm;
    if (report.clipped) {  // clipping by value changed the norm
      double s = 0;
      for (const ParameterView& p : parameters)
        for (float g : p.grad) s += static_cast<double>(g) * g;
      norm = std::sqrt(s);
    }
    const double coefficient = clip.max_norm / (norm + 1e-6);
    if (coefficient < 1) {
      const float c = static_cast<float>(coefficient);
      for (ParameterView& p : parameters)
        for (float& g : p.grad) g *= c;
      report.clipped = true;
    }
  }
  // 3. Update.
  ++steps_;
  const float lr = static_cast<float>(learning_rate), wd = static_cast<float>(config_.weight_decay);
  const float eps = static_cast<float>(config_.epsilon);
  for (size_t k = 0; k < parameters.size(); ++k) {
    std::span<float> w = parameters[k].value, grad = parameters[k].grad;
    std::vector<float>& a = first_[k];
    std::vector<float>& b = second_[k];
    switch (config_.kind) {
      case OptimizerKind::sgd: {
        const float mu = static_cast<float>(config_.momentum);
        for (size_t i = 0; i < w.size(); ++i) {
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
        for (size_t i = 0; i < w.size(); ++i) {
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
        for (size_t i = 0; i < w.size(); ++i) {
          const float g = grad[i] + wd * w[i];
          a[i] = b1 * a[i] + (1 - b1) * g;
          b[i] = b2 * b[i] + (1 - b2) * g * g;
          w[i] -= step_size * a[i] / (std::sqrt(b[i]) / root_bc2 + eps);
        }
        break;
      }
    }
  }
  return report;
}

}  // namespace cellforge::train
