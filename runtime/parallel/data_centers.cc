#include "runtime/parallel/data_centers.h"

#include <algorithm>
#include <sstream>

namespace meridian {

Result<DataCenterMap> ParsePools(const std::string& spec, int world_size) {
  DataCenterMap map;
  if (spec.empty()) {
    map.names = {"local"};
    map.rank_to_dc.assign(world_size, 0);
    return map;
  }
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t colon = item.rfind(':');
    const std::string name = colon == std::string::npos ? "" : item.substr(0, colon);
    int count = 0;
    try {
      count = colon == std::string::npos ? 0 : std::stoi(item.substr(colon + 1));
    } catch (...) {
      count = 0;
    }
    if (name.empty() || count < 1)
      return Status::InvalidArgument("--pools: '" + item + "' is not NAME:RANKS with RANKS >= 1 (in '" + spec + "')");
    // A data center may recur: a replica that straddles two data centers
    // puts their ranks in turn (east:1,west:1,east:1,west:1).
    const auto known = std::find(map.names.begin(), map.names.end(), name);
    const int index = (int)(known - map.names.begin());
    if (known == map.names.end()) map.names.push_back(name);
    map.rank_to_dc.insert(map.rank_to_dc.end(), count, index);
  }
  if ((int)map.rank_to_dc.size() != world_size)
    return Status::InvalidArgument("--pools '" + spec + "' places " + std::to_string(map.rank_to_dc.size()) +
                                   " ranks, but the job has " + std::to_string(world_size));
  return map;
}

}  // namespace meridian
