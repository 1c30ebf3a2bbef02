// compile_fail: a cell without output(). The DSL must refuse it at compile time with the rule's
// text, fired inside the helper named after the rule, whose template arguments show the number of
// outputs, and with no other error (the bad value becomes Invalid and absorbs every later use: one
// mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::a_cell_has_exactly_one_output<std::integral_constant<long unsigned int, 0> >
// CHECK: error: static assertion failed: cellforge: cell(...) needs exactly one output(value) (the number given is the template argument of this helper)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H);
  auto U = param("U"_s, H, H);
  return cell("c"_s, next(h, tanh(U * h)));
}
