// CallOptions::parameters_unchanged: a forward call that reuses the weights the previous forward
// call packed gives bitwise what packing them anew gives, for products in the time loop and for
// the matrix-vector products before it (T = 1, B = 1: a sampler's network, where the input
// products have fewer rows than a tile and read their weights prepacked too), on 1 and 2 threads,
// for several cells and a stack of two layers. The flag on a first call packs anyway; after the
// parameters change, a call without it uses the new ones; the packs are really reused (matrices
// changed under the flag are not seen); bidirectional layers, variable lengths and dropout; a
// backward after reusing calls still has its own packs; strict mode names a parameter that
// changed although the flag says otherwise.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "codegen/ir/error.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/random_floats.hpp"

using namespace cellforge;
using testing::bitwise_equal;
using testing::random_floats;

namespace {

struct Io {
  std::vector<float> x, y;
  std::vector<std::vector<float>> initial, final;
};

Io make_io(const CompiledNetwork& net, uint64_t seed) {
  const auto& s = net.sizes();
  Io io;
  io.x = random_floats(static_cast<size_t>(s.unroll * s.batch * net.input_width()), seed, 1.0f);
  io.y.assign(static_cast<size_t>(s.unroll * s.batch * net.output_width()), std::nanf(""));
  for (size_t k = 0; k < net.state_names().size(); ++k) {
    io.initial.push_back(random_floats(static_cast<size_t>(net.state_floats(k)), seed + 1 + k, 0.5f));
    io.final.emplace_back(static_cast<size_t>(net.state_floats(k)), std::nanf(""));
  }
  return io;
}

// y and the final states of one forward call, as bytes.
std::vector<float> forward(CompiledNetwork& net, const std::vector<float>& params, Io io, bool unchanged,
                           CallOptions call = {}) {
  std::vector<std::span<const float>> initial(io.initial.begin(), io.initial.end());
  std::vector<std::span<float>> final(io.final.begin(), io.final.end());
  call.parameters_unchanged = unchanged;
  net.forward(params, io.x, initial, io.y, final, call);
  std::vector<float> out = io.y;
  for (const auto& f : io.final) out.insert(out.end(), f.begin(), f.end());
  return out;
}

}  // namespace

TEST_CASE("differential: forward calls that reuse packed weights give what packing anew gives") {
  struct Shape {
    int64_t batch, unroll, layers;
  };
  for (const char* cell : {"lstm", "gru", "layernorm_lstm"})
    for (Shape shape : {Shape{1, 1, 2}, Shape{1, 6, 1}, Shape{4, 5, 2}})
      for (int threads : {1, 2}) {
        INFO(cell << " B=" << shape.batch << " T=" << shape.unroll << " L=" << shape.layers << " threads=" << threads);
        const ir::NetworkSizes sizes{.input = 40, .hidden = 64, .batch = shape.batch, .unroll = shape.unroll,
                                     .layers = shape.layers};
        NetworkOptions options{.threads = threads};
        CompiledNetwork net = CompiledNetwork::compile(zoo::find(cell).build(), sizes, options);
        // What a network that has packed nothing before computes (its first call must pack).
        auto expected = [&](const std::vector<float>& p, const Io& io) {
          CompiledNetwork fresh = CompiledNetwork::compile(zoo::find(cell).build(), sizes, options);
          return forward(fresh, p, io, false);
        };
        const std::vector<float> params = random_floats(static_cast<size_t>(net.parameter_floats()), 7, 0.3f);
        std::vector<float> other = random_floats(params.size(), 8, 0.3f);
        const Io a = make_io(net, 11), b = make_io(net, 21);

        // The flag on a first call: nothing was packed yet, so the call packs.
        const std::vector<float> first = forward(net, params, a, true);
        CHECK(bitwise_equal(first, expected(params, a)));
        // Reusing, on other inputs: the same as a network that packs.
        CHECK(bitwise_equal(forward(net, params, b, true), expected(params, b)));
        CHECK(bitwise_equal(forward(net, params, a, true), first));
        // New parameters without the flag are packed and used.
        const std::vector<float> with_other = forward(net, other, a, false);
        CHECK_FALSE(bitwise_equal(with_other, first));
        CHECK(bitwise_equal(with_other, expected(other, a)));
        CHECK(bitwise_equal(forward(net, other, b, true), expected(other, b)));
      }
}

TEST_CASE("differential: reused packs are really used: a matrix changed under the flag is not seen") {
  // At T * B below a tile's rows every weight matrix is read prepacked, so a call that claims no
  // change while only matrices changed computes exactly what the packed (old) matrices give.
  const ir::NetworkSizes sizes{.input = 12, .hidden = 32, .batch = 1, .unroll = 3, .layers = 2};
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("lstm").build(), sizes);
  const std::vector<float> params = random_floats(static_cast<size_t>(net.parameter_floats()), 1, 0.3f);
  std::vector<float> matrices_changed = params;
  for (const ParameterInfo& p : net.parameters())
    if (p.cols)
      for (int64_t i = 0; i < p.size(); ++i) matrices_changed[static_cast<size_t>(p.offset + i)] *= -1.5f;
  const Io io = make_io(net, 2);
  const std::vector<float> old = forward(net, params, io, false);
  CHECK(bitwise_equal(forward(net, matrices_changed, io, true), old));
  CHECK_FALSE(bitwise_equal(forward(net, matrices_changed, io, false), old));
}

