// Which GPUs of an indexed topology jobs hold, kept as flags over its
// alive GPUs: marked from an Occupancy once, then moved GPU by GPU as jobs
// start and end. A scheduling pass at 200,000 GPUs starts its searches
// from these flags instead of walking every held GPU of the Occupancy
// (and hashing its node's name) for each search.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scheduler/placement/layout_search.h"

namespace meridian::scheduler {

class TakenGpus {
 public:
  // The GPUs `held` takes on `topology`.
  TakenGpus(std::shared_ptr<const TopologyIndex> topology, const Occupancy& held);

  // GPU `gpu_index` of `node` taken (or freed): as Occupancy names it.
  // Nothing for a node the topology lacks or has dead.
  void Set(const std::string& node, int gpu_index, bool taken);

  const TopologyIndex& topology() const { return *topology_; }
  // What a search starts from: the free GPUs, less those `also` takes.
  FreeGpus Free(const Occupancy* also) const;
  // Free GPUs per data center (ClusterIndex numbering), less those `also` takes.
  std::vector<long long> FreePerDc(const Occupancy* also) const;

 private:
  std::shared_ptr<const TopologyIndex> topology_;
  std::vector<char> taken_;                 // per entry of topology_->alive
  std::vector<long long> free_by_memory_;   // per size of topology_->alive.by_memory
  std::vector<long long> free_per_dc_;
};

}  // namespace meridian::scheduler
