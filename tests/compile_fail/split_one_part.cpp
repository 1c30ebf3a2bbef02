// compile_fail: split<1>, which is no split. The DSL must refuse it at compile time with the rule's
// text, fired inside the helper named after the rule, whose template arguments show the shapes, and
// with no other error (the bad value becomes Invalid and absorbs every later use: one mistake, one
// error).
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::split_needs_at_least_two_parts<std::integral_constant<long long int, 1> >
// CHECK: error: static assertion failed: cellforge: split<k>(v) needs k >= 2
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto h = state("h"_s, H);
  auto whole = split<1>(h);
  (void)whole;
  return cell("c"_s, next(h, tanh(h)), output(h));
}
