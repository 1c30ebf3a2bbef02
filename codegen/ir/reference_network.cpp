// The reference network and BPTT; see reference_network.hpp.
#include "codegen/ir/reference_network.hpp"

#include "codegen/ir/error.hpp"

namespace cellforge::ir {

struct ReferenceNetwork::Trace {
  std::vector<std::vector<LeafValues>> leaves;   // [unit][step]: the leaves each step read
  std::vector<std::vector<Array>> layer_inputs;  // [layer][step]: the layer's input after dropout
};

namespace {

void check_array(const Array& a, int64_t rows, int64_t cols, const std::string& what) {
  if (a.rows != rows || a.cols != cols)
    user_error(what, " has shape [", a.rows, ", ", a.cols, "]; expected [", rows, ", ", cols, "]");
}

int64_t output_length(const Graph& cell, const Bindings& b) {
  return cell.type(cell.find_output(Role::output, output_name(cell))->node).rows.bind(b);
}

// Columns [from, from + width) of every row of `a`.
Array columns(const Array& a, int64_t from, int64_t width) {
  Array out(a.rows, width);
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t c = 0; c < width; ++c) out.at(r, c) = a.at(r, from + c);
  return out;
}

void multiply(Array& a, const Array& mask) {
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] *= mask.data[i];
}

// The zoned state whose zoned value is the cell's output (the same node as its next value), or "".
std::string zoned_output_state(const Graph& cell, const std::vector<std::string>& zoned) {
  const NodeId y = cell.find_output(Role::output, output_name(cell))->node;
  for (const std::string& name : zoned)
    if (cell.find_output(Role::next, name)->node == y) return name;
  return "";
}

// a := mask * previous + (1 - mask) * a, elementwise.
void blend(Array& a, const Array& mask, const Array& previous) {
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = mask.data[i] * previous.data[i] + (1 - mask.data[i]) * a.data[i];
}

size_t unit_index(const NetworkSpec& spec, int64_t layer, int64_t direction) {
  size_t index = 0;
  for (int64_t l = 0; l < layer; ++l) index += static_cast<size_t>(spec.directions(l));
  return index + static_cast<size_t>(direction);
}

}  // namespace

ReferenceNetwork::ReferenceNetwork(NetworkSpec spec, std::vector<Graph> backward)
    : spec_(std::move(spec)), backward_(std::move(backward)) {
  check_spec(spec_);
  if (backward_.size() != spec_.layers.size())
    internal_error("ReferenceNetwork needs one backward graph per layer: got ", backward_.size(), " for ",
                   spec_.layers.size(), " layers");
}

ReferenceNetwork::ReferenceNetwork(Graph cell, Graph backward, NetworkSizes sizes)
    : ReferenceNetwork(NetworkSpec::stack(cell, sizes),
                       std::vector<Graph>(static_cast<size_t>(std::max<int64_t>(sizes.layers, 0)), backward)) {}

bool ReferenceNetwork::padded(const CallExtras& extras, int64_t step, int64_t row) const {
  return spec_.variable_lengths && step >= extras.lengths[static_cast<size_t>(row)];
}

const Array& ReferenceNetwork::zoneout_mask(const CallExtras& extras, size_t unit, int64_t layer,
                                           const std::string& state, int64_t step) const {
  const std::string what = "zoneout mask of state '" + state + "' of unit " + std::to_string(unit);
  if (extras.zoneout_masks.size() <= unit || !extras.zoneout_masks[unit].count(state) ||
      static_cast<int64_t>(extras.zoneout_masks[unit].at(state).size()) != spec_.sizes.unroll)
    user_error(what, " is missing; give one [B, S] mask per step for every zoned state of every unit");
  const Array& mask = extras.zoneout_masks[unit].at(state)[static_cast<size_t>(step)];
  const Graph& cell = spec_.layers[static_cast<size_t>(layer)].cell;
  check_array(mask, spec_.sizes.batch,
              cell.type(static_cast<NodeId>(cell.find_leaf(Op::state, state))).rows.bind(layer_bindings(spec_, layer)), what);
  return mask;
}

