// compile_fail: next() of an input. The DSL must refuse it at compile time with the rule's text,
// fired inside the helper named after the rule, whose template arguments show the shapes, and with
// no other error (the bad value becomes Invalid and absorbs every later use: one mistake, one
// error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::next_needs_a_state_as_its_first_argument<cellforge::dsl::Leaf<cellforge::dsl::input_kind, boost::hana::string<'x'>, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > > > >
// CHECK: error: static assertion failed: cellforge: next(s, value) gives the next value of a state; its first argument must be a state declared with state("name"_s, size)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, H);
  auto h = state("h"_s, H);
  auto h_next = tanh(x + h);
  return cell("c"_s, next(x, h_next), next(h, h_next), output(h_next));
}
