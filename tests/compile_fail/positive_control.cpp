// compile_fail control: correct cells that stand right next to each rule's boundary compile
// cleanly, so the failures in this folder come from the rules and not from a harness that cannot
// compile anything. Each line below is legal and sits at the edge of one rule: length-1 operands
// broadcast, a slice that ends exactly at the end, split<2> of 2H+2, concat of a vector with itself,
// a user-named size, a state returned in the shape it came in; and the static_asserts pin the shapes.
//
// RUN: %cxx %cxxflags -Wall -Wextra %s 2>&1 | %FileCheck --allow-empty --check-prefix=CLEAN %s
// CLEAN-NOT: {{error|warning}}
#include <type_traits>

#include "dsl/dsl.hpp"

using namespace cellforge::dsl;

auto lstm() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto c = state("c"_s, H);
  auto W = param("W"_s, 4_c * H, X);
  auto U = param("U"_s, 4_c * H, H);
  auto b = param("b"_s, 4_c * H);
  auto [zi, zf, zg, zo] = split<4>(W * x + U * h + b);
  auto c_next = named("c_next"_s, sigmoid(zf) * c + sigmoid(zi) * tanh(zg));
  auto h_next = named("h_next"_s, sigmoid(zo) * tanh(c_next));
  return cell("lstm"_s, next(h, h_next), next(c, c_next), output(h_next));
}

auto edges() {
  constexpr auto P = dim("P"_s);
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto p = state("p"_s, P);
  auto W = param("W"_s, 2_c * H + size(2_c), X + P);
  auto s = param("s"_s, size(1_c));
  auto z = W * concat(x, p);                   // columns X+P = length of concat(x, p)
  auto [left, right] = split<2>(z);            // 2H+2 splits into two H+1
  auto tail = slice(left, H, size(1_c));       // [H, H+1): ends exactly at the end
  auto head = slice(right, 0_c, H);            // offset 0_c
  auto gated = tanh(head) * sigmoid(tail) + s;  // [H] * [1] + shared [1]
  auto h_next = 0.5 * h + 2 * gated / 3.0 - mean(h) + sum(concat(h, h)) * stop_gradient(h);
  auto R = param("R"_s, P, H);
  auto p_next = relu(R * h_next) + exp(log(sqrt(rsqrt(p * p + 1))));
  static_assert(std::is_same_v<decltype(z)::shape, Vec<decltype(2_c * H + size(2_c))>>);
  static_assert(std::is_same_v<decltype(left)::shape, Vec<Dim<Term<1>, Term<1, 'H'>>>>);  // H+1
  static_assert(std::is_same_v<decltype(tail)::shape, Vec<One>>);
  static_assert(std::is_same_v<decltype(h_next)::shape, Vec<Dim<Term<1, 'H'>>>>);
  return cell("edges"_s, next(h, h_next), next(p, p_next), output("out"_s, p_next));
}

void build() {
  (void)lstm();
  (void)edges();
}
