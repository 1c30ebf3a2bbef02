// compile_fail: passing a bare expression to cell() instead of next() or output(). The DSL must
// refuse it at compile time with the rule's text, fired inside the helper named after the rule,
// whose template arguments show the shapes, and with no other error (the bad value becomes Invalid
// and absorbs every later use: one mistake, one error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::cell_takes_next_and_output_results<cellforge::dsl::Expr<cellforge::dsl::op::tanh, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > >, cellforge::dsl::NoAttr, cellforge::dsl::Expr<cellforge::dsl::op::matmul
// CHECK: error: static assertion failed: cellforge: the arguments of cell(name, ...) after the name are next(...) and output(...) results
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H);
  auto U = param("U"_s, H, H);
  auto h_next = tanh(U * h);
  return cell("c"_s, next(h, h_next), output(h_next), h_next);
}
