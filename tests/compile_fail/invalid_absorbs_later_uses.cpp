// compile_fail: one bad matmul whose result flows through split, activations, next and output. The
// DSL must refuse it at compile time with the rule's text, fired inside the helper named after the
// rule, whose template arguments show the shapes, and with no other error (the bad value becomes
// Invalid and absorbs every later use: one mistake, one error).
// BUG (reported): split<k> of an Invalid value returns one Invalid, not k of them, so the structured
// binding the LSTM is written with (`auto [zi, zf, zg, zo] = split<4>(...)`) adds a second error,
// "cannot decompose class type 'Invalid'", to the one mistake.
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::matmul_columns_must_equal_the_vector_length<cellforge::dsl::Mat<cellforge::dsl::Dim<cellforge::dsl::Term<4, 'H'> >, cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > >, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'X'> > > >
// CHECK: error: static assertion failed: cellforge: in W * v the number of columns of W must equal the length of v (the shapes are the template arguments of this helper)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 4_c * H, H);
  auto U = param("U"_s, 4_c * H, H);
  auto [zi, zf, zg, zo] = split<4>(W * x + U * h);
  auto c_next = sigmoid(zf) * h + sigmoid(zi) * tanh(zg);
  auto h_next = named("h_next"_s, sigmoid(zo) * tanh(c_next));
  return cell("c"_s, next(h, h_next), output(h_next));
}
