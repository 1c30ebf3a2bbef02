// The cellforge DSL: write a recurrent cell the way its equations read, get a runtime step graph.
//
//   #include "dsl/dsl.hpp"
//   using namespace cellforge::dsl;
//
//   auto lstm() {
//     auto x = input("x"_s, X);
//     auto h = state("h"_s, H);
//     auto c = state("c"_s, H);
//     auto W = param("W"_s, 4_c * H, X);
//     auto U = param("U"_s, 4_c * H, H);
//     auto b = param("b"_s, 4_c * H);
//     auto [zi, zf, zg, zo] = split<4>(W * x + U * h + b);
//     auto c_next = named("c_next"_s, sigmoid(zf) * c + sigmoid(zi) * tanh(zg));
//     auto h_next = named("h_next"_s, sigmoid(zo) * tanh(c_next));
//     return cell("lstm"_s, next(h, h_next), next(c, c_next), output(h_next));
//   }
//   cellforge::ir::Graph graph = reify(lstm());
//
// dims.hpp: symbolic sizes. expr.hpp: leaves, operations and their shape rules. cell.hpp: next,
// output, cell, and reify(), the one bridge from these types to the runtime IR.
#pragma once

#include "dsl/cell.hpp"
#include "dsl/dims.hpp"
#include "dsl/expr.hpp"
