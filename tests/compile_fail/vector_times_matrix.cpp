// compile_fail: x * W, the matrix on the right. The DSL must refuse it at compile time with the
// rule's text, fired inside the helper named after the rule, whose template arguments show the
// shapes, and with no other error (the bad value becomes Invalid and absorbs every later use: one
// mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::write_the_matrix_on_the_left_of_a_matmul<cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'X'> > >, cellforge::dsl::Mat<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> >, cellforge::dsl::Dim<cellforge::dsl::Term<1, 'X'> > > >
// CHECK: error: static assertion failed: cellforge: write W * v, with the matrix parameter on the left; v * W is not a matmul
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, X);
  auto h_next = tanh(x * W + h);
  return cell("c"_s, next(h, h_next), output(h_next));
}
