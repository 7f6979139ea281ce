#include "scheduler/service/free_gpu_counts.h"

#include <algorithm>

namespace meridian::scheduler {

FreeGpuCounts FreeGpuCounts::Empty(const Topology& healthy) {
  FreeGpuCounts out;
  out.alive_.reserve(healthy.nodes.size());
  long long* dc_free = nullptr;  // a data center's nodes come one after another: one lookup each
  const std::string* dc = nullptr;
  for (const Node& n : healthy.nodes) {
    if (!n.alive) continue;
    const long long gpus = (long long)n.gpus.size();
    out.alive_.emplace(n.name, AliveNode{&n.data_center, gpus});
    if (dc == nullptr || *dc != n.data_center) {
      dc = &n.data_center;
      dc_free = &out.per_dc_[n.data_center];
    }
    *dc_free += gpus;
    out.total_ += gpus;
  }
  return out;
}

FreeGpuCounts FreeGpuCounts::Minus(const Occupancy& occupied, const Occupancy* also) const {
  FreeGpuCounts out;
  out.per_dc_ = per_dc_;
  out.total_ = total_;
  auto held_on = [](const Occupancy* o, const std::string& node) -> long long {
    if (o == nullptr) return 0;
    auto it = o->find(node);
    return it == o->end() ? 0 : (long long)it->second.size();
  };
  auto take = [&](const std::string& node, long long already, long long more) {
    auto it = alive_.find(node);
    if (it == alive_.end()) return;  // dead, or no longer in the topology
    const long long gpus = it->second.gpus;
    const long long held = std::min(already + more, gpus) - std::min(already, gpus);
    out.per_dc_[*it->second.data_center] -= held;
    out.total_ -= held;
  };
  for (const auto& [node, gpus] : occupied) take(node, 0, (long long)gpus.size());
  if (also != nullptr)
    for (const auto& [node, gpus] : *also) take(node, held_on(&occupied, node), (long long)gpus.size());
  return out;
}

FreeGpuCounts FreeGpuCounts::OfDataCenters(const ClusterIndex& index, const std::vector<long long>& free) {
  FreeGpuCounts out;
  for (int dc = 0; dc < index.num_dcs(); ++dc) {
    out.per_dc_[index.DcName(dc)] = free[dc];
    out.total_ += free[dc];
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
