// The cell zoo: known recurrent cells written in the DSL the way their papers write them, by name.
// Cells that PyTorch also has use PyTorch's parameter names and gate orders (W_ih, W_hh, b_ih,
// b_hh; LSTM gates i, f, g, o; GRU gates r, z, n), so weights move between the two unchanged.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"

namespace cellforge::zoo {

struct ZooCell {
  std::string name;
  std::string summary;    // one line
  std::string equations;  // the equations, as the DSL source writes them
  std::string source;     // paper or library it comes from
  std::function<ir::Graph()> build;
};

/// Every cell of the zoo, in the order `cellforge cells` lists them.
const std::vector<ZooCell>& cells();

/// The cell called `name`; throws UserError listing the known names.
const ZooCell& find(const std::string& name);

/// Registration, one call per source file of the zoo.
void add_basic_cells(std::vector<ZooCell>& cells);    // basic.cpp: rnn, lstm, gru
void add_variant_cells(std::vector<ZooCell>& cells);  // variants.cpp: LSTM variants, MGU, JANET, IndRNN, SRU

}  // namespace cellforge::zoo
