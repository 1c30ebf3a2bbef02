// Values that are parts of several concatenations (network_plan.cpp: placed in the first one's
// slot, stored into the others' by their fused loop), against the reference interpreter: a part
// also read after the time loop (W_y v), which needs a buffer of every step, not the slot of a
// concatenation that lives for one step; and the GRU, whose gate gradients are parts of both dz
// for W_hh and dz for W_ih, at the batch sizes where its step splits rows, features or nothing.
#include <catch2/catch.hpp>

#include <string>

#include "codegen/ir/text.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

ir::NetworkSizes sizes_of(int64_t hidden, int64_t batch, int64_t unroll) {
  ir::NetworkSizes s;
  s.input = hidden;
  s.hidden = hidden;
  s.batch = batch;
  s.unroll = unroll;
  s.layers = 1;
  return s;
}

void check(const ir::Graph& cell, const ir::NetworkSizes& sizes, int threads) {
  testing::HarnessOptions options;
  options.threads = threads;
  const testing::Comparison c = testing::compare_with_reference(cell, sizes, options);
  std::string tensors;
  for (const auto& [name, difference] : c.tensors) tensors += "\n  " + name + ": " + std::to_string(difference);
  INFO(cell.name() << " B=" << sizes.batch << " H=" << sizes.hidden << " threads=" << threads << ": worst "
                   << c.worst.relative << " in " << c.worst.where << tensors);
  CHECK_FALSE(c.worst.nonfinite_mismatch);
  CHECK(c.worst.relative < 1e-4);
}

}  // namespace

TEST_CASE("differential: a part of two concatenations that is also read after the time loop") {
  // %v feeds both concatenations (read by the step's products only: buffers of one step) and the
  // output product W_y v, which runs after the loop over all steps' v.
  const ir::Graph cell = ir::parse(R"(cell two_concats {
  input %x : [H]
  state %h : [H]
  param %W : [H, 2H]
  param %U : [H, 2H]
  param %W_y : [H, H]
  %s = add %h, %x : [H]
  %v = tanh %s : [H]
  %c1 = concat %v, %x : [2H]
  %c2 = concat %v, %h : [2H]
  %a = matmul %W, %c1 : [H]
  %b = matmul %U, %c2 : [H]
  %n = add %a, %b : [H]
  %h_next = tanh %n : [H]
  %y = matmul %W_y, %v : [H]
  next h = %h_next
  output y = %y
})");
  for (int64_t batch : {1, 3, 16})
    for (int threads : {1, 2}) check(cell, sizes_of(16, batch, 5), threads);
}

TEST_CASE("differential: the GRU's gate gradients stored into both concatenations") {
  const ir::Graph gru = zoo::find("gru").build();
  for (int64_t batch : {1, 3, 16})
    for (int threads : {1, 2, 3}) check(gru, sizes_of(32, batch, 4), threads);
}
