// The language-model network: input encoding -> L stacked compiled cells -> a compiled output head
// -> softmax cross-entropy. This is the runtime's `Network` of DESIGN.md: everything with a time
// loop or a matrix product runs in code the JIT compiled; the loss and the embedding gather and
// scatter are the only C++ loops over data here.
//
//   tokens [T][B] --encode--> x [T][B][X] --cells (T steps, L layers)--> y [T][B][Y]
//          --head: W y + b--> logits [T][B][V] --softmax, cross-entropy--> loss
//
// The input is one-hot (X = V, as char-rnn) or a learned embedding table [V, E] (X = E; a gather
// before the cells, a scatter-add of dx into its gradient). The loss is the mean over every step
// (many-to-many: predict each next character) or over the last step only (many-to-one: one label
// per sequence, e.g. classification; the head then runs on the last step's output alone).
//
// Dropout (ModelSpec::dropout = p, char-rnn's -dropout): during training every input feature of
// the layers above the first and of the head is zeroed with probability p and the rest scaled by
// 1/(1-p) (inverted dropout), each element of each step and sequence drawn on its own; the
// network's input and the recurrent connections are never dropped. The compiled cells drop the
// inputs of layers 1..L-1 (NetworkSpec::dropout); the head's input is dropped here, by a C++ loop
// over y, with a mask drawn the same way (codegen/jit/dropout_mask.hpp), the head as stream L.
// With dropout_per_sequence every mask is drawn for one step and repeated at every step
// (variational dropout).
// Only train_batch() drops; evaluate_batch() and forward_logits() run the whole network, unscaled.
//
// Zoneout (ModelSpec::zoneout, e.g. {c: 0.5, h: 0.05}) is the compiled cells' own
// (NetworkSpec::zoneout): in train_batch() each element of a zoned state keeps its previous value
// with probability z, drawn from the same per-iteration seed as dropout; evaluate_batch() and
// forward_logits() blend z * previous + (1 - z) * new, its expectation. Weight drop
// (ModelSpec::weight_drop) is the compiled network's too: one mask per training step, from the
// same seed.
//
// Parameters are named: "embedding", "layer<l>.<cell parameter>" (l from 0), "head.W", "head.b".
// The recurrent state is carried by the caller: train_batch() reads the states and replaces them
// with the states after the last step (truncated BPTT: no gradient flows into the previous batch).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "codegen/jit/compiled_network.hpp"

namespace cellforge::jit {
class ThreadPool;
}

namespace cellforge::train {

enum class InputEncoding { one_hot, embedding };
enum class LossMode { every_step, last_step };

const char* encoding_name(InputEncoding encoding);  // "one_hot", "embedding"
const char* loss_mode_name(LossMode mode);          // "every_step", "last_step"

/// What the model is, independent of batch size and unroll length (which may differ between
/// training and sampling).
struct ModelSpec {
  ir::Graph cell;
  int64_t vocabulary = 0;  // V
  int64_t hidden = 0;      // H of the cell
  int64_t layers = 1;      // L
  ir::Bindings extra;      // the cell's other sizes, e.g. {"P": 64}
  InputEncoding encoding = InputEncoding::one_hot;
  int64_t embedding = 0;   // E, for InputEncoding::embedding
  LossMode loss = LossMode::every_step;
  double dropout = 0;      // p in [0, 1): dropout on the inputs of layers 1..L-1 and of the head, in training
  bool dropout_per_sequence = false;  // one dropout mask per sequence for all steps (variational, AWD-LSTM's LockedDropout)
  /// Zoneout (NetworkSpec::zoneout): state name -> z in [0, 1), the chance an element of that state
  /// keeps its previous value at a training step; evaluation and sampling blend by z.
  std::map<std::string, double> zoneout;
  /// Weight drop (NetworkSpec::weight_drop, AWD-LSTM's WeightDrop): cell parameter name -> p in
  /// [0, 1), e.g. {W_hh: 0.5}; in every layer, each element is zeroed with probability p for a
  /// training step (the rest scaled by 1/(1-p)); evaluation and sampling use the weights as they are.
  std::map<std::string, double> weight_drop;

