// compile_fail: a cell that reads its state h but gives no next(h, ...). The DSL must refuse it at
// compile time with the rule's text, fired inside the helper named after the rule, whose template
// arguments show the name, and with no other error (the bad value becomes Invalid and absorbs every
// later use: one mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::every_state_the_cell_reads_needs_a_next<boost::hana::string<'h'> >
// CHECK: error: static assertion failed: cellforge: the cell reads a state but gives no next value for it; add next(state, value) to cell(...) (the state's name is the template argument of this helper)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, X);
  auto U = param("U"_s, H, H);
  auto h_next = tanh(W * x + U * h);
  return cell("c"_s, output(h_next));
}
