// compile_fail: an input with an empty name. The DSL must refuse it at compile time with the rule's
// text, fired inside the helper named after the rule, whose template arguments show the shapes, and
// with no other error (the bad value becomes Invalid and absorbs every later use: one mistake, one
// error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::a_leaf_needs_a_name<boost::hana::string<> >
// CHECK: error: static assertion failed: cellforge: inputs, states and parameters need a non-empty name, e.g. "x"_s
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input(""_s, X);
  auto h = state("h"_s, H);
  return cell("c"_s, next(h, tanh(h)), output(h));
}
