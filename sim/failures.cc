#include "sim/failures.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace meridian::sim {

Result<std::vector<NodeFailure>> ParseFailures(const std::string& text, const std::string& source) {
  std::vector<NodeFailure> out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::string where = source + ": line " + std::to_string(number) + ": ";
    const nlohmann::json o = nlohmann::json::parse(line, nullptr, false);
    if (o.is_discarded() || !o.is_object()) return Status::InvalidArgument(where + "expected a JSON object");
    for (const auto& [key, value] : o.items())
      if (key != "at_s" && key != "node" && key != "down_s")
        return Status::InvalidArgument(where + key + ": unknown field (expected at_s, node, down_s)");
    NodeFailure f;
    for (auto [field, target] : {std::pair{"at_s", &f.at_s}, std::pair{"down_s", &f.down_s}}) {
      if (!o.contains(field)) return Status::InvalidArgument(where + field + ": required");
      const nlohmann::json& v = o.at(field);
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        return Status::InvalidArgument(where + field + " = " + v.dump().substr(0, 60) + ": must be a number >= 0");
      *target = v.get<double>();
    }
    if (!o.contains("node") || !o.at("node").is_string() || o.at("node").get<std::string>().empty())
      return Status::InvalidArgument(where + "node: required, a node name");
    f.node = o.at("node").get<std::string>();
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<NodeFailure>> ReadFailuresFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return ParseFailures(text.str(), path);
}

}  // namespace meridian::sim
