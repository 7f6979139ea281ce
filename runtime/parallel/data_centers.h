// Which data center each world rank runs in. Comes from the scheduler's
// assignment, or by hand from --pools "dcA:2,dcB:2" (consecutive world
// ranks: the first two in dcA, the next two in dcB). A name may recur
// ("dcA:1,dcB:1,dcA:1,dcB:1"): its ranks need not be consecutive.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

struct DataCenterMap {
  std::vector<std::string> names;  // data center names, in first-rank order
  std::vector<int> rank_to_dc;     // world rank -> index into names

  int num_data_centers() const { return (int)names.size(); }
};

// An empty spec puts every rank in one data center named "local".
Result<DataCenterMap> ParsePools(const std::string& spec, int world_size);

}  // namespace meridian
