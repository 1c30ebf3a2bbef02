// Initialization and the forget-gate search; see init.hpp.
#include "runtime/train/init.hpp"

#include <cmath>
#include <optional>

#include "codegen/ir/error.hpp"
#include "codegen/ir/reference_network.hpp"

namespace cellforge::train {

namespace {

// The bias vector parameter that rows [offset, offset + n) of `value` come from, if any: follows
// slices (shifting the offset) and additions (first operand first).
std::optional<ForgetBias> bias_behind(const ir::Graph& cell, ir::NodeId value, int64_t offset, int64_t n,
                                      const ir::Bindings& bindings, int depth = 0) {
  if (depth > 64) return std::nullopt;
  const ir::Node& node = cell.node(value);
  if (node.op == ir::Op::param) {
    if (node.type.is_matrix()) return std::nullopt;
    return ForgetBias{node.name, offset, offset + n};
  }
  if (node.op == ir::Op::slice) return bias_behind(cell, node.args[0], offset + node.offset.bind(bindings), n, bindings, depth + 1);
  if (node.op == ir::Op::add) {
    for (ir::NodeId arg : node.args) {
      // An operand broadcast from a shorter vector does not line up row by row; skip it.
      if (!(cell.type(arg).rows == node.type.rows)) continue;
      if (auto found = bias_behind(cell, arg, offset, n, bindings, depth + 1)) return found;
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<ForgetBias> find_forget_biases(const ModelSpec& spec) {
  const ir::Graph& cell = spec.cell;
  ir::NetworkSizes sizes;
  sizes.input = spec.encoding == InputEncoding::one_hot ? spec.vocabulary : spec.embedding;
  sizes.hidden = spec.hidden;
  sizes.batch = sizes.unroll = 1;
  sizes.layers = spec.layers;
  sizes.extra = spec.extra;
  std::vector<ForgetBias> found;
  for (int64_t layer = 0; layer < spec.layers; ++layer) {
    const ir::Bindings bindings = ir::layer_bindings(cell, sizes, layer);
    for (ir::NodeId id = 0; id < cell.size(); ++id) {
      const std::string& label = cell.label(id);
      if ((label != "f" && label != "forget") || cell.node(id).op != ir::Op::sigmoid) continue;
      const int64_t n = cell.type(id).rows.bind(bindings);
      if (auto bias = bias_behind(cell, cell.node(id).args[0], 0, n, bindings)) {
        bias->parameter = "layer" + std::to_string(layer) + "." + bias->parameter;
        found.push_back(*bias);
      }
    }
  }
  return found;
}

std::vector<ForgetBias> initialize(Network& network, Rng& rng, const InitOptions& options) {
  if (!(options.scale >= 0) || !std::isfinite(options.scale))
    user_error("the initialization scale (--init-scale) must be a finite number >= 0, got ", options.scale,
               "; for example --init-scale 0.08 (char-rnn's uniform(-0.08, 0.08))");
  std::vector<ParameterView> params = network.parameters();
  for (ParameterView& p : params)
    for (float& v : p.value) v = static_cast<float>(rng.uniform(-options.scale, options.scale));
  if (std::isnan(options.forget_bias)) return {};
  std::vector<ForgetBias> biases = find_forget_biases(network.spec());
  for (const ForgetBias& b : biases)
    for (ParameterView& p : params)
      if (p.name == b.parameter)
        for (int64_t r = b.begin; r < b.end && r < p.rows; ++r) p.value[static_cast<size_t>(r)] = static_cast<float>(options.forget_bias);
  return biases;
}

}  // namespace cellforge::train