  /// Checks the sizes, the dropout and the cell; throws UserError naming what is wrong.
  void check() const;
};

/// The output head as a stateless cell: logits = W y + b, with y of size X and V = H logits.
ir::Graph output_head();

/// A parameter's name and shape ([rows] or [rows, cols]).
struct ParameterShape {
  std::string name;
  std::vector<int64_t> shape;
};

/// The parameters a Network of `spec` has, in Network::parameters() order, worked out from the
/// cell and sizes alone (no compilation): what a checkpoint must contain.
std::vector<ParameterShape> parameter_shapes(const ModelSpec& spec);

/// The cell's states in Network::state_names() order, and the floats of each for `batch` sequences.
std::vector<std::pair<std::string, int64_t>> state_sizes(const ModelSpec& spec, int64_t batch);

/// One named parameter tensor and its gradient, as the optimizer sees it.
struct ParameterView {
  std::string name;
  int64_t rows = 0;
  int64_t cols = 0;  // 0 for a vector
  std::span<float> value;
  std::span<float> grad;
  std::vector<int64_t> shape() const { return cols ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{rows}; }
};

/// The recurrent state of every layer: one buffer per state of the cell, [L][B][S] each.
using States = std::vector<std::vector<float>>;

class Network {
 public:
  /// Compiles the cells and the head for `batch` sequences of `unroll` steps.
  Network(const ModelSpec& spec, int64_t batch, int64_t unroll, const NetworkOptions& options = {});

  const ModelSpec& spec() const { return spec_; }
  int64_t batch() const { return batch_; }
  int64_t unroll() const { return unroll_; }
  const CompiledNetwork& cells() const { return cells_; }

  /// Every parameter, in a fixed order: embedding, layer 0 ... L-1 (the cell's declaration order),
  /// head.W, head.b.
  std::vector<ParameterView> parameters();
  int64_t parameter_count() const;
  /// Copies every parameter from `other` (same spec, any batch/unroll).
  void copy_parameters_from(Network& other);

  States zero_states() const;
  std::vector<std::string> state_names() const { return cells_.state_names(); }
  /// Throws UserError unless `states` has the shape zero_states() gives.
  void check_states(const States& states) const;

  /// Forward, loss and backward over one batch: inputs [T][B] tokens; targets [T][B] tokens
  /// (every_step) or [B] (last_step). Leaves the gradients in parameters()[k].grad (overwritten,
  /// not accumulated) and the final states in `states`. Returns the mean cross-entropy in nats.
  /// With dropout, `dropout_seed` chooses the masks: the same seed gives the same masks (and the
  /// same result), whatever the thread count, so give each batch its own (Trainer does:
  /// dropout_seed(run seed, iteration)). Without dropout it is ignored.
  double train_batch(std::span<const int32_t> inputs, std::span<const int32_t> targets, States& states,
                     uint64_t dropout_seed = 0);
  /// The same loss without gradients and without dropout (`parameters_unchanged`: as in
  /// forward_logits).
  double evaluate_batch(std::span<const int32_t> inputs, std::span<const int32_t> targets, States& states,
                        bool parameters_unchanged = false);
  /// Runs the forward pass (without dropout) and returns the logits: [T][B][V] (every_step) or
  /// [B][V] (last_step). `parameters_unchanged`: no parameter changed since the previous forward
  /// pass of this network, whose packed weights are then used again (CallOptions).
  std::span<const float> forward_logits(std::span<const int32_t> inputs, States& states,
                                        bool parameters_unchanged = false);

 private:
  void encode(std::span<const int32_t> inputs);
  void run_forward(std::span<const int32_t> inputs, States& states, const CallOptions& call);
  std::span<const float> head_input() const;
  NetworkInput cell_input() const;  // what encode() made of the inputs
  void draw_head_mask(uint64_t dropout_seed);
  double loss_and_gradient(std::span<const int32_t> targets, bool with_gradient);

  ModelSpec spec_;
  int64_t batch_, unroll_;
  CompiledNetwork cells_;
  CompiledNetwork head_;
  int64_t head_rows_;  // rows the head sees: T*B (every_step) or B (last_step)
  std::vector<float> embedding_, embedding_grad_;
  std::vector<float> cell_params_, cell_grads_, head_params_, head_grads_;
  std::vector<int32_t> indices_;  // one-hot input: the batch's characters, [T][B]
  std::vector<float> x_, dx_, y_, dy_, head_dx_, logits_, dlogits_;  // x_, dx_: an embedding's rows
  std::vector<float> head_mask_, y_dropped_;  // dropout on the head's input: [rows the head sees][Y] each
  bool head_dropped_ = false;                 // the last forward pass fed the head y_dropped_
  std::vector<double> row_loss_, exp_scratch_;  // the loss: each row's, and exp(z - max z) of a row per thread
  std::shared_ptr<jit::ThreadPool> pool_;       // the cells' threads, which also draw the head's mask and the loss
  States final_states_, d_final_states_, d_initial_states_;
};

}  // namespace cellforge::train
