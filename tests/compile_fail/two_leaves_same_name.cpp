// compile_fail: an input and a state both called x. The DSL must refuse it at compile time with the
// rule's text, fired inside the helper named after the rule, whose template arguments show the
// shapes, and with no other error (the bad value becomes Invalid and absorbs every later use: one
// mistake, one error).
// BUG (reported): with g++ 12 this rule never fires: check_cell's nested hana::for_each names A
// (an alias of the outer generic lambda) inside the inner one, which g++ reads as a reference
// type, so a clash gives "'...type_impl<Leaf<...>>::_&' is not a class, struct, or union type"
// from cell.hpp instead of the rule. (The (A, B) and (B, A) visits would also fire it twice.)
//
// RUN: not %cxx %cxxflags %s 2>&1 | %FileCheck %s
// CHECK-NOT: error:
// CHECK: In instantiation of {{.*}}cellforge::dsl::one_name_one_leaf<cellforge::dsl::Leaf<cellforge::dsl::input_kind, boost::hana::string<'x'>, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'X'> > > >, cellforge::dsl::Leaf<cellforge::dsl::state_kind, boost::hana::string<'x'>, cellforge::dsl::Vec<cellforge::dsl::Dim<cellforge::dsl::Term<1, 'H'> > > > >
// CHECK: error: static assertion failed: cellforge: two different inputs, states or parameters share a name; give each its own name
// CHECK-NOT: error:
#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto broken() {
  auto x = input("x"_s, X);
  auto h = state("x"_s, H);
  auto W = param("W"_s, H, X);
  auto h_next = tanh(W * x + h);
  return cell("c"_s, next(h, h_next), output(h_next));
}
