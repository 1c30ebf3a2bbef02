// Command-line parsing; see args.hpp.
#include "runtime/cli/args.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "codegen/ir/error.hpp"

namespace cellforge::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& known, const std::set<std::string>& flags) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0) user_error("unexpected argument '", a, "'; options are written --name value");
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (!flags.count(name)) {
      if (i + 1 >= argv.size()) user_error("option --", name, " needs a value");
      value = argv[++i];
    }
    if (!known.count(name) && !flags.count(name)) {
      std::string list;
      for (const auto& k : known) list += " --" + k;
      for (const auto& k : flags) list += " --" + k;
      user_error("unknown option --", name, "; this command takes:", list);
    }
    values_[name] = value;
  }
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::text(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) user_error("option --", name, " is required");
  return it->second;
}

int64_t Args::integer(const std::string& name, int64_t fallback) const {
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
