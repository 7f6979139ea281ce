#include "bench/table.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace meridian::bench {

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::ToString() const {
  std::vector<size_t> width(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) {
    width[i] = headers_[i].size();
    for (const auto& r : rows_) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream os;
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    os << (header ? "#" : " ");
    for (size_t i = 0; i < cells.size(); ++i) os << " " << std::string(width[i] - cells[i].size(), ' ') << cells[i];
    os << "\n";
  };
  line(headers_, true);
  for (const auto& r : rows_) line(r, false);
  return os.str();
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

std::string Percent(double fraction) { return Fixed(100.0 * fraction, 1) + "%"; }

}  // namespace meridian::bench
