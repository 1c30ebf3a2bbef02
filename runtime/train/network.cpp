// The language-model network; see network.hpp.
#include "runtime/train/network.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "codegen/ir/error.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/ir/verify.hpp"
#include "codegen/jit/dropout_mask.hpp"
#include "codegen/jit/thread_pool.hpp"

namespace cellforge::train {

const char* encoding_name(InputEncoding encoding) {
  return encoding == InputEncoding::one_hot ? "one_hot" : "embedding";
}
const char* loss_mode_name(LossMode mode) { return mode == LossMode::every_step ? "every_step" : "last_step"; }

void ModelSpec::check() const {
  if (vocabulary < 1) user_error("the vocabulary must have at least 1 character, got ", vocabulary);
  if (hidden < 1) user_error("hidden size must be >= 1, got ", hidden, "; pass --hidden N");
  if (layers < 1) user_error("number of layers must be >= 1, got ", layers, "; pass --layers N");
  if (encoding == InputEncoding::embedding && embedding < 1)
    user_error("embedding size must be >= 1, got ", embedding, "; pass --embedding N, or 0 for one-hot input");
  if (!(dropout >= 0 && dropout < 1)) user_error("dropout must be a probability in [0, 1), got ", dropout, "; pass --dropout P");
  if (dropout_per_sequence && dropout == 0)
    user_error("dropout per sequence (--variational-dropout) needs a dropout probability; pass --dropout P as well");
  ir::verify_cell(cell);
  // Weight drop names parameters, zoneout states, of the cell; each rate a probability.
  auto check_rates = [&](const std::map<std::string, double>& rates, const char* what, const char* option, ir::Op kind,
                         const char* kind_name, const char* letter, const char* hint) {
    for (const auto& [name, p] : rates) {
      if (!(p >= 0 && p < 1))
        user_error(what, " of ", kind_name, " '", name, "' must be a probability in [0, 1), got ", p, "; pass --", option,
                   " ", name, "=", letter);
      if (cell.find_leaf(kind, name) < 0) {
        std::string known;
        for (ir::NodeId id : cell.leaves(kind)) known += (known.empty() ? "" : ", ") + cell.node(id).name;
        user_error(what, " names ", kind_name, " '", name, "', but cell '", cell.name(), "' has the ", kind_name, "s ",
                   known, "; pass --", option, " NAME=", letter, " for one of them", hint);
      }
    }
  };
  check_rates(weight_drop, "weight drop", "weight-drop", ir::Op::param, "parameter", "P",
              " (W_hh for AWD-LSTM's recurrent weight drop)");
  check_rates(zoneout, "zoneout", "zoneout", ir::Op::state, "state", "Z", "");
}

ir::Graph output_head() {
  ir::Graph g("head");
  const ir::NodeId y = g.input("y", ir::Dim::named("X"));
  const ir::NodeId w = g.param("W", ir::Dim::named("H"), ir::Dim::named("X"));
  const ir::NodeId b = g.param("b", ir::Dim::named("H"));
  const ir::NodeId logits = g.add(g.matmul(w, y), b);
  g.set_label(logits, "logits");
  g.add_output(ir::Role::output, "logits", logits);
  return g;
}

namespace {

ir::NetworkSizes cell_sizes(const ModelSpec& spec, int64_t batch, int64_t unroll) {
  ir::NetworkSizes s;
  s.input = spec.encoding == InputEncoding::one_hot ? spec.vocabulary : spec.embedding;
  s.hidden = spec.hidden;
  s.batch = batch;
  s.unroll = unroll;
  s.layers = spec.layers;
  s.extra = spec.extra;
  return s;
}

// The stacked cells. Their dropout is between layers only, so a single layer compiles without it:
// the same code (and disk-cache entry) as the network without dropout. Only an embedding needs the
// gradient of the cells' input; one-hot characters do not, and BPTT skips computing it.
ir::NetworkSpec cell_network(const ModelSpec& spec, int64_t batch, int64_t unroll) {
  ir::NetworkSpec network = ir::NetworkSpec::stack(spec.cell, cell_sizes(spec, batch, unroll));
  network.dropout = spec.layers > 1 ? spec.dropout : 0.0;
  network.dropout_per_sequence = spec.layers > 1 && spec.dropout_per_sequence;
  network.input_gradient = spec.encoding == InputEncoding::embedding;
  network.one_hot_input = spec.encoding == InputEncoding::one_hot;
  network.zoneout = spec.zoneout;
  network.weight_drop = spec.weight_drop;
  return network;
}

const ModelSpec& checked(const ModelSpec& spec) {
  spec.check();
  return spec;
}

}  // namespace

std::vector<ParameterShape> parameter_shapes(const ModelSpec& spec) {
  const ir::Graph& cell = spec.cell;
  const ir::NetworkSizes sizes = cell_sizes(spec, 1, 1);
  std::vector<ParameterShape> shapes;
  if (spec.encoding == InputEncoding::embedding) shapes.push_back({"embedding", {spec.vocabulary, spec.embedding}});
  int64_t top_output = 0;
  for (int64_t l = 0; l < spec.layers; ++l) {
    const ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    for (ir::NodeId p : cell.leaves(ir::Op::param)) {
      const ir::Type& t = cell.type(p);
      std::vector<int64_t> shape{t.rows.bind(b)};
      if (t.is_matrix()) shape.push_back(t.cols.bind(b));
      shapes.push_back({"layer" + std::to_string(l) + "." + cell.node(p).name, shape});
    }
    for (const ir::Output& o : cell.outputs())
      if (o.role == ir::Role::output) top_output = cell.type(o.node).rows.bind(b);
  }
  shapes.push_back({"head.W", {spec.vocabulary, top_output}});
  shapes.push_back({"head.b", {spec.vocabulary}});
  return shapes;
}

std::vector<std::pair<std::string, int64_t>> state_sizes(const ModelSpec& spec, int64_t batch) {
  const ir::NetworkSizes sizes = cell_sizes(spec, batch, 1);
  std::vector<std::pair<std::string, int64_t>> states;
  for (ir::NodeId s : spec.cell.leaves(ir::Op::state)) {
    int64_t floats = 0;
    for (int64_t l = 0; l < spec.layers; ++l)
      floats += batch * spec.cell.type(s).rows.bind(ir::layer_bindings(spec.cell, sizes, l));
    states.emplace_back(spec.cell.node(s).name, floats);
  }
  return states;
}

Network::Network(const ModelSpec& spec, int64_t batch, int64_t unroll, const NetworkOptions& options)
    : spec_(checked(spec)),
      batch_(batch),
      unroll_(unroll),
      cells_(CompiledNetwork::compile(cell_network(spec, batch, unroll), options)),
      head_(CompiledNetwork::compile(output_head(),
                                     {cells_.output_width(), spec.vocabulary, batch,
                                      spec.loss == LossMode::every_step ? unroll : 1, 1, {}},
                                     options)) {
  head_rows_ = spec.loss == LossMode::every_step ? unroll * batch : batch;
  const int64_t X = cells_.input_width(), Y = cells_.output_width(), V = spec.vocabulary;
  if (spec.encoding == InputEncoding::embedding) {
    embedding_.assign(static_cast<size_t>(V * spec.embedding), 0.0f);
    embedding_grad_.assign(embedding_.size(), 0.0f);
  }
  cell_params_.assign(static_cast<size_t>(cells_.parameter_floats()), 0.0f);
  cell_grads_.assign(cell_params_.size(), 0.0f);
  head_params_.assign(static_cast<size_t>(head_.parameter_floats()), 0.0f);
  head_grads_.assign(head_params_.size(), 0.0f);
  // One-hot characters go to the cells as indices (NetworkSpec::one_hot_input), an embedding as
  // its rows, whose gradient the cells compute.
  if (spec_.encoding == InputEncoding::one_hot) {
    indices_.assign(static_cast<size_t>(unroll * batch), 0);
  } else {
    x_.assign(static_cast<size_t>(unroll * batch * X), 0.0f);
    dx_.assign(x_.size(), 0.0f);
  }
  y_.assign(static_cast<size_t>(unroll * batch * Y), 0.0f);
  dy_.assign(y_.size(), 0.0f);
  head_dx_.assign(static_cast<size_t>(batch * Y), 0.0f);
  logits_.assign(static_cast<size_t>(head_rows_ * V), 0.0f);
  dlogits_.assign(logits_.size(), 0.0f);
  row_loss_.assign(static_cast<size_t>(head_rows_), 0.0);
  pool_ = jit::shared_thread_pool(cells_.threads());
  exp_scratch_.assign(static_cast<size_t>(pool_->size() * V), 0.0);
  if (spec.dropout > 0) {
    head_mask_.assign(static_cast<size_t>(head_rows_ * Y), 0.0f);
    y_dropped_.assign(head_mask_.size(), 0.0f);
  }
  final_states_ = zero_states();
  d_final_states_ = zero_states();
  d_initial_states_ = zero_states();
}

std::vector<ParameterView> Network::parameters() {
  std::vector<ParameterView> views;
  if (spec_.encoding == InputEncoding::embedding)
    views.push_back({"embedding", spec_.vocabulary, spec_.embedding, embedding_, embedding_grad_});
  auto add = [&](const std::string& prefix, const std::vector<ParameterInfo>& infos, std::vector<float>& values,
                 std::vector<float>& grads) {
    for (const ParameterInfo& p : infos) {
      const auto at = static_cast<size_t>(p.offset), n = static_cast<size_t>(p.size());
      views.push_back({prefix.empty() ? "layer" + std::to_string(p.layer) + "." + p.name : prefix + p.name, p.rows,
                       p.cols, std::span<float>(values).subspan(at, n), std::span<float>(grads).subspan(at, n)});
    }
  };
  add("", cells_.parameters(), cell_params_, cell_grads_);
  add("head.", head_.parameters(), head_params_, head_grads_);
  return views;
}

int64_t Network::parameter_count() const {
  int64_t n = static_cast<int64_t>(embedding_.size());
  for (const auto& p : cells_.parameters()) n += p.size();
  for (const auto& p : head_.parameters()) n += p.size();
  return n;
}

void Network::copy_parameters_from(Network& other) {
  std::vector<ParameterView> mine = parameters(), theirs = other.parameters();
  if (mine.size() != theirs.size()) internal_error("copy_parameters_from: networks of different specs");
  for (size_t k = 0; k < mine.size(); ++k) {
    if (mine[k].name != theirs[k].name || mine[k].value.size() != theirs[k].value.size())
      internal_error("copy_parameters_from: parameter ", k, " is '", mine[k].name, "' here, '", theirs[k].name, "' there");
    std::copy(theirs[k].value.begin(), theirs[k].value.end(), mine[k].value.begin());
  }
}

States Network::zero_states() const {
  States s;
  for (size_t k = 0; k < cells_.state_names().size(); ++k)
    s.emplace_back(static_cast<size_t>(cells_.state_floats(k)), 0.0f);
  return s;
}

void Network::check_states(const States& states) const {
  const std::vector<std::string> names = cells_.state_names();
  if (states.size() != names.size())
    user_error("got ", states.size(), " state buffers; the cell '", spec_.cell.name(), "' has ", names.size());
  for (size_t k = 0; k < names.size(); ++k)
    if (static_cast<int64_t>(states[k].size()) != cells_.state_floats(k))
      user_error("state '", names[k], "' has ", states[k].size(), " floats; expected ", cells_.state_floats(k),
                 " (layers x batch x width)");
}

void Network::encode(std::span<const int32_t> inputs) {
  const int64_t rows = unroll_ * batch_, V = spec_.vocabulary;
  if (static_cast<int64_t>(inputs.size()) != rows)
    user_error("the batch has ", inputs.size(), " input tokens; the network takes ", unroll_, " steps x ", batch_,
               " sequences = ", rows);
  for (int64_t r = 0; r < rows; ++r)
    if (inputs[r] < 0 || inputs[r] >= V)
      user_error("input token ", inputs[r], " at step ", r / batch_, ", sequence ", r % batch_,
                 " is outside the vocabulary [0, ", V, ")");
  if (spec_.encoding == InputEncoding::one_hot) {
    std::copy(inputs.begin(), inputs.end(), indices_.begin());
  } else {
    const int64_t E = spec_.embedding;
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(&x_[static_cast<size_t>(r * E)], &embedding_[static_cast<size_t>(inputs[r] * E)], E * sizeof(float));
  }
}

NetworkInput Network::cell_input() const {
  return spec_.encoding == InputEncoding::one_hot ? NetworkInput::one_hot(indices_) : NetworkInput(x_);
}

// The head's dropout mask, drawn as the compiled network draws the masks of its layers, on the
// same threads, the head taking the place of layer L: the masks of the cells and of the head never
// repeat each other.
void Network::draw_head_mask(uint64_t dropout_seed) {
  if (spec_.dropout_per_sequence)  // the head sees head_rows_ / batch_ steps: T, or the last one
    jit::draw_sequence_dropout_mask(head_mask_, head_rows_ / batch_, dropout_seed, static_cast<uint64_t>(spec_.layers),
                                    spec_.dropout, *pool_);
  else
    jit::draw_dropout_mask(head_mask_, dropout_seed, static_cast<uint64_t>(spec_.layers), spec_.dropout, *pool_);
}

// What the head read in the last forward pass: the cells' output y at the steps the loss uses,
// times the dropout mask when that pass dropped.
std::span<const float> Network::head_input() const {
  if (head_dropped_) return y_dropped_;
  return std::span<const float>(y_).last(static_cast<size_t>(head_rows_ * cells_.output_width()));
}

void Network::run_forward(std::span<const int32_t> inputs, States& states, const CallOptions& call) {
  check_states(states);
  encode(inputs);
  std::vector<std::span<const float>> initial(states.begin(), states.end());
  std::vector<std::span<float>> final(final_states_.begin(), final_states_.end());
  cells_.forward(cell_params_, cell_input(), initial, y_, final, call);
  head_dropped_ = false;
  if (call.training && spec_.dropout > 0) {
    std::span<const float> y = head_input();
    draw_head_mask(call.dropout_seed);
    for (size_t i = 0; i < y_dropped_.size(); ++i) y_dropped_[i] = y[i] * head_mask_[i];
    head_dropped_ = true;
  }
  head_.forward(head_params_, head_input(), {}, logits_, {},
                {.lengths = {}, .parameters_unchanged = call.parameters_unchanged});
}

double Network::loss_and_gradient(std::span<const int32_t> targets, bool with_gradient) {
  const int64_t V = spec_.vocabulary;
  if (static_cast<int64_t>(targets.size()) != head_rows_)
    user_error("the batch has ", targets.size(), " targets; the ", loss_mode_name(spec_.loss), " loss takes ",
               head_rows_, spec_.loss == LossMode::every_step ? " (steps x sequences)" : " (one per sequence)");
  for (int64_t r = 0; r < head_rows_; ++r)
    if (targets[r] < 0 || targets[r] >= V)
      user_error("target token ", targets[r], " at row ", r, " is outside the vocabulary [0, ", V, ")");
  // Rows split among the pool's threads; each row's loss lands in its own slot and the slots are
  // summed in order, so the loss is the same bit for bit on any number of threads.
  const float scale = 1.0f / static_cast<float>(head_rows_);
  pool_->run([&](int thread, int threads) {
    double* e = &exp_scratch_[static_cast<size_t>(thread * V)];
    const int64_t per_thread = (head_rows_ + threads - 1) / threads;
    for (int64_t r = thread * per_thread; r < std::min(head_rows_, (thread + 1) * per_thread); ++r) {
      const int32_t target = targets[r];
      const float* z = &logits_[static_cast<size_t>(r * V)];
      const float peak = *std::max_element(z, z + V);
      double sum = 0;
      for (int64_t j = 0; j < V; ++j) sum += e[j] = std::exp(static_cast<double>(z[j] - peak));
      row_loss_[static_cast<size_t>(r)] = std::log(sum) - static_cast<double>(z[target] - peak);
      if (!with_gradient) continue;
      float* dz = &dlogits_[static_cast<size_t>(r * V)];
      for (int64_t j = 0; j < V; ++j) dz[j] = static_cast<float>(e[j] / sum) * scale;
      dz[target] -= scale;
    }
  });
  double total = 0;
  for (double loss : row_loss_) total += loss;
  return total / static_cast<double>(head_rows_);
}

double Network::train_batch(std::span<const int32_t> inputs, std::span<const int32_t> targets, States& states,
                            uint64_t dropout_seed) {
  run_forward(inputs, states, {.lengths = {}, .training = true, .dropout_seed = dropout_seed});
  const double loss = loss_and_gradient(targets, true);
  std::span<const float> y_head = head_input();
  // The head's input gradient lands in d(y * mask); d(y) = mask * that.
  auto undo_head_dropout = [&](std::span<float> d) {
    if (head_dropped_)
      for (size_t i = 0; i < d.size(); ++i) d[i] *= head_mask_[i];
  };
  if (spec_.loss == LossMode::every_step) {
    head_.backward(head_params_, y_head, dlogits_, {}, head_grads_, dy_, {});
    undo_head_dropout(dy_);
  } else {
    head_.backward(head_params_, y_head, dlogits_, {}, head_grads_, head_dx_, {});
    undo_head_dropout(head_dx_);
    std::fill(dy_.begin(), dy_.end(), 0.0f);
    std::copy(head_dx_.begin(), head_dx_.end(), dy_.end() - static_cast<std::ptrdiff_t>(y_head.size()));
  }
  std::vector<std::span<const float>> d_final(d_final_states_.begin(), d_final_states_.end());
  std::vector<std::span<float>> d_initial(d_initial_states_.begin(), d_initial_states_.end());
  cells_.backward(cell_params_, cell_input(), dy_, d_final, cell_grads_, dx_, d_initial);
  if (spec_.encoding == InputEncoding::embedding) {
    const int64_t E = spec_.embedding;
    std::fill(embedding_grad_.begin(), embedding_grad_.end(), 0.0f);
    for (int64_t r = 0; r < unroll_ * batch_; ++r) {
      float* row = &embedding_grad_[static_cast<size_t>(inputs[r] * E)];
      const float* d = &dx_[static_cast<size_t>(r * E)];
      for (int64_t e = 0; e < E; ++e) row[e] += d[e];
    }
  }
  states.swap(final_states_);
  return loss;
}

double Network::evaluate_batch(std::span<const int32_t> inputs, std::span<const int32_t> targets, States& states,
                               bool parameters_unchanged) {
  run_forward(inputs, states, {.lengths = {}, .training = false, .parameters_unchanged = parameters_unchanged});
  const double loss = loss_and_gradient(targets, false);
  states.swap(final_states_);
  return loss;
}

std::span<const float> Network::forward_logits(std::span<const int32_t> inputs, States& states,
                                              bool parameters_unchanged) {
  run_forward(inputs, states, {.lengths = {}, .training = false, .parameters_unchanged = parameters_unchanged});
  states.swap(final_states_);
  return logits_;
}

}  // namespace cellforge::train
