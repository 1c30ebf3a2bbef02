// compile_fail: next(h, value) with an [H] state and a [4H] value. The DSL must refuse it at
// compile time with the rule's text, fired inside the helper named after the rule, whose template
// arguments show the shapes, and with no other error (the bad value becomes Invalid and absorbs
// every later use: one mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::a_state_must_be_returned_with_the_shape_it_came_in<cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > >, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<4, 'H'> > > >
// CHECK: error: static assertion failed: cellforge: next(s, value) needs value to have the shape of the state s (the two shapes are the template arguments of this helper)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 4_c * H, X);
  auto U = param("U"_s, 4_c * H, H);
  auto z = tanh(W * x + U * h);
  return cell("c"_s, next(h, z), output(z));
}
