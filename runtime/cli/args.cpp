// Command-line parsing; see args.hpp.
#include "runtime/cli/args.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "codegen/ir/error.hpp"

namespace cellforge::cli {

namespace {

// Appends `words` to `out` wrapped at `width` columns, continuation lines indented by `indent`.
void append_wrapped(std::string& out, const std::string& words, size_t column, size_t indent, size_t width) {
  size_t start = 0;
  while (start < words.size()) {
    size_t end = words.find(' ', start);
    if (end == std::string::npos) end = words.size();
    const std::string word = words.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (column > indent && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
  }
}

// The whole string as a number, or nothing.
bool parse_number(const std::string& text, double& value) {
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0';
}

}  // namespace

std::string help_text(const Command& command) {
  constexpr size_t kWidth = 100, kIndent = 26;
  std::string out = "usage: cellforge " + command.name + " [options]\n\n";
  append_wrapped(out, command.purpose, 0, 0, kWidth);
  out += "\n\noptions:\n";
  std::vector<Option> all = command.options;
  all.push_back({"help", "", "show this text and exit (also -h)", ""});
  for (const Option& o : all) {
    std::string head = "  --" + o.name + (o.value.empty() ? "" : " " + o.value);
    out += head;
    size_t column = head.size();
    if (column + 2 > kIndent) {
      out += "\n" + std::string(kIndent, ' ');
    } else {
      out += std::string(kIndent - column, ' ');
    }
    append_wrapped(out, o.help + (o.fallback.empty() ? "" : " (default: " + o.fallback + ")"), kIndent, kIndent, kWidth);
    out += "\n";
  }
  return out;
}

Args::Args(const std::vector<std::string>& argv, const Command& command) : command_(command.name) {
  for (const Option& o : command.options) options_[o.name] = o;
  // Help where an option's name may stand (not as the value of one: --prime -h primes with "-h").
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--help" || a == "-h") throw HelpRequested{help_text(command)};
    auto known = a.rfind("--", 0) == 0 && a.find('=') == std::string::npos ? options_.find(a.substr(2)) : options_.end();
    if (known != options_.end() && !known->second.value.empty()) ++i;  // skip its value
  }
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0) user_error("unexpected argument '", a, "'; options are written --name value");
    std::string name = a.substr(2), value;
    auto known = options_.find(name.substr(0, name.find('=')));
    if (known == options_.end()) {
      std::string list;
      for (const Option& o : command.options) list += " --" + o.name;
      user_error("unknown option --", name.substr(0, name.find('=')), "; this command takes:", list,
                 " (cellforge ", command_, " --help says what each does)");
    }
    const bool is_flag = known->second.value.empty();
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (!is_flag) {
      if (i + 1 >= argv.size()) user_error("option --", name, " needs a value (", known->second.value, ")");
      value = argv[++i];
    }
    values_[name] = value;
  }
}

const Option& Args::declared(const std::string& name) const {
  auto it = options_.find(name);
  if (it == options_.end()) internal_error("cellforge ", command_, " reads option --", name, ", which it does not declare");
  return it->second;
}

void Args::check_fallback(const std::string& name, const std::string& fallback) const {
  const Option& o = declared(name);
  if (!o.fallback.empty() && o.fallback != fallback)
    internal_error("cellforge ", command_, " --help gives --", name, " the default '", o.fallback, "', the code '",
                   fallback, "'");
}

void Args::check_fallback(const std::string& name, double fallback) const {
  const Option& o = declared(name);
  double shown = 0;
  if (!o.fallback.empty() && (!parse_number(o.fallback, shown) || shown != fallback))
    internal_error("cellforge ", command_, " --help gives --", name, " the default '", o.fallback, "', the code ",
                   fallback);
}

bool Args::has(const std::string& name) const {
  declared(name);
  return values_.count(name) > 0;
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
  check_fallback(name, fallback);
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::text(const std::string& name) const {
  declared(name);
  auto it = values_.find(name);
  if (it == values_.end()) user_error("option --", name, " is required");
  return it->second;
}

int64_t Args::integer(const std::string& name, int64_t fallback) const {
  check_fallback(name, static_cast<double>(fallback));
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno != 0)
    user_error("option --", name, " needs an integer, got '", it->second, "'");
  return v;
}

double Args::number(const std::string& name, double fallback) const {
  check_fallback(name, fallback);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0') user_error("option --", name, " needs a number, got '", it->second, "'");
  return v;
}

std::map<std::string, int64_t> Args::sizes(const std::string& name) const {
  std::map<std::string, int64_t> out;
  const std::string list = text(name, "");
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      user_error("option --", name, ": expected NAME=VALUE (e.g. P=16), got '", item, "'");
    const std::string size = item.substr(0, eq), value = item.substr(eq + 1);
    char* stop = nullptr;
    errno = 0;
    const long long v = std::strtoll(value.c_str(), &stop, 10);
    if (value.empty() || *stop != '\0' || errno != 0 || v <= 0)
      user_error("option --", name, " ", size, ": expected a positive integer, got '", value, "'");
    out[size] = v;
  }
  return out;
}

std::string Args::choice(const std::string& name, const std::vector<std::string>& choices,
                         const std::string& fallback) const {
  std::string v = text(name, fallback);
  std::string list;
  for (const auto& c : choices) {
    if (c == v) return v;
    list += (list.empty() ? "" : "|") + c;
  }
  user_error("option --", name, " is '", v, "'; expected one of ", list);
}

void check_not_directory(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) user_error(what, " '", path, "' is a directory; give a file");
}

void check_output_directory(const std::string& path, const std::string& what) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  if (std::filesystem::exists(parent, ec) && !std::filesystem::is_directory(parent, ec))
    user_error(what, " '", path, "': '", parent, "' is not a directory; write elsewhere");
  if (!std::filesystem::is_directory(parent, ec))
    user_error(what, " '", path, "': the directory '", parent, "' does not exist; create it, or write elsewhere");
  if (access(parent.c_str(), W_OK) != 0)
    user_error(what, " '", path, "': the directory '", parent, "' is not writable; write elsewhere");
  if (std::filesystem::is_directory(path, ec)) user_error(what, " '", path, "' is a directory; give a file name");
}

}  // namespace cellforge::cli
