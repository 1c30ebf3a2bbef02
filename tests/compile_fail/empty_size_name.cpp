// compile_fail: a named size with an empty name. dim() refuses it with the rule's text (fired in
// dim() itself, which has no helper of its own: the instantiation of dim with an empty Name pack is
// what the compiler shows), and with no other error.
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::dim(boost::hana::string<s ...>) [with char ...Name = {}]
// CHECK: error: static assertion failed: cellforge: a named size needs a name, e.g. dim("P"_s)
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  constexpr auto P = dim(""_s);
  auto h = state("h"_s, P);
  return cell("c"_s, next(h, tanh(h)), output(h));
}
