// compile_fail: a state of size H - H = 0. The DSL must refuse it at compile time with the rule's
// text, fired inside the helper named after the rule, whose template arguments show the shapes, and
// with no other error (the bad value becomes Invalid and absorbs every later use: one mistake, one
// error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::sizes_must_be_positive<cellforge::dsl::Dim<> >
// CHECK: error: static assertion failed: cellforge: the size of an input, state or parameter must be positive (no negative terms, not 0)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H - H);
  return cell("c"_s, next(h, tanh(h)), output(h));
}
