// Parses the text form of a step graph (text.hpp). Every node goes through the graph's validating
// builders, and the printed type of each line is checked against the type the builder computes,
// so a parsed graph is as well-formed as a built one.
#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"

namespace cellforge::ir {

namespace {

class LineParser {
 public:
  LineParser(std::string line, int number) : text_(std::move(line)), number_(number) {
    size_t hash = text_.find('#');
    if (hash != std::string::npos) text_.resize(hash);
  }

  bool at_end() {
    skip_space();
    return pos_ >= text_.size();
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != c) fail("expected '", c, "'");
    ++pos_;
  }
  bool accept(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  /// A word: letters, digits, '_', '.', '+', '-' (dims and numbers are words too).
  std::string word() {
    skip_space();
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
                                   text_[pos_] == '.' || text_[pos_] == '+' || text_[pos_] == '-'))
      ++pos_;
    if (pos_ == start) fail("expected a name");
    return text_.substr(start, pos_ - start);
  }
  std::string reference() {
    expect('%');
    return word();
  }
  Dim dim() {
    std::string w = word();
    auto d = Dim::parse(w);
    if (!d) fail("'", w, "' is not a size (expected e.g. H, 4H, H+X, 1)");
    return *d;
  }
  /// ": [rows]" or ": [rows, cols]"
  Type type() {
    expect(':');
    expect('[');
    Dim rows = dim();
    Dim cols;
    if (accept(',')) cols = dim();
    expect(']');
    return {rows, cols, false};
  }

  template <class... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    user_error("line ", number_, ": ", parts..., " in '", text_, "'");
  }

  int number() const { return number_; }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string text_;
  size_t pos_ = 0;
  int number_;
};

bool all_digits(const std::string& s) {
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return !s.empty();
}

bool role_from_name(const std::string& name, Role* role) {
  for (Role r : {Role::next, Role::output, Role::grad, Role::save})
    if (name == role_name(r)) {
      *role = r;
      return true;
    }
  return false;
}

}  // namespace

Graph parse(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  int number = 0;
  Graph graph;
  std::map<std::string, NodeId> values;
  bool opened = false, closed = false;

  auto lookup = [&](LineParser& p, const std::string& name) {
    auto it = values.find(name);
    if (it == values.end()) p.fail("%", name, " is used before it is defined");
    return it->second;
  };
  auto define = [&](LineParser& p, const std::string& name, NodeId id, const Type& printed) {
    const Type& actual = graph.type(id);
    if (!(actual.rows == printed.rows) || !(actual.cols == printed.cols))
      p.fail("%", name, " has type ", actual.str(), " but the text says ", printed.str());
    if (!values.emplace(name, id).second) p.fail("%", name, " is defined twice");
    if (!all_digits(name)) graph.set_label(id, name);
  };

  while (std::getline(in, line)) {
    LineParser p(line, ++number);
    if (p.at_end()) continue;
    if (closed) p.fail("text after the closing '}'");
    if (!opened) {
      if (p.word() != "cell") p.fail("a graph starts with 'cell NAME {'");
      graph.set_name(p.word());
      p.expect('{');
      opened = true;
      continue;
    }
    if (p.accept('}')) {
      closed = true;
      continue;
    }
    try {
      if (p.peek('%')) {
        std::string name = p.reference();
        p.expect('=');
        std::string op_text = p.word();
        Op op;
        if (!op_from_name(op_text, &op)) p.fail("unknown op '", op_text, "'");
        Node proto;
        proto.op = op;
        if (op == Op::constant) {
          std::string number_text = p.word();
          char* end = nullptr;
          proto.value = std::strtod(number_text.c_str(), &end);
          if (*end != '\0') p.fail("'", number_text, "' is not a number");
        } else if (op_family(op) == OpFamily::Leaf) {
          p.fail("leaves are declared as '", op_text, " %name : [size]', not assigned");
        }
        while (p.peek('%') || (p.accept(',') && p.peek('%'))) proto.args.push_back(lookup(p, p.reference()));
        if (op == Op::slice || op == Op::pad) proto.offset = p.dim();
        proto.type = p.type();
        if (op_arity(op) >= 0 && static_cast<int>(proto.args.size()) != op_arity(op))
          p.fail(op_text, " takes ", op_arity(op), " operands, got ", proto.args.size());
        Type printed = proto.type;
        if (!p.at_end()) p.fail("unexpected text at the end of the line");
        define(p, name, graph.make(proto), printed);
        continue;
      }
      std::string head = p.word();
      Op kind;
      Role role;
      if (op_from_name(head, &kind) && op_family(kind) == OpFamily::Leaf && kind != Op::constant) {
        Node proto;
        proto.op = kind;
        proto.name = p.reference();
        if (kind == Op::seed) {
          if (p.word() != "for") p.fail("a seed is declared as 'seed %name for next|output NAME : [size]'");
          std::string role_text = p.word();
          if (!role_from_name(role_text, &proto.seed_role)) p.fail("unknown role '", role_text, "'");
          proto.seed_of = p.word();
        }
        proto.type = p.type();
        if (kind == Op::param) proto.type.shared = true;
        Type printed = proto.type;
        define(p, proto.name, graph.make(proto), printed);
      } else if (role_from_name(head, &role)) {
        std::string result = p.word();
        p.expect('=');
        graph.add_output(role, result, lookup(p, p.reference()));
      } else {
        p.fail("expected a value (%name = op ...), a leaf (input, state, param, seed, saved) or a result "
               "(next, output, grad, save)");
      }
      if (!p.at_end()) p.fail("unexpected text at the end of the line");
    } catch (const UserError& e) {
      std::string message = e.what();
      if (message.rfind("line ", 0) == 0) throw;
      p.fail(message);
    }
  }
  if (!opened) user_error("empty graph text: expected 'cell NAME {'");
  if (!closed) user_error("line ", number, ": the graph is not closed with '}'");
  return graph;
}

}  // namespace cellforge::ir
