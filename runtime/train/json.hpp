// A small strict JSON reader and the string quoting its writer needs, for checkpoint headers.
// Strict because the header is the attack surface of a model file: it refuses duplicate keys (two
// readers could pick different ones), invalid UTF-8, control characters in strings, leading zeros,
// trailing commas, nesting deeper than 64, and anything after the value but whitespace. Numbers
// keep their text, so an integer field is read exactly or refused, never rounded through double.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cellforge::train::json {

/// A parse error at a byte offset of the text.
class ParseError : public std::runtime_error {
 public:
  ParseError(size_t offset, const std::string& message)
      : std::runtime_error("at byte " + std::to_string(offset) + ": " + message), offset(offset) {}
  size_t offset;
};

struct Value {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;  // a string's value, or a number's text as written
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> members;  // in file order, keys unique

  // Declared, so that clang (the fuzz build) does not instantiate std::pair<std::string, Value>
  // while Value is still incomplete, as it does for the implicit one with libstdc++ 12 in C++20.
  Value() = default;

  /// The member called `key`, or nullptr (objects only).
  const Value* find(std::string_view key) const;
  /// The number as a non-negative integer that fits in int64; false if it is not one.
  bool as_count(int64_t* out) const;
};

/// Parses one JSON value that fills `text` (whitespace allowed around it); throws ParseError.
Value parse(std::string_view text);

/// `text` as a JSON string literal with its quotes; bytes >= 0x80 pass through (the caller gives
/// UTF-8), control characters are escaped.
std::string quote(std::string_view text);

/// A double as text with 17 significant digits ("%.17g"), so that it reads back bit for bit; the
/// checkpoint metadata and the PyTorch model files write every real number this way.
std::string number_text(double v);

/// True when `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace cellforge::train::json
