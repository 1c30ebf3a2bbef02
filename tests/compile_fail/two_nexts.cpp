// compile_fail: two next() values for one state. The DSL must refuse it at compile time with the
// rule's text, fired inside the helper named after the rule, whose template arguments show the
// name, and with no other error (the bad value becomes Invalid and absorbs every later use: one
// mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::a_state_has_exactly_one_next<boost::hana::string<'h'> >
// CHECK: error: static assertion failed: cellforge: cell(...) gives two next values for the same state
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, H);
  auto h = state("h"_s, H);
  auto a = tanh(x + h);
  auto b = sigmoid(x + h);
  return cell("c"_s, next(h, a), next(h, b), output(a));
}