TEST_CASE("differential: reusing packed weights with bidirectional layers, variable lengths and dropout") {
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("gru").build(),
                                                {.input = 10, .hidden = 32, .batch = 3, .unroll = 2, .layers = 2});
  for (ir::LayerSpec& layer : spec.layers) layer.bidirectional = true;
  spec.variable_lengths = true;
  spec.dropout = 0.25;
  for (int threads : {1, 2}) {
    INFO("threads=" << threads);
    CompiledNetwork net = CompiledNetwork::compile(spec, {.threads = threads});
    const std::vector<float> params = random_floats(static_cast<size_t>(net.parameter_floats()), 3, 0.3f);
    const std::vector<float> other = random_floats(params.size(), 4, 0.3f);
    const std::vector<int64_t> lengths = {2, 1, 2};
    const CallOptions call{.lengths = lengths, .training = true, .dropout_seed = 9};
    const Io a = make_io(net, 5), b = make_io(net, 6);
    auto expected = [&](const std::vector<float>& p, const Io& io) {
      CompiledNetwork fresh = CompiledNetwork::compile(spec, {.threads = threads});
      return forward(fresh, p, io, false, call);
    };
    forward(net, params, a, false, call);
    CHECK(bitwise_equal(forward(net, params, b, true, call), expected(params, b)));
    forward(net, other, a, false, call);
    CHECK(bitwise_equal(forward(net, other, b, true, call), expected(other, b)));
  }
}

TEST_CASE("differential: a backward after forward calls that reused packed weights packs its own") {
  const ir::NetworkSizes sizes{.input = 24, .hidden = 32, .batch = 2, .unroll = 3, .layers = 1};
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("lstm").build(), sizes);
  CompiledNetwork fresh = CompiledNetwork::compile(zoo::find("lstm").build(), sizes);
  const std::vector<float> old_params = random_floats(static_cast<size_t>(net.parameter_floats()), 3, 0.3f);
  const std::vector<float> params = random_floats(old_params.size(), 4, 0.3f);
  Io io = make_io(net, 5);
  const std::vector<float> dy = random_floats(io.y.size(), 6, 1.0f);
  auto backward = [&](CompiledNetwork& n) {
    std::vector<float> dparams(params.size()), dx(io.x.size());
    std::vector<std::vector<float>> d_final, d_initial;
    for (size_t k = 0; k < n.state_names().size(); ++k) {
      d_final.emplace_back(static_cast<size_t>(n.state_floats(k)), 0.0f);
      d_initial.emplace_back(static_cast<size_t>(n.state_floats(k)), 0.0f);
    }
    std::vector<std::span<const float>> df(d_final.begin(), d_final.end());
    std::vector<std::span<float>> di(d_initial.begin(), d_initial.end());
    n.backward(params, io.x, dy, df, dparams, dx, di);
    dparams.insert(dparams.end(), dx.begin(), dx.end());
    return dparams;
  };
  // `net`'s backward packed old parameters once; the new ones come with two forward calls, the
  // second of which reuses the first's packs.
  forward(net, old_params, io, false);
  backward(net);
  forward(net, params, io, false);
  forward(net, params, io, true);
  forward(fresh, params, io, false);
  CHECK(bitwise_equal(backward(net), backward(fresh)));
}

TEST_CASE("differential: strict mode names a parameter that changed under parameters_unchanged") {
  const ir::NetworkSizes sizes{.input = 8, .hidden = 16, .batch = 1, .unroll = 1, .layers = 1};
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("gru").build(), sizes, {.strict = true});
  std::vector<float> params = random_floats(static_cast<size_t>(net.parameter_floats()), 9, 0.3f);
  Io io = make_io(net, 10);
  forward(net, params, io, false);
  forward(net, params, io, true);  // nothing changed: accepted
  const ParameterInfo& w = net.parameters().at(2);
  params[static_cast<size_t>(w.offset + 5)] += 1.0f;
  try {
    forward(net, params, io, true);
    FAIL("a changed parameter was accepted with parameters_unchanged");
  } catch (const UserError& e) {
    const std::string message = e.what();
    CHECK(message.find("parameter '" + w.name + "'") != std::string::npos);
    CHECK(message.find("element 5") != std::string::npos);
    CHECK(message.find("leave parameters_unchanged false") != std::string::npos);
  }
  forward(net, params, io, false);  // told: packs the new values
  forward(net, params, io, true);
}
