// compile_fail: summing the entries of a matrix parameter. The DSL must refuse it at compile time
// with the rule's text, fired inside the helper named after the rule, whose template arguments show
// the shapes, and with no other error (the bad value becomes Invalid and absorbs every later use:
// one mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::a_matrix_parameter_can_only_be_used_in_a_matmul<cellforge::dsl::Mat<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> >, cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > > >
// CHECK: error: static assertion failed: cellforge: a matrix parameter can only be used as W in a matmul W * v; elementwise ops, activations, slices, concat, sums, states and outputs take vectors
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, H);
  auto h_next = tanh(sum(W) * h);
  return cell("c"_s, next(h, h_next), output(h_next));
}
