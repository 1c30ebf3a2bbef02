// What every gradient check shares: the tolerance rule, a comparator that cannot be fooled by NaN,
// seeded random fills and central differences.
//
// The rule is reliability.md G1: central differences with eps = 1e-6 in double precision, and a
// derivative passes when |analytic - numeric| <= atol + rtol * |numeric| with atol = 1e-7 and
// rtol = 1e-6 (allclose, the numeric value as the reference). The comparison is written as
// `diff <= tolerance`, which is false for NaN, and non-finite values fail explicitly: a comparator
// built on std::max silently ignores NaNs (reliability.md, takeaway 6).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "codegen/ir/interpreter.hpp"

namespace cellforge::testing {

inline constexpr double kEps = 1e-6;
inline constexpr double kAtol = 1e-7;
inline constexpr double kRtol = 1e-6;

/// The running result of comparing analytic derivatives with numeric ones.
struct Comparison {
  bool ok = true;
  size_t count = 0;
  double worst_abs = 0;    // max |analytic - numeric|
  double worst_rel = 0;    // max |analytic - numeric| / max(|numeric|, atol / rtol)
  double worst_usage = 0;  // max |analytic - numeric| / (atol + rtol |numeric|); a pass is <= 1
  double largest = 0;      // max |numeric|: a check of derivatives that are all zero proves little
  std::string first_failure;

  void add(const std::string& what, double analytic, double numeric) {
    ++count;
    if (std::fabs(numeric) > largest) largest = std::fabs(numeric);
    const double diff = std::fabs(analytic - numeric);
    const double tolerance = kAtol + kRtol * std::fabs(numeric);
    const bool pass = std::isfinite(analytic) && std::isfinite(numeric) && diff <= tolerance;
    const double usage = pass ? diff / tolerance : std::numeric_limits<double>::infinity();
    const double rel =
        pass ? diff / std::fmax(std::fabs(numeric), kAtol / kRtol) : std::numeric_limits<double>::infinity();
    if (!(usage <= worst_usage)) worst_usage = usage;
    if (!(rel <= worst_rel)) worst_rel = rel;
    if (!(diff <= worst_abs)) worst_abs = pass ? diff : std::numeric_limits<double>::infinity();
    if (!pass && ok) {
      std::ostringstream out;
      out.precision(17);
      out << what << ": analytic " << analytic << ", numeric " << numeric << ", |diff| " << diff << " > " << tolerance;
      first_failure = out.str();
    }
    ok = ok && pass;
  }

  void merge(const Comparison& other) {
    if (!other.ok && ok) first_failure = other.first_failure;
    ok = ok && other.ok;
    count += other.count;
    worst_abs = std::fmax(worst_abs, other.worst_abs);
    worst_rel = std::fmax(worst_rel, other.worst_rel);
    worst_usage = std::fmax(worst_usage, other.worst_usage);
    largest = std::fmax(largest, other.largest);
  }

  std::string summary() const {
    std::ostringstream out;
    out.precision(3);
    out << count << " derivatives, worst |diff| " << worst_abs << ", worst relative " << worst_rel
        << ", worst diff/tolerance " << worst_usage << ", largest |numeric| " << largest
        << (ok ? "" : "; FIRST FAILURE: " + first_failure);
    return out.str();
  }
};

/// Uniform values in [lo, hi], negated with probability 1/2 when `both_signs` (so that
/// {0.2, 2, true} stays 0.2 away from a kink at 0).
struct Range {
  double lo = -1;
  double hi = 1;
  bool both_signs = false;
};

inline void fill(ir::Array& a, const Range& range, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(range.lo, range.hi);
  std::bernoulli_distribution sign(0.5);
  for (double& v : a.data) v = range.both_signs && sign(rng) ? -u(rng) : u(rng);
}

inline ir::Array random_array(int64_t rows, int64_t cols, const Range& range, std::mt19937_64& rng) {
  ir::Array a(rows, cols);
  fill(a, range, rng);
  return a;
}

/// Element (r, c) of a value, reading a shared [1, n] value as the same row for every r.
inline double broadcast_at(const ir::Array& a, int64_t r, int64_t c) { return a.at(a.rows == 1 ? 0 : r, c); }

/// <a, b> over every element; a shared [1, n] operand is read as repeated over b's rows.
inline double inner(const ir::Array& a, const ir::Array& b) {
  double s = 0;
  const int64_t rows = std::max(a.rows, b.rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < a.cols; ++c) s += broadcast_at(a, r, c) * broadcast_at(b, r, c);
  return s;
}

/// The central difference of `loss` with respect to `value`, which it perturbs in place and
/// restores. Divides by the perturbation actually applied, (x + eps) - (x - eps).
inline double central_difference(double& value, const std::function<double()>& loss) {
  const double saved = value;
  const double plus = saved + kEps;
  const double minus = saved - kEps;
  value = plus;
  const double loss_plus = loss();
  value = minus;
  const double loss_minus = loss();
  value = saved;
  return (loss_plus - loss_minus) / (plus - minus);
}

/// Compares `analytic` with central differences of `loss` for every element of `values`.
/// A missing analytic gradient (`analytic == nullptr`) means zero.
inline void check_elements(Comparison& result, const std::string& what, ir::Array& values, const ir::Array* analytic,
                           const std::function<double()>& loss) {
  if (analytic && (analytic->rows != values.rows || analytic->cols != values.cols)) {
    result.add(what + " has a gradient of shape [" + std::to_string(analytic->rows) + ", " +
                   std::to_string(analytic->cols) + "] for a value of shape [" + std::to_string(values.rows) + ", " +
                   std::to_string(values.cols) + "]",
               std::numeric_limits<double>::quiet_NaN(), 0.0);
    return;
  }
  for (int64_t r = 0; r < values.rows; ++r)
    for (int64_t c = 0; c < values.cols; ++c) {
      const double numeric = central_difference(values.at(r, c), loss);
      const double exact = analytic ? analytic->at(r, c) : 0.0;
      result.add(what + "[" + std::to_string(r) + "," + std::to_string(c) + "]", exact, numeric);
    }
}

/// The shape of a leaf's value for `batch` rows: [batch, n] per row, [1, n] shared, [rows, cols]
/// for a matrix.
inline ir::Array zeros_for(const ir::Type& type, const ir::Bindings& bindings, int64_t batch) {
  if (type.is_matrix()) return ir::Array(type.rows.bind(bindings), type.cols.bind(bindings));
  return ir::Array(type.shared ? 1 : batch, type.rows.bind(bindings));
}

/// Random values for every leaf of `graph` of the given kinds (constants excluded).
inline ir::LeafValues random_leaves(const ir::Graph& graph, const ir::Bindings& bindings, int64_t batch,
                                    const std::vector<ir::Op>& kinds, const Range& range, std::mt19937_64& rng) {
  ir::LeafValues values;
  for (ir::Op kind : kinds)
    for (ir::NodeId id : graph.leaves(kind)) {
      ir::Array a = zeros_for(graph.type(id), bindings, batch);
      fill(a, range, rng);
      values[graph.node(id).name] = a;
    }
  return values;
}

}  // namespace cellforge::testing
