// Networks of the same thread count share the process's thread pool (jit::shared_thread_pool):
// called one after the other, as a language model's cells and head are, or from two threads at
// once, each still computes bitwise what it computes alone.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/random_floats.hpp"

using namespace cellforge;
using testing::bitwise_equal;

namespace {

struct Model {
  CompiledNetwork net;
  std::vector<float> params, x, dy;
  std::vector<std::vector<float>> initial, d_final;

  Model(const char* cell, int64_t hidden, uint64_t seed)
      : net(CompiledNetwork::compile(zoo::find(cell).build(),
                                     {.input = 16, .hidden = hidden, .batch = 4, .unroll = 6, .layers = 2},
                                     {.threads = 2})) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
    auto fill = [&](size_t n) {
      std::vector<float> v(n);
      for (float& f : v) f = uniform(rng);
      return v;
    };
    const auto& s = net.sizes();
    params = fill(static_cast<size_t>(net.parameter_floats()));
    x = fill(static_cast<size_t>(s.unroll * s.batch * net.input_width()));
    dy = fill(static_cast<size_t>(s.unroll * s.batch * net.output_width()));
    for (size_t k = 0; k < net.state_names().size(); ++k) {
      initial.push_back(fill(static_cast<size_t>(net.state_floats(k))));
      d_final.push_back(fill(static_cast<size_t>(net.state_floats(k))));
    }
  }

  // y, the final states, dparams, dx and the initial states' gradients of one forward + backward.
  std::vector<float> run() {
    const auto& s = net.sizes();
    std::vector<float> y(static_cast<size_t>(s.unroll * s.batch * net.output_width()));
    std::vector<float> dparams(params.size()), dx(x.size());
    std::vector<std::vector<float>> final(initial), d_initial(initial);
    std::vector<std::span<const float>> in(initial.begin(), initial.end()), df(d_final.begin(), d_final.end());
    std::vector<std::span<float>> out(final.begin(), final.end()), di(d_initial.begin(), d_initial.end());
    net.forward(params, x, in, y, out);
    net.backward(params, x, dy, df, dparams, dx, di);
    std::vector<float> all = y;
    for (const auto* part : {&dparams, &dx}) all.insert(all.end(), part->begin(), part->end());
    for (const auto& v : final) all.insert(all.end(), v.begin(), v.end());
    for (const auto& v : d_initial) all.insert(all.end(), v.begin(), v.end());
    return all;
  }
};

}  // namespace

TEST_CASE("differential: networks sharing the thread pool, called in turn and at once, compute what they do alone") {
  Model lstm("lstm", 48, 1), gru("gru", 40, 2);
  const std::vector<float> lstm_alone = lstm.run(), gru_alone = gru.run();
  for (int i = 0; i < 5; ++i) {
    CHECK(bitwise_equal(lstm.run(), lstm_alone));
    CHECK(bitwise_equal(gru.run(), gru_alone));
  }
  int lstm_wrong = 0, gru_wrong = 0;
  std::thread other([&] {
    for (int i = 0; i < 40; ++i) gru_wrong += !bitwise_equal(gru.run(), gru_alone);
  });
  for (int i = 0; i < 40; ++i) lstm_wrong += !bitwise_equal(lstm.run(), lstm_alone);
  other.join();
  CHECK(lstm_wrong == 0);
  CHECK(gru_wrong == 0);
}
