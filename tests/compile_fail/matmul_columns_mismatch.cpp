// compile_fail: W [H, X] times the state h [H]: W's columns are X, not H. The DSL must refuse it at
// compile time with the rule's text, fired inside the helper named after the rule, whose template
// arguments show the shapes, and with no other error (the bad value becomes Invalid and absorbs
// every later use: one mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::matmul_columns_must_equal_the_vector_length<cellforge::dsl::Mat<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> >, cellforge::dsl::Dim<cellforge::dsl::Term<1, 'X'> > >, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > > >
// CHECK: error: static assertion failed: cellforge: in W * v the number of columns of W must equal the length of v (the shapes are the template arguments of this helper)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, X);
  auto h_next = tanh(W * h);
  return cell("c"_s, next(h, h_next), output(h_next));
}
