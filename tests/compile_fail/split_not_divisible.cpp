// compile_fail: splitting [H+X] into 2 equal parts. The DSL must refuse it at compile time with the
// rule's text, fired inside the helper named after the rule, whose template arguments show the
// shapes, and with no other error (the bad value becomes Invalid and absorbs every later use: one
// mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::split_length_must_divide_into_equal_parts<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'>, cellforge::dsl::Term<1, 'X'> >, std::integral_constant<long long int, 2> >
// CHECK: error: static assertion failed: cellforge: split<k>(v) needs the length of v to divide by k term by term (4H splits into 4 parts of H, but H+X does not split into 2)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto parts = split<2>(concat(x, h));  // see invalid_absorbs_later_uses.cpp for [a, b] = ...
  (void)parts;
  auto h_next = tanh(h);
  return cell("c"_s, next(h, h_next), output(h_next));
}
