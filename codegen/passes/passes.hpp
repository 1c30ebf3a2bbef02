// The passes, one per file, each a function from graphs to graphs (or to a schedule). pipeline.cpp
// runs them in order.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "codegen/passes/schedule.hpp"

namespace cellforge::passes {

/// Adds the step mask input and makes padded steps change nothing (see mask_padded_steps.cpp).
ir::Graph mask_padded_steps(const ir::Graph& cell);

/// Multiplies the cell's input by a dropout mask input (see drop_layer_input.cpp).
ir::Graph drop_layer_input(const ir::Graph& cell);

/// Adds a zoneout mask input for each named state and blends its next value with the previous one
/// (see zone_out_states.cpp).
ir::Graph zone_out_states(const ir::Graph& cell, const std::vector<std::string>& states);

/// choose_saved's (forward, backward) without the gradient of the cell's input `input`: the
/// backward step without the nodes only that gradient needed, the forward step without the values
/// it saved only for it (see drop_input_gradient.cpp).
std::pair<ir::Graph, ir::Graph> drop_input_gradient(const ir::Graph& forward, const ir::Graph& backward,
                                                    const std::string& input);

/// A step graph as a stateless cell of one input `z` (the listed inputs and states side by side)
/// and one output `y` (the listed results side by side); see pack_step_inputs.cpp.
ir::Graph pack_step_inputs(const ir::Graph& graph, const std::vector<std::string>& leaves,
                           const std::vector<std::pair<ir::Role, std::string>>& results);

/// Algebraic clean-up after differentiation: x*1, x+0, x-0, x/1, -(-x), stop_gradient(x), constant
/// arithmetic; no change of types.
ir::Graph simplify(const ir::Graph& graph);

/// Pushes slices through elementwise ops toward the values that live in memory (matmul results,
/// leaves), so that an LSTM's four gates are computed by one loop of width H over slices of the
/// gate buffer instead of a loop of width 4H followed by four slices. A slice sinks only into a
/// value that nothing else uses whole, so no work is duplicated.
ir::Graph sink_slices(const ir::Graph& graph);

/// Decides what the forward step stores for the backward step: every forward value the backward
/// graph reads (and cannot get from a leaf) is saved at each step and read back as a `saved` leaf;
/// cheap expressions of saved values are recomputed. Returns (forward with `save` results,
/// backward with `saved` leaves). `backward` must come from differentiate(forward).
std::pair<ir::Graph, ir::Graph> choose_saved(const ir::Graph& forward, const ir::Graph& backward);

/// Assigns every node to a phase (shared, pre, loop, post); see schedule.hpp.
ScanSchedule hoist_time_parallel(const ir::Graph& graph, bool reverse, bool hoist = true);

/// Groups the elementwise nodes of each phase into stages and fused loops and decides which
/// values are materialized; fills `stage`, `materialized`, `folded`, `products` and `groups`.
void fuse_elementwise(ScanSchedule& schedule, bool fuse = true);

/// Lets a fused loop compute again, in registers, cheap values of earlier loops of its rows and
/// width instead of reading them back from memory; those no longer read from memory are no longer
/// materialized. Fills FusionGroup::recomputed (see rematerialize.cpp).
void rematerialize(ScanSchedule& schedule, bool enable = true);

/// The whole pipeline for one layer. `input_gradient` false: the backward pass does not compute the
/// gradient of the cell's input (drop_input_gradient). `batch`: the rows of a step, which decide
/// whether the forward is hoisted (PassOptions::hoist_forward_below_batch).
LayerSchedule schedule_layer(const ir::Graph& cell, const PassOptions& options = {}, bool input_gradient = true,
                             int64_t batch = 1);

}  // namespace cellforge::passes
