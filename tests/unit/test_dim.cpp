// Proves symbolic sizes at both levels: the runtime ir::Dim (arithmetic, canonical form, text
// and parse, binding, division, sign, hashing) and the DSL's compile-time Dim types (canonical
// types, arithmetic, the predicates behind the shape rules, and to_ir, the bridge between them).
#include <catch2/catch.hpp>
#include <type_traits>

#include "codegen/ir/dim.hpp"
#include "codegen/ir/error.hpp"
#include "dsl/dims.hpp"
#include "dsl/expr.hpp"

using cellforge::UserError;
using cellforge::ir::Dim;

namespace {
const Dim H = Dim::named("H");
const Dim X = Dim::named("X");
Dim k(int64_t v) { return Dim::constant(v); }
}  // namespace

TEST_CASE("Dim arithmetic is linear and canonical", "[unit]") {
  CHECK(H + X == X + H);
  CHECK((H + X).str() == "H+X");
  CHECK((X + H).str() == "H+X");
  CHECK((H * 4).str() == "4H");
  CHECK((H + H + H + H) == H * 4);
  CHECK((H * 4 - H * 4).is_zero());
  CHECK((H - H) == Dim());
  CHECK((H * 0).is_zero());
  CHECK((H * 2 - k(1)).str() == "2H-1");
  CHECK((X - H * 2).str() == "-2H+X");
  CHECK((H * -1).str() == "-H");
  CHECK((H + k(1)).str() == "H+1");
  CHECK(k(3).str() == "3");
  CHECK(Dim().str() == "0");
  CHECK(k(-2).str() == "-2");
  CHECK(((H + X) * 3 - X * 3) == H * 3);
  CHECK(k(1).is_constant(1));
  CHECK_FALSE((H + k(1)).is_constant(1));
  CHECK(H.terms() == std::vector<std::pair<std::string, int64_t>>{{"H", 1}});
  CHECK((H * 4 + k(2)).constant_part() == 2);
}

TEST_CASE("Dim text parses back to the same Dim", "[unit]") {
  for (const Dim& d : {H, X, H * 4, H + X, H * 2 - k(1), X - H * 2, H * -1, k(0), k(7), k(-3), H * 3 + X * 2 + k(5),
                       Dim::named("P") + H, Dim::named("proj_2") * 12}) {
    INFO(d.str());
    const auto parsed = Dim::parse(d.str());
    REQUIRE(parsed.has_value());
    CHECK(*parsed == d);
  }
  CHECK(Dim::parse("1H") == H);
  CHECK(Dim::parse("H+H") == H * 2);
  CHECK(Dim::parse("H-H") == Dim());
  CHECK(Dim::parse("+H") == H);
  for (const char* bad : {"", "+", "H+", "4*H", "H X", "++H", "(H)", "H,X"}) {
    INFO("'" << bad << "'");
    CHECK_FALSE(Dim::parse(bad).has_value());
  }
}

TEST_CASE("Dim binds to a number, and names a missing size", "[unit]") {
  const cellforge::ir::Bindings b = {{"H", 5}, {"X", 3}};
  CHECK((H * 4).bind(b) == 20);
  CHECK((H + X + k(1)).bind(b) == 9);
  CHECK((X - H).bind(b) == -2);
  CHECK(k(7).bind({}) == 7);
  CHECK_THROWS_WITH((H * 4 + Dim::named("P")).bind(b),
                    "size 'P' is used by the cell (in [4H+P]) but was not given; pass a value for 'P' in the sizes");
}

TEST_CASE("Dim division and sign are decided term by term", "[unit]") {
  CHECK((H * 4).divided_by(4) == H);
  CHECK((H * 4 + k(2)).divided_by(2) == H * 2 + k(1));
  CHECK_FALSE((H * 4).divided_by(3).has_value());
  CHECK_FALSE((H + X).divided_by(2).has_value());
  CHECK_FALSE((H * 4).divided_by(0).has_value());
  CHECK_FALSE((H * 4).divided_by(-2).has_value());
  CHECK(H.is_nonnegative());
  CHECK((H + X).is_nonnegative());
  CHECK(Dim().is_nonnegative());
  CHECK((H - k(1)).is_nonnegative());  // every named size is >= 1
  CHECK_FALSE((H - k(2)).is_nonnegative());
  CHECK_FALSE((X - H).is_nonnegative());
  CHECK_FALSE(k(-1).is_nonnegative());
}

