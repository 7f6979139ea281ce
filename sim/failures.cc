#include "sim/failures.h"

#include <cmath>
#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

namespace meridian::sim {

std::vector<NodeFailure> GenerateFailures(const scheduler::Topology& cluster, const FailureStreamSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<NodeFailure> out;
  if (spec.horizon_s <= 0) return out;
  for (int k = 0; k < spec.dc_outages && !cluster.data_centers.empty(); ++k) {
    const std::string& dc = cluster.data_centers[rng() % cluster.data_centers.size()].name;
    const double at = unit(rng) * spec.horizon_s;
    for (const scheduler::Node& n : cluster.nodes)
      if (n.data_center == dc) out.push_back(NodeFailure{at, n.name, spec.dc_outage_s});
  }
  if (spec.per_gpu_hour > 0) {
    for (const scheduler::Node& n : cluster.nodes) {
      const double rate_per_s = spec.per_gpu_hour * (double)n.gpus.size() / 3600.0;
      if (rate_per_s <= 0) continue;
      std::exponential_distribution<double> gap(rate_per_s);
      // The next failure is drawn from when the node is back.
      for (double t = gap(rng); t < spec.horizon_s; t += spec.down_s + gap(rng))
        out.push_back(NodeFailure{t, n.name, spec.down_s});
    }
  }
  // A node an outage takes down is not failed again while it is down.
  std::stable_sort(out.begin(), out.end(), [](const NodeFailure& a, const NodeFailure& b) { return a.at_s < b.at_s; });
  std::map<std::string, double> down_until;
  std::vector<NodeFailure> kept;
  for (const NodeFailure& f : out) {
    double& until = down_until[f.node];
    if (f.at_s < until) continue;
    until = f.at_s + f.down_s;
    kept.push_back(f);
  }
  return kept;
}

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
