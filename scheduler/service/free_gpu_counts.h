// Free GPUs per data center, counted once per scheduling pass: a waiting
// job that needs more GPUs than its data centers have free cannot fit, so
// the pass gives it no search. A search walks every node; in a full
// cluster with a long queue (200,000 GPUs, thousands waiting) nearly every
// search of a pass is such a job, and this check costs a lookup.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/core/topology.h"
#include "scheduler/placement/cost_model.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

class FreeGpuCounts {
 public:
  // Every GPU of alive nodes of `healthy`, with what each node adds: made
  // once per topology, then Minus each pass's held GPUs (a walk over the
  // held GPUs, not over every node). It points into `healthy`.
  static FreeGpuCounts Empty(const Topology& healthy);
  // Less the GPUs held in `occupied` and in `also` (when given, it must
  // name no GPU `occupied` does).
  FreeGpuCounts Minus(const Occupancy& occupied, const Occupancy* also = nullptr) const;
  // From counts per data center already made (TakenGpus::FreePerDc),
  // numbered as `index` numbers them.
  static FreeGpuCounts OfDataCenters(const ClusterIndex& index, const std::vector<long long>& free);

  // Free GPUs in these data centers; empty: in all.
  long long In(const std::vector<std::string>& data_centers) const;
  // A placement found in the pass takes its GPUs.
  void Take(const Placement& placement);

 private:
  FreeGpuCounts() = default;

  struct AliveNode {
    const std::string* data_center;
    long long gpus;
  };
  std::unordered_map<std::string, long long> per_dc_;
  long long total_ = 0;
  std::unordered_map<std::string, AliveNode> alive_;  // Empty's only: by node name
};

}  // namespace meridian::scheduler
