// Symbolic sizes: arithmetic, binding and the text form. See dim.hpp.
#include "codegen/ir/dim.hpp"

#include <cctype>
#include <functional>

#include "codegen/ir/error.hpp"

namespace cellforge::ir {

Dim Dim::constant(int64_t value) {
  Dim d;
  d.constant_ = value;
  return d;
}

Dim Dim::named(const std::string& name) {
  if (name.empty()) internal_error("a named dim needs a non-empty name");
  Dim d;
  d.terms_.push_back({name, 1});
  return d;
}

Dim Dim::operator+(const Dim& other) const {
  Dim out;
  out.constant_ = constant_ + other.constant_;
  auto a = terms_.begin(), b = other.terms_.begin();
  while (a != terms_.end() || b != other.terms_.end()) {
    if (b == other.terms_.end() || (a != terms_.end() && a->first < b->first)) {
      out.terms_.push_back(*a++);
    } else if (a == terms_.end() || b->first < a->first) {
      out.terms_.push_back(*b++);
    } else {
      int64_t c = a->second + b->second;
      if (c != 0) out.terms_.push_back({a->first, c});
      ++a, ++b;
    }
  }
  return out;
}

Dim Dim::operator*(int64_t factor) const {
  Dim out;
  if (factor == 0) return out;
  out.constant_ = constant_ * factor;
  for (const auto& [name, coefficient] : terms_) out.terms_.push_back({name, coefficient * factor});
  return out;
}

Dim Dim::operator-(const Dim& other) const { return *this + other * -1; }

bool Dim::operator<(const Dim& other) const {
  return std::tie(terms_, constant_) < std::tie(other.terms_, other.constant_);
}

std::optional<Dim> Dim::divided_by(int64_t k) const {
  if (k <= 0 || constant_ % k != 0) return std::nullopt;
  Dim out;
  out.constant_ = constant_ / k;
  for (const auto& [name, coefficient] : terms_) {
    if (coefficient % k != 0) return std::nullopt;
    out.terms_.push_back({name, coefficient / k});
  }
  return out;
}

bool Dim::is_nonnegative() const {
  int64_t at_ones = constant_;
  for (const auto& term : terms_) {
    if (term.second < 0) return false;
    at_ones += term.second;
  }
  return at_ones >= 0;
}

int64_t Dim::bind(const Bindings& bindings) const {
  int64_t value = constant_;
  for (const auto& [name, coefficient] : terms_) {
    auto it = bindings.find(name);
    if (it == bindings.end())
      user_error("size '", name, "' is used by the cell (in [", str(),
                 "]) but was not given; pass a value for '", name, "' in the sizes");
    // Checked: a size near 2^63 must not wrap into a small (or negative) length.
    int64_t term;
    if (__builtin_mul_overflow(coefficient, it->second, &term) || __builtin_add_overflow(value, term, &value))
      user_error("size [", str(), "] overflows a 64-bit integer with ", name, " = ", it->second,
                 "; use smaller sizes");
  }
  return value;
}

std::string Dim::str() const {
  std::string out;
  for (const auto& [name, coefficient] : terms_) {
    if (coefficient < 0) out += "-";
    else if (!out.empty()) out += "+";
    int64_t magnitude = coefficient < 0 ? -coefficient : coefficient;
    if (magnitude != 1) out += std::to_string(magnitude);
    out += name;
  }
  if (constant_ != 0 || out.empty()) {
    if (constant_ >= 0 && !out.empty()) out += "+";
    out += std::to_string(constant_);
  }
  return out;
}

std::optional<Dim> Dim::parse(const std::string& text) {
  Dim out;
  size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    int64_t sign = 1;
    if (text[i] == '+' || text[i] == '-') {
      sign = text[i] == '-' ? -1 : 1;
      ++i;
    } else if (i != 0) {
      return std::nullopt;
    }
    size_t digits_start = i;
    int64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
      number = number * 10 + (text[i++] - '0');
    bool has_number = i > digits_start;
    size_t name_start = i;
    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
      ++i;
    std::string name = text.substr(name_start, i - name_start);
    if (!has_number && name.empty()) return std::nullopt;
    if (name.empty()) out = out + constant(sign * number);
    else out = out + named(name) * (sign * (has_number ? number : 1));
  }
  return out;
}

size_t Dim::hash() const {
  size_t h = std::hash<int64_t>()(constant_);
  for (const auto& [name, coefficient] : terms_)
    h = h * 1000003u ^ (std::hash<std::string>()(name) + 31u * static_cast<size_t>(coefficient));
  return h;
}

}  // namespace cellforge::ir