TEST_CASE("equal Dims hash equally and order strictly", "[unit]") {
  CHECK((H + X).hash() == (X + H).hash());
  CHECK((H * 2).hash() == (H + H).hash());
  CHECK((H * 2).hash() != (H * 3).hash());
  CHECK_FALSE(H < H);
  CHECK(((H < X) != (X < H)));
  CHECK(((k(1) < k(2)) != (k(2) < k(1))));
}

// --- the DSL's compile-time sizes -------------------------------------------------------------

namespace dsl = cellforge::dsl;
using namespace boost::hana::literals;

// Canonical types: equal sizes are the same type, whatever the order they were written in.
static_assert(std::is_same_v<decltype(4_c * dsl::H), dsl::Dim<dsl::Term<4, 'H'>>>);
static_assert(std::is_same_v<decltype(dsl::H * 4_c), dsl::Dim<dsl::Term<4, 'H'>>>);
static_assert(std::is_same_v<decltype(dsl::X + dsl::H), dsl::Dim<dsl::Term<1, 'H'>, dsl::Term<1, 'X'>>>);
static_assert(std::is_same_v<decltype(dsl::X + dsl::H), decltype(dsl::H + dsl::X)>);
static_assert(std::is_same_v<decltype(dsl::H + dsl::H), decltype(2_c * dsl::H)>);
static_assert(std::is_same_v<decltype(dsl::H - dsl::H), dsl::Zero>);
static_assert(std::is_same_v<decltype(dsl::size(1_c)), dsl::One>);
static_assert(std::is_same_v<decltype(dsl::size(0_c)), dsl::Zero>);
static_assert(std::is_same_v<decltype(0_c * dsl::H), dsl::Zero>);
static_assert(std::is_same_v<decltype(dsl::dim("P"_s)), dsl::Dim<dsl::Term<1, 'P'>>>);
static_assert(std::is_same_v<decltype(dsl::dim("Pj"_s) + dsl::H), dsl::Dim<dsl::Term<1, 'H'>, dsl::Term<1, 'P', 'j'>>>);
static_assert(std::is_same_v<dsl::canonical_dim<dsl::Dim<dsl::Term<1, 'X'>, dsl::Term<2, 'H'>>>,
                             dsl::Dim<dsl::Term<2, 'H'>, dsl::Term<1, 'X'>>>);
// The predicates behind the shape rules.
static_assert(dsl::nonnegative<decltype(dsl::H + dsl::X)>());
static_assert(!dsl::nonnegative<decltype(dsl::X - dsl::H)>());
static_assert(dsl::divisible<decltype(4_c * dsl::H), 4>());
static_assert(dsl::divisible<decltype(4_c * dsl::H), 2>());
static_assert(!dsl::divisible<decltype(dsl::H + dsl::X), 2>());
static_assert(std::is_same_v<dsl::divided_dim<decltype(4_c * dsl::H), 4>, dsl::Dim<dsl::Term<1, 'H'>>>);
static_assert(dsl::positive_dim<decltype(dsl::H)>);
static_assert(!dsl::positive_dim<dsl::Zero>);
static_assert(!dsl::positive_dim<decltype(dsl::X - dsl::H)>);

TEST_CASE("DSL sizes become the same runtime Dims (to_ir)", "[unit]") {
  CHECK(dsl::to_ir(4_c * dsl::H) == H * 4);
  CHECK(dsl::to_ir(dsl::X + dsl::H) == H + X);
  CHECK(dsl::to_ir(dsl::size(3_c)) == k(3));
  CHECK(dsl::to_ir(dsl::H + dsl::size(1_c)) == H + k(1));
  CHECK(dsl::to_ir(dsl::dim("proj"_s) * 2_c) == Dim::named("proj") * 2);
  CHECK(dsl::to_ir(dsl::H - dsl::H).is_zero());
  CHECK(dsl::to_ir(dsl::X - 2_c * dsl::H).str() == "-2H+X");
}
