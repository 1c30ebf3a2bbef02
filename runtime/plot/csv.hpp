// Reading numeric CSV tables (a header row, then numbers; an empty cell is a missing value), the
// form the trainer and the PyTorch script write loss curves in, so `cellforge plot` can draw any of
// them together.
#pragma once

#include <string>
#include <vector>

namespace cellforge::plot {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;  // NaN where a cell is empty
  /// The index of the column called `name`; throws UserError listing the columns.
  size_t column(const std::string& name) const;
  std::string source;  // the file, for messages
};

/// Reads a CSV file; throws UserError naming the file, line and cell that is not a number.
Table read_csv(const std::string& path);

}  // namespace cellforge::plot
