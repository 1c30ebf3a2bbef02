// Errors are part of cellforge's interface. There are two kinds at run time (the third tier,
// compile-time static_asserts, lives in dsl/):
//
//   UserError      something the user asked for cannot be done: a bad size, a buffer of the wrong
//                  length, a corrupt checkpoint. The text names the thing, the expected and the
//                  actual value and, where there is one, the fix. Tests check the text.
//   InternalError  cellforge broke one of its own invariants. It prints the offending IR where it
//                  can and is never the expected outcome of a test.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cellforge {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message)
      : std::logic_error("internal error (a bug in cellforge, please report it): " + message) {}
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

/// Throws a UserError whose text is the concatenation of `parts`.
template <class... Parts>
[[noreturn]] void user_error(const Parts&... parts) {
  throw UserError(detail::concat(parts...));
}

/// Throws an InternalError whose text is the concatenation of `parts`.
template <class... Parts>
[[noreturn]] void internal_error(const Parts&... parts) {
  throw InternalError(detail::concat(parts...));
}

}  // namespace cellforge
