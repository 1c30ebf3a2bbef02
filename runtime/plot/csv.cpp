// The CSV reader; see csv.hpp.
#include "runtime/plot/csv.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "codegen/ir/error.hpp"

namespace cellforge::plot {

namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',') cells.emplace_back();
    else if (c != '\r') cells.back() += c;
  }
  return cells;
}

}  // namespace

size_t Table::column(const std::string& name) const {
  std::string all;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return i;
    all += (all.empty() ? "" : ", ") + columns[i];
  }
  user_error("'", source, "' has no column '", name, "'; its columns are: ", all);
}

Table read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) user_error("cannot read the CSV file '", path, "'");
  Table t;
  t.source = path;
  std::string line;
  if (!std::getline(in, line)) user_error("the CSV file '", path, "' is empty; it needs a header row");
  t.columns = split(line);
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty() || line == "\r") continue;
    std::vector<std::string> cells = split(line);
    if (cells.size() != t.columns.size())
      user_error("'", path, "' line ", number, " has ", cells.size(), " cells; the header has ", t.columns.size());
    std::vector<double> row;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (cells[i].empty()) {
        row.push_back(std::nan(""));
        continue;
      }
      char* end = nullptr;
      const double v = std::strtod(cells[i].c_str(), &end);
      if (*end) user_error("'", path, "' line ", number, ", column '", t.columns[i], "': '", cells[i], "' is not a number");
      row.push_back(v);
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace cellforge::plot
