// Optimizers (SGD with momentum, Adam, RMSprop), learning-rate decay and gradient clipping, each
// written as PyTorch 1.13 and char-rnn's optim package write them, so the same hyperparameters
// mean the same thing here. One step:
//
//   1. check: a NaN or Inf anywhere in the gradients refuses the update (parameters and optimizer
//      state unchanged) and the report names the step, the parameter and the element;
//   2. clip by value (each element into [-v, v], char-rnn's grad_clip) and/or by global norm
//      (scale all gradients by max_norm / (norm + 1e-6) when the norm exceeds max_norm, PyTorch's
//      clip_grad_norm_); a step where either changed something counts as clipped;
//   3. update, per element in float:
//        sgd      buf = g (first step) or momentum*buf + g;  p -= lr * (nesterov ? g + momentum*buf : buf)
//        rmsprop  s = alpha*s + (1-alpha)*g^2;               p -= lr * g / (sqrt(s) + eps)
//        adam     m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//                 p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//      with weight decay (L2) added to g first when set.
//
// Every pass runs on the process's thread pool over fixed chunks of each parameter; the gradient
// norm sums each chunk's squares and then the chunks in order, so a step is the same bit for bit
// on any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/train/network.hpp"

namespace cellforge::jit {
class ThreadPool;
}

namespace cellforge::train {

enum class OptimizerKind { sgd, adam, rmsprop };
const char* optimizer_name(OptimizerKind kind);
/// The kind called `name`; throws UserError listing the known ones.
OptimizerKind optimizer_from_name(const std::string& name);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::rmsprop;
  double learning_rate = 2e-3;  // char-rnn's default
  double momentum = 0.0;        // sgd
  bool nesterov = false;        // sgd
  double beta1 = 0.9;           // adam
  double beta2 = 0.999;         // adam
  double alpha = 0.95;          // rmsprop's decay (char-rnn's decay_rate; PyTorch's alpha)
  double epsilon = 1e-8;        // adam, rmsprop
  double weight_decay = 0.0;
  /// Throws UserError naming a hyperparameter that is out of range or not finite.
  void check() const;
};

/// lr(i) = lr * decay^floor(max(0, i - after) / every) for the i-th update (from 0); every = 0
/// keeps lr constant. char-rnn's "decay 0.97 per epoch after 10 epochs" is every = batches per
/// epoch, after = 10 * every.
struct LearningRateSchedule {
  double decay = 1.0;
  int64_t every = 0;
  int64_t after = 0;
  double at(double base, int64_t iteration) const;
  void check() const;
};

/// 0 turns a kind of clipping off.
struct ClipConfig {
  double max_value = 0.0;  // clip each gradient element into [-max_value, max_value]
  double max_norm = 0.0;   // clip the global L2 norm of all gradients
  void check() const;
};

/// What one step did.
struct StepReport {
  bool applied = true;
  std::string refused;  // why the update was refused, when it was
  double grad_norm = 0;  // global L2 norm before clipping (NaN/Inf when refused for it)
  bool clipped = false;
  int64_t clipped_elements = 0;  // by value
};

/// A named optimizer state tensor ("layer0.W_hh.square_avg"), for checkpoints.
struct OptimizerSlot {
  std::string name;
  std::span<float> values;
};

class Optimizer {
 public:
  /// `threads`: the size of the thread pool the steps run on (the network's; 0: one per hardware
  /// thread). The results do not depend on it.
  Optimizer(const OptimizerConfig& config, const std::vector<ParameterView>& parameters, int threads = 1);

  /// Checks, clips and applies the gradients of `parameters` (the same list, in the same order, as
  /// at construction). `iteration` (1-based) is only used in messages.
  StepReport step(std::vector<ParameterView>& parameters, double learning_rate, const ClipConfig& clip,
                  int64_t iteration);

  const OptimizerConfig& config() const { return config_; }
  /// Updates applied so far (Adam's t).
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  std::vector<OptimizerSlot> slots();

 private:
  OptimizerConfig config_;
  std::vector<std::string> names_;
  std::vector<size_t> sizes_;  // elements per parameter
  std::vector<std::vector<float>> first_, second_;  // per parameter: momentum / m / square_avg, and v
  int64_t steps_ = 0;
  // A step's work: every parameter cut into chunks of at most kChunk elements, in order.
  struct Chunk {
    size_t parameter, begin, end;
  };
  static constexpr size_t kChunk = 8192;
  std::vector<Chunk> chunks_;
  std::vector<double> chunk_sums_;
  std::vector<int64_t> chunk_counts_;
  std::shared_ptr<jit::ThreadPool> pool_;

  /// Runs work(chunk) for every chunk, the chunks split among the pool's threads.
  template <class Work>
  void for_each_chunk(const Work& work);
  /// The gradients' sum of squares, in double: each chunk's, then the chunks' in order.
  double sum_of_squares(const std::vector<ParameterView>& parameters);
  void update(const Chunk& chunk, ParameterView& p, double learning_rate);
};

}  // namespace cellforge::train
