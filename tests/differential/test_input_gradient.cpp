// NetworkSpec::input_gradient = false: BPTT without dL/dx (one-hot characters, fixed features).
// The network computes everything else bit for bit as the network with dx does — outputs, final
// states, every parameter's and initial state's gradient — for zoo cells, a cell whose dL/dx needs
// a saved value of its own and a cell without any dL/dx (its input behind stop_gradient), stacked,
// bidirectional, with variable lengths and dropout, on 1 and 2 threads; the work is really gone (the dx product is no longer scheduled; the value saved
// only for dx is no longer saved); a dx given to such a network is refused.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/input_cells.hpp"
#include "support/random_floats.hpp"
#include "support/state_buffers.hpp"

using namespace cellforge;
using testing::bitwise_equal;
using testing::random_floats;

namespace {

// x reaches the result only through stop_gradient: the cell has no dL/dx at all.
const char* kStoppedInputCell = R"(cell stopped_input {
  input %x : [X]
  state %h : [H]
  param %W : [H, X]
  param %U : [H, H]
  %s = stop_gradient %x : [X]
  %a = matmul %W, %s : [H]
  %m = matmul %U, %h : [H]
  %p = add %a, %m : [H]
  %n = tanh %p : [H]
  next h = %n
  output y = %n
}
)";

// Everything one forward and one backward call write, except dx, as one vector.
std::vector<float> run(CompiledNetwork& net, bool with_dx, const std::vector<int64_t>& lengths) {
  const auto& s = net.sizes();
  const size_t rows = static_cast<size_t>(s.unroll * s.batch);
  const std::vector<float> params = random_floats(static_cast<size_t>(net.parameter_floats()), 1, 0.3f);
  const std::vector<float> x = random_floats(rows * static_cast<size_t>(net.input_width()), 2, 1.0f);
  const std::vector<float> dy = random_floats(rows * static_cast<size_t>(net.output_width()), 3, 1.0f);
  std::vector<float> y(rows * static_cast<size_t>(net.output_width())), dparams(params.size());
  std::vector<float> dx(with_dx ? x.size() : 0);
  testing::StateBuffers states(net);
  CallOptions call;
  call.lengths = lengths;
  call.dropout_seed = 5;
  net.forward(params, x, states.initial_in(), y, states.final_out(), call);
  net.backward(params, x, dy, states.d_final_in(), dparams, dx, states.d_initial_out());
  std::vector<float> out = y;
  out.insert(out.end(), dparams.begin(), dparams.end());
  const std::vector<float> written = states.written();
  out.insert(out.end(), written.begin(), written.end());
  return out;
}

ir::Graph cell_named(const std::string& name) {
  if (name == "scaled_input") return ir::parse(testing::kScaledInputCell);
  if (name == "stopped_input") return ir::parse(kStoppedInputCell);
  return zoo::find(name).build();
}

// The products and saved values of layer 0's schedule.
struct Work {
  size_t backward_products = 0, saved_values = 0;
};
Work work_of(const CompiledNetwork& net) {
  const auto& plan = net.plan();
  const auto& schedule = plan.schedules[static_cast<size_t>(plan.layer_schedule[0])];
  Work w;
  w.backward_products = schedule.backward.products.size();
  for (const ir::Output& o : schedule.forward.graph.outputs()) w.saved_values += o.role == ir::Role::save;
  return w;
}

}  // namespace

TEST_CASE("differential: a network without the input gradient computes the rest bit for bit") {
  struct Case {
    const char* cell;
    int64_t layers;
    bool bidirectional, lengths;
    double dropout;
  };
  const std::vector<Case> cases = {
      {"lstm", 1, false, false, 0.0},         {"lstm", 2, false, false, 0.3},  {"lstm", 2, true, true, 0.0},
      {"gru", 2, false, true, 0.0},           {"peephole_lstm", 1, false, false, 0.0},
      {"layernorm_lstm", 2, false, false, 0.0}, {"scaled_input", 2, false, false, 0.2},
      {"scaled_input", 1, true, true, 0.0},   {"stopped_input", 2, false, false, 0.0}};
  for (const Case& c : cases)
    for (int threads : {1, 2}) {
      INFO(c.cell << " L=" << c.layers << (c.bidirectional ? " bidirectional" : "") << (c.lengths ? " lengths" : "")
                  << " dropout=" << c.dropout << " threads=" << threads);
      const ir::NetworkSizes sizes{.input = 24, .hidden = 24, .batch = 3, .unroll = 5, .layers = c.layers, .extra = {}};
      ir::NetworkSpec spec = ir::NetworkSpec::stack(cell_named(c.cell), sizes);
      for (auto& layer : spec.layers) layer.bidirectional = c.bidirectional;
      spec.variable_lengths = c.lengths;
      spec.dropout = c.dropout;
      const std::vector<int64_t> lengths = c.lengths ? std::vector<int64_t>{5, 2, 4} : std::vector<int64_t>{};
      NetworkOptions options;
      options.threads = threads;
      CompiledNetwork with = CompiledNetwork::compile(spec, options);
      spec.input_gradient = false;
      CompiledNetwork without = CompiledNetwork::compile(spec, options);
      CHECK(bitwise_equal(run(without, false, lengths), run(with, true, lengths)));
      // The work is gone: one product fewer (W^T dG) for the zoo cells; for scaled_input the dx is
      // elementwise, and V h is no longer saved.
      const Work w = work_of(with), wo = work_of(without);
      if (std::string(c.cell) == "scaled_input") {
        CHECK(wo.saved_values < w.saved_values);
      } else if (std::string(c.cell) == "stopped_input") {
        CHECK(wo.backward_products == w.backward_products);  // nothing to drop
      } else {
        CHECK(wo.backward_products < w.backward_products);
        CHECK(wo.saved_values == w.saved_values);
      }
    }
}

TEST_CASE("differential: a dx given to a network without the input gradient is refused") {
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("rnn").build(), {.input = 4, .hidden = 3, .batch = 2, .unroll = 2, .layers = 1, .extra = {}});
  spec.input_gradient = false;
  NetworkOptions options;
  options.threads = 1;
  CompiledNetwork net = CompiledNetwork::compile(spec, options);
  std::vector<float> params(static_cast<size_t>(net.parameter_floats()), 0.1f), x(16, 1.0f), y(12), dy(12, 1.0f),
      dparams(params.size()), dx(16), h0(6), hT(6), dhT(6), dh0(6);
  net.forward(params, x, {h0}, y, {hT});
  CHECK_THROWS_WITH(net.backward(params, x, dy, {dhT}, dparams, dx, {dh0}),
                    Catch::Contains("dx has 16 floats, but the network was compiled without an input gradient") &&
                        Catch::Contains("pass an empty dx"));
  CHECK_NOTHROW(net.backward(params, x, dy, {dhT}, dparams, {}, {dh0}));
}
