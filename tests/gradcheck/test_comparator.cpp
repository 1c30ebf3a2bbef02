// Proves the gradient checks' own oracle (support/gradcheck.hpp): the allclose comparator passes
// exactly inside atol + rtol |numeric| and fails on anything outside it, on NaN and on infinity,
// wherever they appear; and central differences are accurate enough for the G1 tolerances on a
// function with a known derivative. A comparator that cannot fail proves nothing
// (reliability.md, takeaway 6: a std::max reduction hid 4096 NaN gradients).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "support/gradcheck.hpp"

using cellforge::testing::Comparison;
namespace testing = cellforge::testing;

TEST_CASE("the comparator passes inside atol + rtol |numeric| and fails outside", "[gradcheck]") {
  Comparison inside;
  inside.add("exact", 1.0, 1.0);
  inside.add("atol", 0.0, 0.9e-7);
  inside.add("rtol", 1000.0 + 0.9e-3, 1000.0);
  CHECK(inside.ok);
  CHECK(inside.count == 3);
  CHECK(inside.worst_usage < 1.0);

  Comparison just_outside;
  just_outside.add("atol", 0.0, 1.1e-7);
  CHECK_FALSE(just_outside.ok);
  CHECK(just_outside.first_failure.find("atol") == 0);

  Comparison relative;
  relative.add("rtol", 1000.0 + 1.2e-3, 1000.0);
  CHECK_FALSE(relative.ok);
}

TEST_CASE("the comparator fails on NaN and infinity, first or last", "[gradcheck]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double bad : {nan, inf, -inf}) {
    Comparison analytic_bad;
    analytic_bad.add("ok", 1.0, 1.0);
    analytic_bad.add("bad", bad, 1.0);
    analytic_bad.add("ok again", 2.0, 2.0);
    CHECK_FALSE(analytic_bad.ok);
    CHECK(analytic_bad.first_failure.rfind("bad", 0) == 0);
    CHECK_FALSE(analytic_bad.worst_usage <= 1.0);

    Comparison numeric_bad;
    numeric_bad.add("bad", 1.0, bad);
    numeric_bad.add("ok", 1.0, 1.0);
    CHECK_FALSE(numeric_bad.ok);

    Comparison both_bad;
    both_bad.add("both", bad, bad);  // inf == inf must not count as agreement
    CHECK_FALSE(both_bad.ok);
  }
}

TEST_CASE("merging comparisons keeps failures and the worst errors", "[gradcheck]") {
  Comparison a, b;
  a.add("a", 1.0, 1.0 + 5e-7);
  b.add("b", std::numeric_limits<double>::quiet_NaN(), 0.0);
  Comparison total;
  total.merge(a);
  CHECK(total.ok);
  total.merge(b);
  CHECK_FALSE(total.ok);
  CHECK(total.count == 2);
  CHECK(total.first_failure.rfind("b", 0) == 0);
}

TEST_CASE("a gradient of the wrong shape fails the element check", "[gradcheck]") {
  cellforge::ir::Array values(2, 3, 1.0), wrong(1, 3, 0.0);
  Comparison r;
  testing::check_elements(r, "v", values, &wrong, [] { return 0.0; });
  CHECK_FALSE(r.ok);
  CHECK(r.first_failure.find("has a gradient of shape [1, 3] for a value of shape [2, 3]") != std::string::npos);
}

TEST_CASE("central differences at eps 1e-6 meet the G1 tolerances on known derivatives", "[gradcheck]") {
  cellforge::ir::Array x(1, 4);
  x.data = {-1.5, -0.2, 0.7, 2.0};
  cellforge::ir::Array exact(1, 4);
  for (size_t i = 0; i < 4; ++i) exact.data[i] = std::cos(x.data[i]) + 3 * x.data[i] * x.data[i];
  auto loss = [&] {
    double s = 0;
    for (double v : x.data) s += std::sin(v) + v * v * v;
    return s;
  };
  Comparison r;
  testing::check_elements(r, "x", x, &exact, loss);
  INFO(r.summary());
  CHECK(r.ok);
  CHECK(r.worst_usage < 0.1);  // well inside: room for longer chains
  // A wrong derivative (missing the cube's term) is caught.
  for (size_t i = 0; i < 4; ++i) exact.data[i] = std::cos(x.data[i]);
  Comparison wrong;
  testing::check_elements(wrong, "x", x, &exact, loss);
  CHECK_FALSE(wrong.ok);
}
