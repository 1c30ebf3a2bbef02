// compile_fail: W * U of two matrix parameters. The DSL must refuse it at compile time with the
// rule's text, fired inside the helper named after the rule, whose template arguments show the
// shapes, and with no other error (the bad value becomes Invalid and absorbs every later use: one
// mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::a_matmul_multiplies_a_matrix_by_a_vector<cellforge::dsl::Mat<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> >, cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > >, cellforge::dsl::Mat<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> >, cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > > >
// CHECK: error: static assertion failed: cellforge: W * V of two matrices is not supported; a matmul multiplies a matrix parameter by a vector
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, H);
  auto U = param("U"_s, H, H);
  auto h_next = tanh((W * U) * h);
  return cell("c"_s, next(h, h_next), output(h_next));
}
