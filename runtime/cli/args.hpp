// A small command-line parser for the cellforge tool: `--name value` and `--flag` options, each
// subcommand declaring the options it knows with a line of help. Unknown options and bad values are
// UserErrors that name the option, the value and what was expected; `--help` (or `-h`) anywhere
// prints the command's usage instead of running it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cellforge::cli {

/// One option of a command. `value` names what follows it ("N", "FILE"), empty for a flag.
/// `fallback` is the default its help shows ("" when there is none or it is worked out from other
/// options; `help` then says what it is). An accessor given a fallback checks it against this
/// one, so a help text cannot drift from the code behind it.
struct Option {
  std::string name;  // without "--"
  std::string value;
  std::string help;
  std::string fallback;
};

/// What a command is and the options it takes, in the order its help lists them.
struct Command {
  std::string name;     // "train"
  std::string purpose;  // one or two sentences
  std::vector<Option> options;
};

/// Thrown by Args when the arguments ask for help: the caller prints `text` and exits with 0.
struct HelpRequested {
  std::string text;
};

/// "usage: cellforge NAME [options]", the purpose, and one entry per option with its default.
std::string help_text(const Command& command);

class Args {
 public:
  Args(const std::vector<std::string>& argv, const Command& command);

  bool has(const std::string& name) const;
  /// Whether the command declares option `name` (code shared by commands with different options).
  bool takes(const std::string& name) const { return options_.count(name) > 0; }
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
  const Option& declared(const std::string& name) const;
  void check_fallback(const std::string& name, const std::string& fallback) const;
  void check_fallback(const std::string& name, double fallback) const;

  std::string command_;
  std::map<std::string, Option> options_;
  std::map<std::string, std::string> values_;
};

/// Refuses a path that names a directory where a file is read: "graph file 'd' is a directory; ...".
void check_not_directory(const std::string& path, const std::string& what);

/// Refuses, before any work is done, an output file whose directory does not exist or cannot be
/// written (instead of failing at the first write, after training).
void check_output_directory(const std::string& path, const std::string& what);

}  // namespace cellforge::cli
