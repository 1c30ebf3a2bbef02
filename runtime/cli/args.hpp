// A small command-line parser for the cellforge tool: `--name value` and `--flag` options, each
// subcommand declaring the options it knows. Unknown options and bad values are UserErrors that
// name the option, the value and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace cellforge::cli {

class Args {
 public:
  /// `known` lists the options this command accepts (without "--"); `flags` those that take no value.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& known, const std::set<std::string>& flags = {});

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string text(const std::string& name, const std::string& fallback) const;
  std::string text(const std::string& name) const;  // required
  int64_t integer(const std::string& name, int64_t fallback) const;
  double number(const std::string& name, double fallback) const;
  bool flag(const std::string& name) const { return has(name); }
  /// "P=16,Q=4": named sizes of a cell (a projection size P...), each a positive integer.
  std::map<std::string, int64_t> sizes(const std::string& name) const;
  /// One of `choices`.
  std::string choice(const std::string& name, const std::vector<std::string>& choices, const std::string& fallback) const;

 private:
  std::map<std::string, std::string> values_;
};

/// Refuses a path that names a directory where a file is read: "graph file 'd' is a directory; ...".
void check_not_directory(const std::string& path, const std::string& what);

/// Refuses, before any work is done, an output file whose directory does not exist or cannot be
/// written (instead of failing at the first write, after training).
void check_output_directory(const std::string& path, const std::string& what);

}  // namespace cellforge::cli
