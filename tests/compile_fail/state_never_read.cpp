// compile_fail: a state whose next value is given but that no result reads. The DSL must refuse it
// at compile time with the rule's text, fired inside the helper named after the rule, whose
// template arguments show the name, and with no other error (the bad value becomes Invalid and
// absorbs every later use: one mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::the_cell_never_reads_its_state<boost::hana::string<'h'> >
// CHECK: error: static assertion failed: cellforge: the cell gives a next value for a state that no result reads; it is not recurrent. Read the state or remove it
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, X);
  auto h_next = tanh(W * x);
  return cell("c"_s, next(h, h_next), output(h_next));
}
