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

FreeGpuCounts FreeGpuCounts::Empty(const Topology& healthy) {
  FreeGpuCounts out(healthy, Occupancy{});
  out.alive_.reserve(healthy.nodes.size());
  for (const Node& n : healthy.nodes)
    if (n.alive) out.alive_.emplace(n.name, AliveNode{&n.data_center, (long long)n.gpus.size()});
  return out;
}

FreeGpuCounts FreeGpuCounts::Minus(const Occupancy& occupied) const {
  FreeGpuCounts out;
  out.per_dc_ = per_dc_;
  out.total_ = total_;
  for (const auto& [name, gpus] : occupied) {
    auto it = alive_.find(name);
    if (it == alive_.end()) continue;  // dead, or no longer in the topology
    const long long held = std::min((long long)gpus.size(), it->second.gpus);
    out.per_dc_[*it->second.data_center] -= held;
    out.total_ -= held;
  }
  return out;
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
