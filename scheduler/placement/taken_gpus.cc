#include "scheduler/placement/taken_gpus.h"

namespace meridian::scheduler {

TakenGpus::TakenGpus(std::shared_ptr<const TopologyIndex> topology, const Occupancy& held)
    : topology_(std::move(topology)) {
  const FreeGpus& alive = topology_->alive;
  const ClusterIndex& index = topology_->index;
  taken_.assign(alive.positions.size(), 0);
  std::vector<std::pair<double, long long>> by_memory = alive.by_memory;
  MarkHeld(index, alive, held, taken_, by_memory);
  for (const auto& [bytes, count] : by_memory) free_by_memory_.push_back(count);
  free_per_dc_.assign(index.num_dcs(), 0);
  for (int n = 0; n < index.num_nodes(); ++n)
    for (int k = alive.start[n]; k < alive.start[n + 1]; ++k) free_per_dc_[index.DcOf(n)] += !taken_[k];
}

void TakenGpus::Set(const std::string& node, int gpu_index, bool taken) {
  const ClusterIndex& index = topology_->index;
  const FreeGpus& alive = topology_->alive;
  const int id = index.NodeId(node);
  if (id < 0) return;
  const auto [first, last] = AliveEntries(index, alive, id, gpu_index);
  for (int k = first; k < last; ++k) {
    if ((bool)taken_[k] == taken) continue;
    taken_[k] = taken;
    const int change = taken ? -1 : 1;
    free_per_dc_[index.DcOf(id)] += change;
    const double bytes = index.node(id).gpus[alive.positions[k]].memory_gb * kBytesPerGb;
    for (size_t m = 0; m < alive.by_memory.size(); ++m)
      if (alive.by_memory[m].first == bytes) free_by_memory_[m] += change;
  }
}

FreeGpus TakenGpus::Free(const Occupancy* also) const {
  const FreeGpus& alive = topology_->alive;
  std::vector<std::pair<double, long long>> by_memory = alive.by_memory;
  for (size_t m = 0; m < by_memory.size(); ++m) by_memory[m].second = free_by_memory_[m];
  if (also == nullptr || also->empty()) return Unflagged(topology_->index, alive, taken_, std::move(by_memory));
  std::vector<char> taken = taken_;
  MarkHeld(topology_->index, alive, *also, taken, by_memory);
  return Unflagged(topology_->index, alive, taken, std::move(by_memory));
}

std::vector<long long> TakenGpus::FreePerDc(const Occupancy* also) const {
  std::vector<long long> out = free_per_dc_;
  if (also == nullptr) return out;
  const ClusterIndex& index = topology_->index;
  for (const auto& [node, gpus] : *also) {
    const int id = index.NodeId(node);
    if (id < 0) continue;
    for (const auto& [gpu_index, holder] : gpus) {
      const auto [first, last] = AliveEntries(index, topology_->alive, id, gpu_index);
      for (int k = first; k < last; ++k) out[index.DcOf(id)] -= !taken_[k];
    }
  }
  return out;
}

}  // namespace meridian::scheduler
