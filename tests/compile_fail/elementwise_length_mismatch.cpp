// compile_fail: adding a [4H] pre-activation to the [H] state. The DSL must refuse it at compile
// time with the rule's text, fired inside the helper named after the rule, whose template arguments
// show the shapes, and with no other error (the bad value becomes Invalid and absorbs every later
// use: one mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::elementwise_operands_must_have_the_same_length<cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<4, 'H'> > >, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > > >
// CHECK: error: static assertion failed: cellforge: the operands of an elementwise op (+ - * /) must have the same length, or one of them length 1 (the two shapes are the template arguments of this helper)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 4_c * H, X);
  auto h_next = tanh(W * x + h);
  return cell("c"_s, next(h, h_next), output(h_next));
}
