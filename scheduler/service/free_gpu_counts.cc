#include "scheduler/service/free_gpu_counts.h"

#include <algorithm>

namespace meridian::scheduler {

FreeGpuCounts::FreeGpuCounts(const Topology& healthy, const Occupancy& occupied) {
  long long* dc_free = nullptr;  // a data center's nodes come one after another: one lookup each
  const std::string* dc = nullptr;
  for (const Node& n : healthy.nodes) {
    if (!n.alive) continue;
    long long held = 0;
    if (auto it = occupied.find(n.name); it != occupied.end()) held = (long long)it->second.size();
    const long long free = std::max(0LL, (long long)n.gpus.size() - held);
    if (dc == nullptr || *dc != n.data_center) {
      dc = &n.data_center;
      dc_free = &per_dc_[n.data_center];
    }
    *dc_free += free;
    total_ += free;
  }
}

long long FreeGpuCounts::In(const std::vector<std::string>& data_centers) const {
  if (data_centers.empty()) return total_;
  long long free = 0;
  for (const std::string& dc : data_centers)
    if (auto it = per_dc_.find(dc); it != per_dc_.end()) free += it->second;
  return free;
}

void FreeGpuCounts::Take(const Placement& placement) {
  for (const RankPlacement& r : placement.ranks) {
    --per_dc_[r.data_center];
    --total_;
  }
}

}  // namespace meridian::scheduler
