// Symbolic sizes. A Dim is a linear form over named sizes with integer coefficients plus a
// constant: `4H`, `H+X`, `2H+1`, `1`. Step graphs are written in these symbols (so a printed
// graph says [4H], not [1024]); concrete numbers are bound only when a network is compiled or
// interpreted, through `Bindings`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cellforge::ir {

/// Concrete values of the named sizes, e.g. {X: 65, H: 128, P: 64}.
using Bindings = std::map<std::string, int64_t>;

class Dim {
 public:
  /// The constant 0 (also the "no second dimension" marker of vector types).
  Dim() = default;
  static Dim constant(int64_t value);
  static Dim named(const std::string& name);

  Dim operator+(const Dim& other) const;
  Dim operator-(const Dim& other) const;
  Dim operator*(int64_t factor) const;
  bool operator==(const Dim& other) const = default;
  bool operator<(const Dim& other) const;

  bool is_zero() const { return terms_.empty() && constant_ == 0; }
  bool is_constant() const { return terms_.empty(); }
  /// True when the value is the constant `value` whatever the bindings.
  bool is_constant(int64_t value) const { return terms_.empty() && constant_ == value; }
  int64_t constant_part() const { return constant_; }
  const std::vector<std::pair<std::string, int64_t>>& terms() const { return terms_; }

  /// This dim divided by k, if every coefficient is divisible by k.
  std::optional<Dim> divided_by(int64_t k) const;
  /// True when this dim is >= 0 whatever the sizes, given that every named size is >= 1: every
  /// coefficient is >= 0 and the value at all sizes 1 is >= 0 (so [0, 1) of [H] is a valid slice).
  bool is_nonnegative() const;

  /// The value under `bindings`; throws UserError naming the missing size.
  int64_t bind(const Bindings& bindings) const;

  /// Canonical text: terms in name order, then the constant: "4H", "H+X", "2H-1", "0".
  std::string str() const;
  /// Parses the text written by str(); returns nullopt if `text` is not a dim.
  static std::optional<Dim> parse(const std::string& text);

  size_t hash() const;

 private:
  std::vector<std::pair<std::string, int64_t>> terms_;  // sorted by name, no zero coefficients
  int64_t constant_ = 0;
};

}  // namespace cellforge::ir
