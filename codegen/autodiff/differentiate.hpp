// Symbolic differentiation of step graphs.
//
// differentiate() is reverse mode: from a cell's forward step graph it builds the backward step
// graph in the same IR. Its leaves are the forward leaves plus one seed per forward result
// (dL/ds_t for each next state, dL/dy_t for the output); its results are the gradients of every
// input, state and parameter the results depend on (grad x, grad h, grad W). A leaf with no grad
// result has a zero gradient. BPTT runs this graph backwards through time: the gradient of a state
// at step t is the seed of its next value at step t-1.
//
// linearize() is forward mode: the Jacobian-vector product of one step with respect to the state.
// Its leaves are the forward leaves plus one tangent input per state (named "d" + state); its
// results are the tangents of the next states (output "d" + state + "_next").
//
// Both use the rule table of rules.hpp and differentiate only the active part of the graph: nodes
// that depend on a leaf being differentiated (not through stop_gradient) and that a result needs.
#pragma once

#include "codegen/ir/graph.hpp"

namespace cellforge::autodiff {

/// The backward step graph of `cell` (a forward step graph that passes verify_cell).
ir::Graph differentiate(const ir::Graph& cell);

/// The Jacobian-vector product graph of `cell` with respect to its states.
ir::Graph linearize(const ir::Graph& cell);

/// The vector-Jacobian product of one step with respect to the states only: like differentiate(),
/// but with seeds for the next states only and gradients for the states only.
ir::Graph state_vjp(const ir::Graph& cell);

/// Seed names: "d" + state + "_next" for a next state, "d" + output for the output.
std::string seed_name(ir::Role role, const std::string& of);

}  // namespace cellforge::autodiff
