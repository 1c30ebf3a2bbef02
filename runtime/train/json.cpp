// The strict JSON reader; see json.hpp. A recursive-descent parser over a string_view with a depth
// limit, so hostile input can neither overflow the stack nor make it allocate more than the text.
#include "runtime/train/json.hpp"

#include <cstdio>

namespace cellforge::train::json {

namespace {

constexpr int kMaxDepth = 64;

// Decodes one UTF-8 sequence at text[i]; returns its length, or 0 if it is invalid.
size_t utf8_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t code;
  if (c >= 0xC2 && c <= 0xDF) n = 2, code = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, code = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, code = c & 0x07;
  else return 0;
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if ((n == 3 && code < 0x800) || (n == 4 && (code < 0x10000 || code > 0x10FFFF))) return 0;
  if (code >= 0xD800 && code <= 0xDFFF) return 0;
  return n;
}

void append_utf8(std::string& out, uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Value document() {
    skip_space();
    Value v = value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected '" + shown(pos_) + "' after the end of the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const { throw ParseError(pos_, message); }

  std::string shown(size_t i) const {
    const unsigned char c = static_cast<unsigned char>(text_[i]);
    if (c >= 0x20 && c < 0x7F) return std::string(1, static_cast<char>(c));
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
    return buffer;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c) {
    if (pos_ >= text_.size()) fail(std::string("expected '") + c + "' but the text ends");
    if (text_[pos_] != c) fail(std::string("expected '") + c + "', found '" + shown(pos_) + "'");
    ++pos_;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    if (pos_ >= text_.size()) fail("expected a value but the text ends");
    const char c = text_[pos_];
    Value v;
    if (c == '{') {
      v.kind = Value::Kind::object;
      ++pos_;
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == '}') return ++pos_, v;
      for (;;) {
        skip_space();
        const size_t key_at = pos_;
        if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a string key");
        std::string key = string();
        for (const auto& member : v.members)
          if (member.first == key) throw ParseError(key_at, "duplicate key " + quote(key));
        skip_space();
        expect(':');
        skip_space();
        v.members.emplace_back(std::move(key), value(depth + 1));
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::array;
      ++pos_;
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ']') return ++pos_, v;
      for (;;) {
        skip_space();
        v.items.push_back(value(depth + 1));
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::string;
      v.text = string();
      return v;
    }
    for (const char* word : {"true", "false", "null"})
      if (text_.substr(pos_, std::char_traits<char>::length(word)) == word) {
        pos_ += std::char_traits<char>::length(word);
        v.kind = word[0] == 'n' ? Value::Kind::null : Value::Kind::boolean;
        v.boolean = word[0] == 't';
        return v;
      }
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    fail("unexpected '" + shown(pos_) + "' where a value should start");
  }

  Value number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == from) fail("expected a digit in a number");
    };
    if (text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
      if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') fail("a number has a leading zero");
    } else {
      digits();
    }
    if (pos_ < text_.size() && text_[pos_] == '.') ++pos_, digits();
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      digits();
    }
    Value v;
    v.kind = Value::Kind::number;
    v.text = std::string(text_.substr(start, pos_ - start));
    return v;
  }

  uint32_t hex4() {
    if (pos_ + 4 > text_.size()) fail("a \\u escape needs 4 hex digits");
    uint32_t code = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = text_[pos_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= h - '0';
      else if (h >= 'a' && h <= 'f') code |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') code |= h - 'A' + 10;
      else fail("bad hex digit in a \\u escape");
    }
    return code;
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("a string is not closed");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') return ++pos_, out;
      if (c < 0x20) fail("control character " + shown(pos_) + " inside a string");
      if (c == '\\') {
        if (++pos_ >= text_.size()) fail("a string ends inside an escape");
        const char e = text_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t code = hex4();
            if (code >= 0xDC00 && code <= 0xDFFF) fail("a \\u escape is a lone low surrogate");
            if (code >= 0xD800 && code <= 0xDBFF) {
              if (text_.substr(pos_, 2) != "\\u") fail("a high surrogate is not followed by a low one");
              pos_ += 2;
              const uint32_t low = hex4();
              if (low < 0xDC00 || low > 0xDFFF) fail("a high surrogate is not followed by a low one");
              code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            append_utf8(out, code);
            break;
          }
          default: --pos_, fail("unknown escape \\" + shown(pos_));
        }
        continue;
      }
      const size_t n = utf8_length(text_, pos_);
      if (n == 0) fail("invalid UTF-8 inside a string");
      out.append(text_.substr(pos_, n));
      pos_ += n;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

const Value* Value::find(std::string_view key) const {
  for (const auto& member : members)
    if (member.first == key) return &member.second;
  return nullptr;
}

bool Value::as_count(int64_t* out) const {
  if (kind != Kind::number || text.empty() || text.size() > 18) return false;  // 18 digits < 2^63
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *out = n;
  return true;
}

Value parse(std::string_view text) { return Parser(text).document(); }

std::string number_text(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7F) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace cellforge::train::json
