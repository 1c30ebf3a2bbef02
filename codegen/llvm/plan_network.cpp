// Planning a whole network: which cell each layer runs (after the transformations for zoneout,
// padding and dropout), where each unit's parameters, states, histories, inputs and outputs live, and the
// copies between the caller's buffers and the network's own at the start and end of a call. The
// storage inside each scan is planned by plan_scan (network_plan.cpp).
//
// A bidirectional layer's two units write their outputs side by side into one buffer (views with a
// column offset); the backward-in-time unit keeps its state history the other way round: it reads
// the state before step t at index t+1 and writes the state after it at index t, so that every
// buffer is indexed by the step t it belongs to. In BPTT its scan runs forward in time, and its
// gradient of the layer's input is added to the one the forward unit wrote.
#include <cstring>
#include <map>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/llvm/network_plan.hpp"
#include "codegen/llvm/scan_planning.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::llvm_backend {

using ir::Node;
using ir::NodeId;
using ir::Op;
using ir::Role;

namespace {

Location in_time(Location l, int64_t by) {
  l.time_offset += by;
  return l;
}

}  // namespace

NetworkPlan plan_network(const ir::Graph& cell, const ir::NetworkSizes& sizes, const passes::PassOptions& options) {
  return plan_network(ir::NetworkSpec::stack(cell, sizes), options);
}

namespace {

// The gates whose saturation telemetry reports: labelled sigmoid and tanh values of the forward
// step that are computed per row.
bool is_gate(const ir::Graph& g, NodeId id) {
  const Node& n = g.node(id);
  return (n.op == Op::sigmoid || n.op == Op::tanh) && !g.label(id).empty() && !n.type.shared;
}

// Whether every use of the input `x` in a layer's step graphs is a product an IndexProduct covers
// (W x or W^T x of a parameter W, or an outer product of x and a per-row value), so that the
// products can read a one-hot input as indices.
bool reads_input_only_in_products(const passes::LayerSchedule& schedule, const std::string& x) {
  for (const ir::Graph* g : {&schedule.forward.graph, &schedule.backward.graph}) {
    const int64_t leaf = g->find_leaf(Op::input, x);
    if (leaf < 0) continue;
    const NodeId v = static_cast<NodeId>(leaf);
    for (const ir::Output& o : g->outputs())
      if (o.node == v) return false;
    for (NodeId id = 0; id < g->size(); ++id) {
      const Node& n = g->node(id);
      for (size_t k = 0; k < n.args.size(); ++k) {
        if (n.args[k] != v) continue;
        const bool of_param = (n.op == Op::matmul || n.op == Op::matmul_t) && k == 1 && g->node(n.args[0]).op == Op::param;
        const bool outer = n.op == Op::outer && n.args[1 - k] != v && !g->type(n.args[1 - k]).shared;
        if (!of_param && !outer) return false;
      }
    }
  }
  return true;
}

}  // namespace

