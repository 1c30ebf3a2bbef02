// Proves BPTT of whole networks for the zoo's variant cells (runtime/zoo/variants.cpp):
// the reference interpreter's backward pass, built on autodiff::differentiate, against central
// differences in double (support/network_gradcheck.hpp), for T in {1, 3} steps, L in {1, 2}
// layers and B in {1, 3} rows, with non-zero random initial states and non-zero seeds on the
// outputs and the final states. Every derivative must pass allclose (atol 1e-7, rtol 1e-6; NaN
// fails), and the worst relative error over the cell must be <= 1e-6.
//
// X = 3, H = 4 and LSTMP's P = 2 all differ, so a transposed matrix or a swapped size cannot pass;
// layers above the first read an input of the output's size (H, or P for LSTMP).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdio>

#include "codegen/autodiff/differentiate.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/network_gradcheck.hpp"

using namespace cellforge;
using testing::Comparison;

namespace {

void check_cell(const std::string& name) {
  const ir::Graph cell = zoo::find(name).build();
  const ir::Graph backward = autodiff::differentiate(cell);
  Comparison total;
  for (int64_t unroll : {1, 3})
    for (int64_t layers : {1, 2})
      for (int64_t batch : {1, 3}) {
        ir::NetworkSizes sizes;
        sizes.input = 3, sizes.hidden = 4, sizes.batch = batch, sizes.unroll = unroll, sizes.layers = layers;
        if (name == "lstmp") sizes.extra = {{"P", 2}};
        const uint64_t seed = static_cast<uint64_t>(1000 + 100 * unroll + 10 * layers + batch);
        INFO(name << ": T = " << unroll << ", L = " << layers << ", B = " << batch << ", X = 3, H = 4"
                  << (name == "lstmp" ? ", P = 2" : "") << ", seed " << seed);
        const Comparison r = testing::check_network_bptt(cell, backward, sizes, seed);
        INFO(r.summary());
        CHECK(r.ok);
        CHECK(r.worst_rel <= 1e-6);  // false for NaN and for a failed element (worst_rel is then inf)
        CHECK(r.largest > 0.01);     // the gradients are not all (near) zero: the check has teeth
        total.merge(r);
      }
  std::printf("BPTT %s: %s\n", name.c_str(), total.summary().c_str());
}

}  // namespace

TEST_CASE("BPTT of zoo cell peephole_lstm matches central differences", "[gradcheck][zoo]") {
  check_cell("peephole_lstm");
}
TEST_CASE("BPTT of zoo cell cifg_lstm matches central differences", "[gradcheck][zoo]") {
  check_cell("cifg_lstm");
}
TEST_CASE("BPTT of zoo cell lstmp matches central differences", "[gradcheck][zoo]") {
  check_cell("lstmp");
}
TEST_CASE("BPTT of zoo cell layernorm_lstm matches central differences", "[gradcheck][zoo]") {
  check_cell("layernorm_lstm");
}
TEST_CASE("BPTT of zoo cell mlstm matches central differences", "[gradcheck][zoo]") {
  check_cell("mlstm");
}
TEST_CASE("BPTT of zoo cell mgu matches central differences", "[gradcheck][zoo]") {
  check_cell("mgu");
}
TEST_CASE("BPTT of zoo cell janet matches central differences", "[gradcheck][zoo]") {
  check_cell("janet");
}
TEST_CASE("BPTT of zoo cell indrnn matches central differences", "[gradcheck][zoo]") {
  check_cell("indrnn");
}
TEST_CASE("BPTT of zoo cell sru matches central differences", "[gradcheck][zoo]") {
  check_cell("sru");
}

TEST_CASE("the variant BPTT check covers every zoo cell beyond the basic five", "[gradcheck][zoo]") {
  const std::vector<std::string> basic{"rnn", "rnn_relu", "lstm", "gru", "gru_classic"};
  const std::vector<std::string> variants{"peephole_lstm", "cifg_lstm", "lstmp", "layernorm_lstm", "mlstm",
                                          "mgu",           "janet",     "indrnn", "sru"};
  std::vector<std::string> others;
  for (const auto& c : zoo::cells())
    if (std::find(basic.begin(), basic.end(), c.name) == basic.end()) others.push_back(c.name);
  CHECK(others == variants);
}