ReferenceForward ReferenceNetwork::run(const LayerValues& params, const std::vector<Array>& inputs,
                                       const LayerValues& initial_states, const CallExtras& extras,
                                       Trace* trace) const {
  const NetworkSizes& s = spec_.sizes;
  const size_t unit_count = units(spec_).size();
  if (static_cast<int64_t>(inputs.size()) != s.unroll)
    user_error("inputs have ", inputs.size(), " steps; the network is unrolled for ", s.unroll);
  if (params.size() != unit_count || initial_states.size() != unit_count)
    user_error("parameters and initial states are given for ", params.size(), " and ", initial_states.size(),
               " units; the network has ", unit_count, " (one per layer and direction)");
  if (spec_.variable_lengths) {
    if (static_cast<int64_t>(extras.lengths.size()) != s.batch)
      user_error("lengths are given for ", extras.lengths.size(), " sequences; the batch has ", s.batch);
    for (size_t r = 0; r < extras.lengths.size(); ++r)
      if (extras.lengths[r] < 1 || extras.lengths[r] > s.unroll)
        user_error("sequence ", r, " has length ", extras.lengths[r], "; lengths must be in [1, ", s.unroll, "]");
  }
  if (trace) {
    trace->leaves.assign(unit_count, std::vector<LeafValues>(static_cast<size_t>(s.unroll)));
    trace->layer_inputs.assign(spec_.layers.size(), {});
  }
  ReferenceForward result;
  result.final_states.resize(unit_count);
  std::vector<Array> layer_in = inputs;
  for (int64_t l = 0; l < s.layers; ++l) {
    const Graph& cell = spec_.layers[static_cast<size_t>(l)].cell;
    const Bindings b = layer_bindings(spec_, l);
    if (l > 0 && spec_.dropout > 0) {
      const auto& masks = extras.dropout_masks;
      if (masks.size() <= static_cast<size_t>(l) || static_cast<int64_t>(masks[static_cast<size_t>(l)].size()) != s.unroll)
        user_error("dropout masks for layer ", l, " are missing; give one [B, X] mask per step");
      for (int64_t t = 0; t < s.unroll; ++t) {
        check_array(masks[l][t], s.batch, b.at("X"), "dropout mask of layer " + std::to_string(l));
        multiply(layer_in[t], masks[l][t]);
      }
    }
    for (int64_t t = 0; t < s.unroll; ++t)
      check_array(layer_in[t], s.batch, b.at("X"), "input of layer " + std::to_string(l) + " at step " + std::to_string(t));
    if (trace) trace->layer_inputs[static_cast<size_t>(l)] = layer_in;
    const std::string x_name = input_name(cell), y_name = output_name(cell);
    const int64_t y_width = output_length(cell, b);
    std::vector<Array> layer_out(static_cast<size_t>(s.unroll), Array(s.batch, y_width * spec_.directions(l)));
    const std::vector<std::string> zoned = spec_.zoned_states(l);
    const std::string y_zoned = zoned_output_state(cell, zoned);
    for (int64_t d = 0; d < spec_.directions(l); ++d) {
      const size_t u = unit_index(spec_, l, d);
      auto zoneout_mask = [&](const std::string& name, int64_t t) -> const Array& {
        return this->zoneout_mask(extras, u, l, name, t);
      };
      LeafValues leaves = params[u];
      LeafValues states = initial_states[u];
      for (NodeId st : cell.leaves(Op::state)) {
        const std::string& name = cell.node(st).name;
        auto it = states.find(name);
        if (it == states.end()) user_error("no initial value for state '", name, "' of layer ", l);
        check_array(it->second, s.batch, cell.type(st).rows.bind(b),
                    "initial state '" + name + "' of layer " + std::to_string(l));
      }
      for (int64_t k = 0; k < s.unroll; ++k) {
        const int64_t t = d == 0 ? k : s.unroll - 1 - k;
        leaves[x_name] = layer_in[static_cast<size_t>(t)];
        for (const auto& [name, value] : states) leaves[name] = value;
        if (trace) trace->leaves[u][static_cast<size_t>(t)] = leaves;
        auto out = evaluate_outputs(cell, b, s.batch, leaves);
        for (const std::string& name : zoned) {  // zoneout blends the new value with the previous one
          Array& next = out.at(output_key(Role::next, name));
          blend(next, zoneout_mask(name, t), states.at(name));
          if (name == y_zoned) out.at(output_key(Role::output, y_name)) = next;
        }
        for (auto& [name, value] : states) {
          Array next = out.at(output_key(Role::next, name));
          for (int64_t r = 0; r < s.batch; ++r)
            if (padded(extras, t, r))
              for (int64_t c = 0; c < next.cols; ++c) next.at(r, c) = value.at(r, c);  // padding keeps the state
          value = std::move(next);
        }
        const Array& y = out.at(output_key(Role::output, y_name));
        for (int64_t r = 0; r < s.batch; ++r)
          for (int64_t c = 0; c < y_width; ++c)
            layer_out[static_cast<size_t>(t)].at(r, d * y_width + c) = padded(extras, t, r) ? 0.0 : y.at(r, c);
      }
      result.final_states[u] = states;
    }
    layer_in = std::move(layer_out);
  }
  result.outputs = std::move(layer_in);
  return result;
}

