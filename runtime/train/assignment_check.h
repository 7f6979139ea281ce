// A scheduled rank checks that it runs where the scheduler placed it: the
// host (by name or by one of its addresses) and the data center (where the
// host says which one it is in); the GPU is checked when the rank selects
// it (SetUpCudaWorld), the layers when it partitions the model.
// A mismatch is an error naming both sides, never a silent mix-up.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian {

// What a rank finds about where it runs.
struct RankSurroundings {
  std::string hostname;
  std::vector<std::string> addresses;  // of this host's interfaces
  std::string data_center;             // $MERIDIAN_DATA_CENTER; empty: the host does not say
  // Resolves a host name to addresses (DNS); a host named differently from
  // this one's hostname still matches when it resolves to one of ours.
  std::vector<std::string> (*resolve)(const std::string& host) = nullptr;
};

// The surroundings of this process (hostname, interfaces, environment).
RankSurroundings FindRankSurroundings();

Status CheckAssignment(int rank, const v1::RankAssignment& assignment, const RankSurroundings& here);

}  // namespace meridian
