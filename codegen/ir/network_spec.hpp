// What a network is: layers of cells, stacked bottom to top, with their sizes, and the features
// that change how a layer runs — a bidirectional layer (a second copy of the cell, with its own
// parameters and states, runs from the last step to the first; the layer's output is both outputs
// side by side, forward first), sequences of different lengths in one batch (each sequence's steps
// after its length are padding: they change no state, output zeros and carry no gradient), and
// dropout between layers (each input feature of the layers above the first is zeroed with
// probability p during training, the rest scaled by 1/(1-p)), and zoneout on named states (each
// element of the state keeps its previous value with probability z during training; evaluation
// blends z * previous + (1 - z) * new, the expectation), and weight drop on named parameters
// (DropConnect, AWD-LSTM's WeightDrop: each element of the parameter is zeroed with probability p
// for a whole training call, the rest scaled by 1/(1-p)).
//
// The reference network and the compiler both take a NetworkSpec. A (layer, direction) pair is a
// *unit*: one copy of a cell with its own parameters and states; units are numbered bottom to top,
// the forward direction of a layer before its backward one.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "codegen/ir/dim.hpp"
#include "codegen/ir/graph.hpp"

namespace cellforge::ir {

/// The sizes of a network of stacked cells.
struct NetworkSizes {
  int64_t input = 0;   // X: features of the network's input at each step
  int64_t hidden = 0;  // H
  int64_t batch = 0;   // B: sequences run side by side
  int64_t unroll = 0;  // T: steps
  int64_t layers = 1;  // L: stacked layers
  Bindings extra;      // the cells' other sizes, e.g. {"P": 64}
};

struct LayerSpec {
  Graph cell;
  bool bidirectional = false;
};

struct NetworkSpec {
  std::vector<LayerSpec> layers;  // bottom to top; sizes.layers == layers.size()
  NetworkSizes sizes;
  bool variable_lengths = false;  // each call gives every sequence's length
  double dropout = 0;             // probability of dropping an input feature of layers above the first
  // true: one dropout mask per sequence for all its steps (variational dropout, Gal & Ghahramani
  // 2016; AWD-LSTM's LockedDropout) instead of a mask per step.
  bool dropout_per_sequence = false;
  // false: the network's input needs no gradient (one-hot characters, fixed features); backward()
  // then takes an empty dx and skips the products that would compute it.
  bool input_gradient = true;
  // true: the network's input is one-hot (X = the vocabulary, a character model's): each call gives,
  // per step and sequence, the index of the one feature that is 1 instead of X floats, and layer 0's
  // products W x become row gathers of W's columns (their weight gradients scatter-adds) instead of
  // GEMMs over X mostly-zero columns. Needs input_gradient = false (an index has no gradient).
  bool one_hot_input = false;
  // Zoneout (Krueger et al. 2016): state name -> z in [0, 1), the probability that an element of
  // that state keeps its previous value at a training step, in every layer whose cell has the
  // state. A cell whose output is that state outputs the zoned value. Rates of 0 change nothing.
  std::map<std::string, double> zoneout;
  // Weight drop (DropConnect; AWD-LSTM's WeightDrop on W_hh): parameter name -> p in [0, 1). In a
  // training call each element of that parameter, in every layer whose cell has it, is zeroed with
  // probability p and the rest scaled by 1/(1-p), one mask for the whole call (every step and
  // sequence); its gradient is the masked parameter's times the mask. Evaluation uses the
  // parameter as it is.
  std::map<std::string, double> weight_drop;

  /// sizes.layers copies of `cell`, one direction each.
  static NetworkSpec stack(const Graph& cell, const NetworkSizes& sizes);
  int64_t directions(int64_t layer) const { return layers.at(static_cast<size_t>(layer)).bidirectional ? 2 : 1; }
  /// The states of layer `layer`'s cell that zoneout changes (rate > 0), in the cell's order.
  std::vector<std::string> zoned_states(int64_t layer) const;
};

/// One copy of a cell in a network.
struct Unit {
  int64_t layer;
  int64_t direction;  // 0: forward in time, 1: backward in time
};
std::vector<Unit> units(const NetworkSpec& spec);

/// The names of the inputs the compiler adds to a layer's cell for padding, dropout and zoneout; a
/// user cell may not use them (nor any input name that starts with kZoneoutMaskPrefix).
inline constexpr const char* kStepMask = "step_mask";
inline constexpr const char* kDropoutMask = "dropout_mask";
inline constexpr const char* kZoneoutMaskPrefix = "zoneout_";
/// The input holding state `state`'s zoneout mask.
inline std::string zoneout_mask_name(const std::string& state) { return kZoneoutMaskPrefix + state; }
/// Whether an input name is one the compiler adds.
bool is_added_input(const std::string& name);

/// The name of the cell's input (its one input other than the two above) and of its output.
std::string input_name(const Graph& cell);
std::string output_name(const Graph& cell);

/// The deepest stack cellforge compiles: each layer gets code of its own, so compile time grows with
/// the depth (100 layers of a small cell took about a minute).
inline constexpr int64_t kMaxLayers = 256;

/// Checks a spec: every size >= 1 (and at most kMaxLayers layers), every size a cell names is given,
/// each cell has one input and one output, dropout in [0, 1), every zoneout and weight-drop rate in
/// [0, 1) and naming a state (a parameter) of some layer's cell, no size that overflows 64 bits, and no
/// more memory needed than this machine has. Throws UserError naming the size or layer, its value
/// and the fix.
void check_spec(const NetworkSpec& spec);

/// The bindings of layer `layer`'s cell: X is the layer's input width (the network's input for
/// layer 0, the output width of the layer below above it); H and the extra sizes are shared.
Bindings layer_bindings(const NetworkSpec& spec, int64_t layer);
/// The width of a layer's output (both directions of a bidirectional layer).
int64_t layer_output_width(const NetworkSpec& spec, int64_t layer);

// The same for sizes.layers copies of one cell (NetworkSpec::stack).
void check_sizes(const Graph& cell, const NetworkSizes& sizes);
Bindings layer_bindings(const Graph& cell, const NetworkSizes& sizes, int64_t layer);

}  // namespace cellforge::ir
