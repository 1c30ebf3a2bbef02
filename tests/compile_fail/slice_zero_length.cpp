// compile_fail: a slice of length 0. The DSL must refuse it at compile time with the rule's text,
// fired inside the helper named after the rule, whose template arguments show the shapes, and with
// no other error (the bad value becomes Invalid and absorbs every later use: one mistake, one
// error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::a_slice_must_lie_inside_its_vector<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> >, cellforge::dsl::Dim<>, cellforge::dsl::Dim<> >
// CHECK: error: static assertion failed: cellforge: slice(v, offset, n) needs 0 <= offset and offset + n <= length of v for any sizes, and n > 0 (length, offset and n are the template arguments of this helper)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H);
  auto h_next = tanh(h + sum(slice(h, 0_c, 0_c)));
  return cell("c"_s, next(h, h_next), output(h_next));
}