ReferenceForward ReferenceNetwork::forward(const LayerValues& params, const std::vector<Array>& inputs,
                                           const LayerValues& initial_states, const CallExtras& extras) const {
  return run(params, inputs, initial_states, extras, nullptr);
}

std::vector<std::vector<std::vector<Array>>> ReferenceNetwork::node_values(const LayerValues& params,
                                                                           const std::vector<Array>& inputs,
                                                                           const LayerValues& initial_states,
                                                                           const CallExtras& extras) const {
  Trace trace;
  run(params, inputs, initial_states, extras, &trace);
  std::vector<std::vector<std::vector<Array>>> out(trace.leaves.size());
  std::vector<Unit> us = units(spec_);
  for (size_t u = 0; u < us.size(); ++u) {
    const Graph& cell = spec_.layers[static_cast<size_t>(us[u].layer)].cell;
    const Bindings b = layer_bindings(spec_, us[u].layer);
    for (const LeafValues& leaves : trace.leaves[u]) out[u].push_back(evaluate(cell, b, spec_.sizes.batch, leaves));
  }
  return out;
}

ReferenceGradients ReferenceNetwork::backward(const LayerValues& params, const std::vector<Array>& inputs,
                                              const LayerValues& initial_states, const std::vector<Array>& d_outputs,
                                              const LayerValues& d_final_states, const CallExtras& extras) const {
  const NetworkSizes& s = spec_.sizes;
  Trace trace;
  run(params, inputs, initial_states, extras, &trace);
  const size_t unit_count = units(spec_).size();
  if (static_cast<int64_t>(d_outputs.size()) != s.unroll)
    user_error("output gradients have ", d_outputs.size(), " steps; the network is unrolled for ", s.unroll);
  if (d_final_states.size() != unit_count)
    user_error("final-state gradients are given for ", d_final_states.size(), " units; the network has ", unit_count);
  ReferenceGradients grads;
  grads.params.resize(unit_count);
  grads.initial_states.resize(unit_count);
  grads.state_gradients.assign(unit_count, std::vector<LeafValues>(static_cast<size_t>(s.unroll + 1)));
  std::vector<Array> d_out = d_outputs;
  for (int64_t t = 0; t < s.unroll; ++t)
    check_array(d_out[static_cast<size_t>(t)], s.batch, layer_output_width(spec_, s.layers - 1),
                "output gradient at step " + std::to_string(t));
  for (int64_t l = s.layers; l-- > 0;) {
    const Graph& cell = spec_.layers[static_cast<size_t>(l)].cell;
    const Graph& backward = backward_[static_cast<size_t>(l)];
    const Bindings b = layer_bindings(spec_, l);
    const std::string x_name = input_name(cell);
    const int64_t y_width = output_length(cell, b);
    std::vector<Array> d_in(static_cast<size_t>(s.unroll), Array(s.batch, b.at("X")));
    const std::vector<std::string> zoned = spec_.zoned_states(l);
    const std::string y_zoned = zoned_output_state(cell, zoned);
    for (int64_t d = 0; d < spec_.directions(l); ++d) {
      const size_t u = unit_index(spec_, l, d);
      for (NodeId p : cell.leaves(Op::param)) {
        const Type& t = cell.type(p);
        grads.params[u][cell.node(p).name] =
            t.is_matrix() ? Array(t.rows.bind(b), t.cols.bind(b)) : Array(1, t.rows.bind(b));
      }
      LeafValues d_states;
      for (NodeId st : cell.leaves(Op::state)) {
        const std::string& name = cell.node(st).name;
        auto it = d_final_states[u].find(name);
        if (it == d_final_states[u].end())
          user_error("no gradient given for the final state '", name, "' of layer ", l,
                     "; pass dL/ds_T for every state (zeros if the loss does not read it)");
        d_states[name] = it->second;
      }
      // The state after step t sits between steps t and t+1 going forward in time (index t+1), and
      // between t-1 and t for the backward-in-time direction (index t).
      auto after_index = [&](int64_t t) { return static_cast<size_t>(d == 0 ? t + 1 : t); };
      auto before_index = [&](int64_t t) { return static_cast<size_t>(d == 0 ? t : t + 1); };
      for (int64_t k = s.unroll; k-- > 0;) {
        const int64_t t = d == 0 ? k : s.unroll - 1 - k;
        grads.state_gradients[u][after_index(t)] = d_states;
        LeafValues leaves = trace.leaves[u][static_cast<size_t>(t)];
        const Array dy = columns(d_out[static_cast<size_t>(t)], d * y_width, y_width);
        // Zoneout: a zoned state's gradient (and the output's, when the output is that state) goes
        // (1 - mask) times into the cell and mask times straight to the previous state.
        LeafValues zoned_gradient, into_cell;
        for (const std::string& name : zoned) {
          Array g = d_states.at(name);
          if (name == y_zoned)
            for (size_t i = 0; i < g.data.size(); ++i) g.data[i] += dy.data[i];
          Array in = g;
          const Array& mask = zoneout_mask(extras, u, l, name, t);
          for (size_t i = 0; i < in.data.size(); ++i) in.data[i] *= 1 - mask.data[i];
          zoned_gradient[name] = std::move(g);
          into_cell[name] = std::move(in);
        }
        for (NodeId seed : backward.leaves(Op::seed)) {
          const Node& n = backward.node(seed);
          Array value = n.seed_role == Role::next ? (into_cell.count(n.seed_of) ? into_cell.at(n.seed_of) : d_states.at(n.seed_of))
                        : y_zoned.empty()          ? dy
                                                   : Array(dy.rows, dy.cols);
          for (int64_t r = 0; r < s.batch; ++r)  // a padded row's results do not depend on it
            if (padded(extras, t, r))
              for (int64_t c = 0; c < value.cols; ++c) value.at(r, c) = 0;
          leaves[n.name] = std::move(value);
        }
        auto out = evaluate_outputs(backward, b, s.batch, leaves);
        for (NodeId st : cell.leaves(Op::state)) {
          const std::string& name = cell.node(st).name;
          auto it = out.find(output_key(Role::grad, name));
          Array next = it != out.end() ? it->second : Array(s.batch, cell.type(st).rows.bind(b));
          if (zoned_gradient.count(name)) {
            const Array& mask = zoneout_mask(extras, u, l, name, t);
            for (size_t i = 0; i < next.data.size(); ++i) next.data[i] += mask.data[i] * zoned_gradient.at(name).data[i];
          }
          for (int64_t r = 0; r < s.batch; ++r)  // padding passes the state's gradient through
            if (padded(extras, t, r))
              for (int64_t c = 0; c < next.cols; ++c) next.at(r, c) = d_states[name].at(r, c);
          d_states[name] = std::move(next);
        }
        grads.state_gradients[u][before_index(t)] = d_states;
        auto dx = out.find(output_key(Role::grad, x_name));
        if (dx != out.end())
          for (size_t i = 0; i < dx->second.data.size(); ++i) d_in[static_cast<size_t>(t)].data[i] += dx->second.data[i];
        for (auto& [name, total] : grads.params[u]) {
          auto g = out.find(output_key(Role::grad, name));
          if (g == out.end()) continue;
          for (size_t i = 0; i < total.data.size(); ++i) total.data[i] += g->second.data[i];
        }
      }
      grads.initial_states[u] = d_states;
    }
    if (l > 0 && spec_.dropout > 0)
      for (int64_t t = 0; t < s.unroll; ++t) multiply(d_in[static_cast<size_t>(t)], extras.dropout_masks[l][t]);
    d_out = std::move(d_in);
  }
  grads.inputs = std::move(d_out);
  return grads;
}

}  // namespace cellforge::ir
