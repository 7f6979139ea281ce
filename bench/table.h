// Fixed-width result tables in the nccl-tests manner: a header row, one row
// per measurement, every column right-aligned to its header's width.
#pragma once

#include <string>
#include <vector>

namespace meridian::bench {

class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  std::string ToString() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

std::string Fixed(double value, int decimals);
std::string Percent(double fraction);

}  // namespace meridian::bench