NetworkPlan plan_network(const ir::NetworkSpec& spec, const passes::PassOptions& options,
                         const TelemetryOptions& telemetry) {
  ir::check_spec(spec);
  NetworkPlan p;
  p.telemetry_options = telemetry;
  p.spec = spec;
  p.sizes = spec.sizes;
  p.cell = spec.layers.at(0).cell;
  p.units = ir::units(spec);
  const int64_t T = spec.sizes.unroll, B = spec.sizes.batch, L = spec.sizes.layers;
  const size_t U = p.units.size();

  // Each layer's cell as the compiler runs it, and its schedule (shared by identical layers).
  std::map<std::string, int> schedule_of_text;
  std::vector<ir::Bindings> bindings;
  for (int64_t l = 0; l < L; ++l) {
    ir::Graph cell = spec.layers[static_cast<size_t>(l)].cell;
    if (const auto zoned = spec.zoned_states(l); !zoned.empty()) cell = passes::zone_out_states(cell, zoned);
    if (spec.variable_lengths) cell = passes::mask_padded_steps(cell);
    if (l > 0 && spec.dropout > 0) cell = passes::drop_layer_input(cell);
    const bool input_gradient = l > 0 || spec.input_gradient;
    const std::string text = ir::print(cell) + (input_gradient ? "" : "\nwithout input gradient");
    auto it = schedule_of_text.find(text);
    if (it == schedule_of_text.end()) {
      it = schedule_of_text.emplace(text, static_cast<int>(p.schedules.size())).first;
      p.schedules.push_back(passes::schedule_layer(cell, options, input_gradient, B));
    }
    p.layer_schedule.push_back(it->second);
    bindings.push_back(ir::layer_bindings(spec, l));
  }
  auto cell_of = [&](const ir::Unit& u) -> const ir::Graph& { return spec.layers[static_cast<size_t>(u.layer)].cell; };

  // Parameters, unit after unit, in each cell's declaration order.
  for (const ir::Unit& u : p.units)
    for (NodeId leaf : cell_of(u).leaves(Op::param)) {
      const ir::Type& t = cell_of(u).type(leaf);
      const ir::Bindings& b = bindings[static_cast<size_t>(u.layer)];
      ParamInfo info{u.layer, u.direction, cell_of(u).node(leaf).name, t.rows.bind(b), t.is_matrix() ? t.cols.bind(b) : 0, 0};
      info.offset = p.param_floats;
      p.param_floats += aligned(info.size());
      p.params.push_back(info);
    }
  auto param_location = [&](size_t unit, const std::string& name, int slot) {
    for (const ParamInfo& info : p.params)
      if (info.layer == p.units[unit].layer && info.direction == p.units[unit].direction && info.name == name)
        return Location{slot, info.offset, info.cols ? info.cols : info.rows, 0, 0};
    internal_error("no parameter '", name, "' in unit ", unit);
  };

  // States: each name's caller buffer holds the units that have it, in unit order.
  for (size_t u = 0; u < U; ++u)
    for (NodeId leaf : cell_of(p.units[u]).leaves(Op::state)) {
      const std::string& name = cell_of(p.units[u]).node(leaf).name;
      bool known = false;
      for (const StateInfo& s : p.states) known = known || s.name == name;
      if (!known) p.states.push_back({name, std::vector<int64_t>(U, 0), std::vector<int64_t>(U, 0), 0});
    }
  for (StateInfo& s : p.states)
    for (size_t u = 0; u < U; ++u) {
      const ir::Graph& cell = cell_of(p.units[u]);
      int64_t leaf = cell.find_leaf(Op::state, s.name);
      if (leaf < 0) continue;
      s.width[u] = cell.type(static_cast<NodeId>(leaf)).rows.bind(bindings[static_cast<size_t>(p.units[u].layer)]);
      s.offset[u] = s.floats;
      s.floats += B * s.width[u];
    }
  auto state_index = [&](const std::string& name) {
    for (size_t k = 0; k < p.states.size(); ++k)
      if (p.states[k].name == name) return k;
    internal_error("no state '", name, "'");
  };

  Workspace ws;
  // Inputs the caller's call fills: the step mask, the dropout masks of layers above the first, and
  // each unit's zoneout masks, and a one-hot input expanded from its indices when layer 0's
  // products cannot read the indices. They are dense [T][B][width] (the caller's fill numbers their
  // elements in that order).
  auto dense = [&](int64_t width) { return Location{kWorkspace, ws.allocate(T * B * width), width, B * width, 0}; };
  if (spec.one_hot_input) {
    p.input_gathered = reads_input_only_in_products(p.schedules[static_cast<size_t>(p.layer_schedule[0])],
                                                    ir::input_name(spec.layers[0].cell));
    if (!p.input_gathered) p.one_hot_dense = dense(spec.sizes.input);
  }
  // Histories: [T+1][B][S] per unit and state.
  std::vector<std::vector<Location>> history(U), d_history(U);
  for (size_t u = 0; u < U; ++u)
    for (const StateInfo& s : p.states) {
      history[u].push_back(s.width[u] ? sequence(ws, T + 1, B, s.width[u]) : Location{});
      d_history[u].push_back(s.width[u] ? sequence(ws, T + 1, B, s.width[u]) : Location{});
    }
  // Layer inputs and outputs, and their gradients.
  std::vector<Location> layer_input(static_cast<size_t>(L)), layer_output(static_cast<size_t>(L)),
      d_layer_input(static_cast<size_t>(L)), d_layer_output(static_cast<size_t>(L));
  std::vector<int64_t> output_length(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l) {
    const size_t li = static_cast<size_t>(l);
    const ir::Graph& cell = spec.layers[li].cell;
    const int64_t x_width = bindings[li].at("X");
    output_length[li] = cell.type(cell.find_output(Role::output, ir::output_name(cell))->node).rows.bind(bindings[li]);
    const int64_t y_width = output_length[li] * spec.directions(l);
    // A gathered one-hot input is one int32 index per row.
    layer_input[li] = l > 0               ? layer_output[li - 1]
                      : p.input_gathered  ? Location{kInput, 0, 1, B, 0}
                      : spec.one_hot_input ? p.one_hot_dense
                                           : Location{kInput, 0, x_width, B * x_width, 0};
    d_layer_input[li] = l == 0 ? Location{kDInput, 0, x_width, B * x_width, 0} : sequence(ws, T, B, x_width);
    if (l == L - 1) {
      layer_output[li] = {kOutput, 0, y_width, B * y_width, 0};
    } else {
      // A one-direction layer whose output is one of its next states reads the history instead.
      layer_output[li] = {};
      const ir::Graph& g = p.schedules[static_cast<size_t>(p.layer_schedule[li])].forward.graph;
      const NodeId y = g.find_output(Role::output, ir::output_name(cell))->node;
      const size_t u = static_cast<size_t>(std::find_if(p.units.begin(), p.units.end(), [&](const ir::Unit& x) {
                                             return x.layer == l;
                                           }) - p.units.begin());
      if (spec.directions(l) == 1)
        for (const ir::Output& o : g.outputs())
          if (o.role == Role::next && o.node == y && !layer_output[li].valid())
            layer_output[li] = in_time(history[u][state_index(o.name)], 1);
      if (!layer_output[li].valid()) layer_output[li] = sequence(ws, T, B, y_width);
    }
  }
  for (int64_t l = 0; l < L; ++l) {
    const size_t li = static_cast<size_t>(l);
    const int64_t y_width = output_length[li] * spec.directions(l);
    d_layer_output[li] = l == L - 1 ? Location{kDOutput, 0, y_width, B * y_width, 0} : d_layer_input[li + 1];
  }
  p.input_width = spec.sizes.input;
  p.output_width = output_length[static_cast<size_t>(L - 1)] * spec.directions(L - 1);
  if (spec.variable_lengths) p.step_mask = dense(1);
  p.dropout_masks.assign(static_cast<size_t>(L), Location{});
  for (int64_t l = 1; l < L && spec.dropout > 0; ++l)
    p.dropout_masks[static_cast<size_t>(l)] = dense(bindings[static_cast<size_t>(l)].at("X"));
  p.zoneout_masks.assign(U, std::vector<Location>(p.states.size()));
  for (size_t u = 0; u < U; ++u)
    for (const std::string& name : spec.zoned_states(p.units[u].layer)) {
      const size_t k = state_index(name);
      p.zoneout_masks[u][k] = dense(p.states[k].width[u]);
    }
  // Saved values: one sequence per `save` result of each unit's forward schedule.
  std::vector<std::map<std::string, Location>> saved(U);
  for (size_t u = 0; u < U; ++u) {
    const size_t li = static_cast<size_t>(p.units[u].layer);
    const ir::Graph& g = p.schedules[static_cast<size_t>(p.layer_schedule[li])].forward.graph;
    for (const ir::Output& o : g.outputs())
      if (o.role == Role::save) saved[u][o.name] = sequence(ws, T, B, g.type(o.node).rows.bind(bindings[li]));
  }

  for (size_t u = 0; u < U; ++u) {
    const int64_t l = p.units[u].layer, d = p.units[u].direction;
    const size_t li = static_cast<size_t>(l);
    const ir::Graph& cell = spec.layers[li].cell;
    const std::string x_name = ir::input_name(cell);
    const passes::LayerSchedule& schedule = p.schedules[static_cast<size_t>(p.layer_schedule[li])];
    // Forward in time: the state before step t at index t, after it at t+1; backward: the reverse.
    const int64_t before = d == 0 ? 0 : 1, after = d == 0 ? 1 : 0;
    const Location out = layer_output[li].shifted(d * output_length[li]);
    const Location d_out = d_layer_output[li].shifted(d * output_length[li]);
    auto input_location = [&](const Node& leaf) -> Location {
      if (leaf.name == ir::kStepMask) return p.step_mask;
      if (leaf.name == ir::kDropoutMask) return p.dropout_masks[li];
      if (ir::is_added_input(leaf.name)) return p.zoneout_masks[u][state_index(leaf.name.substr(std::strlen(ir::kZoneoutMaskPrefix)))];
      return layer_input[li];
    };
    const std::string index_input = l == 0 && p.input_gathered ? x_name : "";
    ScanBuffers fwd;
    fwd.index_input = index_input;
    fwd.leaf = [&](const Node& leaf) -> Location {
      switch (leaf.op) {
        case Op::input: return input_location(leaf);
        case Op::state: return in_time(history[u][state_index(leaf.name)], before);
        case Op::param: return param_location(u, leaf.name, kParams);
        default: internal_error("forward leaf ", ir::op_name(leaf.op));
      }
    };
    fwd.result = [&](const ir::Output& o) -> ResultTarget {
      switch (o.role) {
        case Role::next: return {in_time(history[u][state_index(o.name)], after)};
        case Role::output: return {out};
        case Role::save: return {saved[u].at(o.name)};
        default: internal_error("forward result ", ir::role_name(o.role));
      }
    };
    if (telemetry.enabled) fwd.keep_every_step = [&](NodeId id) { return is_gate(schedule.forward.graph, id); };
    ScanPlan forward = plan_scan(schedule.forward, l, /*reverse=*/d == 1, bindings[li], T, B, fwd, ws);
    if (telemetry.enabled) {
      const ir::Graph& g = schedule.forward.graph;
      for (NodeId id = 0; id < g.size(); ++id)
        if (is_gate(g, id) && forward.location[id].valid() && forward.location[id].step_stride != 0)
          p.telemetry.push_back({TelemetrySeries::Kind::gate_saturation, static_cast<int64_t>(u), g.label(id), 0, T,
                                 forward.location[id], forward.width[id], g.node(id).op, id});
      for (size_t k = 0; k < p.states.size(); ++k)
        if (p.states[k].width[u])
          p.telemetry.push_back({TelemetrySeries::Kind::state_gradient_norm, static_cast<int64_t>(u), p.states[k].name,
                                 0, T + 1, d_history[u][k], p.states[k].width[u], Op::sigmoid, 0});
    }
    forward.direction = d;
    forward.schedule = p.layer_schedule[li];
    forward.backward_pass = false;
    p.forward.push_back(std::move(forward));

    ScanBuffers bwd;
    bwd.index_input = index_input;
    bwd.leaf = [&](const Node& leaf) -> Location {
      switch (leaf.op) {
        case Op::input: return input_location(leaf);
        case Op::state: return in_time(history[u][state_index(leaf.name)], before);
        case Op::param: return param_location(u, leaf.name, kParams);
        case Op::saved: return saved[u].at(leaf.name);
        case Op::seed:
          return leaf.seed_role == Role::next ? in_time(d_history[u][state_index(leaf.seed_of)], after) : d_out;
        default: internal_error("backward leaf ", ir::op_name(leaf.op));
      }
    };
    bwd.result = [&](const ir::Output& o) -> ResultTarget {
      if (o.role != Role::grad) internal_error("backward result ", ir::role_name(o.role));
      if (o.name == x_name) return {d_layer_input[li], /*add=*/d == 1};
      for (size_t k = 0; k < p.states.size(); ++k)
        if (p.states[k].name == o.name) return {in_time(d_history[u][k], before)};
      return {param_location(u, o.name, kGrads)};
    };
    ScanPlan backward = plan_scan(schedule.backward, l, /*reverse=*/d == 0, bindings[li], T, B, bwd, ws);
    backward.direction = d;
    backward.schedule = p.layer_schedule[li];
    backward.backward_pass = true;
    // Gradients no result writes are zero.
    const ir::Graph& bg = schedule.backward.graph;
    if (!bg.find_output(Role::grad, x_name) && d == 0 && (l > 0 || spec.input_gradient))
      backward.zero_first.push_back({d_layer_input[li], T * B, bindings[li].at("X")});
    for (size_t k = 0; k < p.states.size(); ++k)
      if (p.states[k].width[u] && !bg.find_output(Role::grad, p.states[k].name))
        backward.zero_first.push_back({in_time(d_history[u][k], before), T * B, p.states[k].width[u]});
    for (NodeId leaf : cell.leaves(Op::param))
      if (!bg.find_output(Role::grad, cell.node(leaf).name)) {
        Location where = param_location(u, cell.node(leaf).name, kGrads);
        const ir::Type& t = cell.type(leaf);
        const int64_t size = t.rows.bind(bindings[li]) * (t.is_matrix() ? t.cols.bind(bindings[li]) : 1);
        p.backward_zero_first.push_back({Location{kGrads, where.offset, size, 0, 0}, 1, size});
      }
    p.backward.push_back(std::move(backward));

    // The caller's state buffers and the histories.
    for (size_t k = 0; k < p.states.size(); ++k) {
      const int64_t S = p.states[k].width[u];
      if (!S) continue;
      const int kk = static_cast<int>(k);
      const int64_t offset = p.states[k].offset[u];
      const Location& h = history[u][k];
      const Location& dh = d_history[u][k];
      const int64_t first = d == 0 ? 0 : T, last = d == 0 ? T : 0;
      p.forward_prologue.push_back({Location{initial_state_slot(kk), offset, S, 0, 0}, in_time(h, first), B, S});
      p.forward_epilogue.push_back({in_time(h, last), Location{final_state_slot(kk), offset, S, 0, 0}, B, S});
      p.backward_prologue.push_back({Location{d_final_state_slot(kk), offset, S, 0, 0}, in_time(dh, last), B, S});
      p.backward_epilogue.push_back({in_time(dh, first), Location{d_initial_state_slot(kk), offset, S, 0, 0}, B, S});
    }
  }
  for (TelemetrySeries& series : p.telemetry) {
    series.offset = p.telemetry_floats;
    p.telemetry_floats += series.count;
  }
  p.workspace_floats = ws.size();
  for (const auto* scans : {&p.forward, &p.backward})
    for (const ScanPlan& scan : *scans)
      for (const ProductPlan& product : scan.products)
        p.scratch_floats_per_thread = std::max(p.scratch_floats_per_thread, aligned(gemm_scratch_floats(product.spec)));
  return p;
}

}  // namespace cellforge::llvm_backend
