// A cell with many states (each has four slots in a call's pointer table: initial, final and their
// gradients) compiles and matches the reference interpreter. The lowering's cache of loaded slots
// had a fixed size of 64, so a cell of 14 states failed with "slot 64 out of range" once the table
// had one more fixed slot; it is now sized from the plan.
#include <catch2/catch.hpp>

#include <string>

#include "codegen/ir/text.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

// n states, each s_i' = tanh(s_i + s_{i-1} * 0.5 + W x), all read by the output.
ir::Graph cell_with_states(int n) {
  std::string text = "cell many {\n  input %x : [X]\n";
  for (int i = 0; i < n; ++i) text += "  state %s" + std::to_string(i) + " : [H]\n";
  text += "  param %W : [H, X]\n  %m = matmul %W, %x : [H]\n  %half = constant 0.5 : [1]\n";
  std::string sum;
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i), prev = std::to_string((i + n - 1) % n);
    text += "  %p" + k + " = mul %s" + prev + ", %half : [H]\n";
    text += "  %a" + k + " = add %s" + k + ", %p" + k + " : [H]\n";
    text += "  %b" + k + " = add %a" + k + ", %m : [H]\n";
    text += "  %n" + k + " = tanh %b" + k + " : [H]\n";
    if (i == 0) {
      sum = "%n0";
    } else {
      text += "  %y" + k + " = add " + sum + ", %n" + k + " : [H]\n";
      sum = "%y" + k;
    }
  }
  for (int i = 0; i < n; ++i) text += "  next s" + std::to_string(i) + " = %n" + std::to_string(i) + "\n";
  text += "  output y = " + sum + "\n}\n";
  return ir::parse(text);
}

}  // namespace

TEST_CASE("differential: cells with many states, against the reference interpreter") {
  for (int states : {14, 20}) {
    ir::NetworkSizes sizes;
    sizes.input = 3;
    sizes.hidden = 5;
    sizes.batch = 2;
    sizes.unroll = 3;
    sizes.layers = 2;
    testing::HarnessOptions options;
    options.threads = 2;
    const testing::Comparison c = testing::compare_with_reference(cell_with_states(states), sizes, options);
    INFO(states << " states: worst " << c.worst.relative << " in " << c.worst.where);
    CHECK_FALSE(c.worst.nonfinite_mismatch);
    CHECK(c.worst.relative < 1e-4);
  }
}
