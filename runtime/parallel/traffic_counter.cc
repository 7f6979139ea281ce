#include "runtime/parallel/traffic_counter.h"

namespace meridian {

int TrafficCounter::DataCenterOf(int world_rank) const {
  return world_rank < (int)rank_to_dc_.size() ? rank_to_dc_[world_rank] : 0;
}

int TrafficCounter::CrossingEdges(const Communicator& g) const {
  const std::vector<int>& members = g.world_ranks();
  const int n = (int)members.size();
  if (n < 2) return 0;
  int crossing = 0;
  for (int i = 0; i < n; ++i) crossing += DataCenterOf(members[i]) != DataCenterOf(members[(i + 1) % n]);
  return crossing;
}

void TrafficCounter::AllReduce(const Communicator& g, double bytes) {
  const int n = g.size();
  if (n < 2 || g.rank() != 0) return;
  const double per_edge = 2.0 * (n - 1) / n * bytes;  // reduce-scatter + all-gather
  const int crossing = CrossingEdges(g);
  inter_ += crossing * per_edge;
  intra_ += (n - crossing) * per_edge;
}

void TrafficCounter::AllGather(const Communicator& g, double bytes_per_rank) {
  const int n = g.size();
  if (n < 2 || g.rank() != 0) return;
  const double per_edge = (n - 1) * bytes_per_rank;
  const int crossing = CrossingEdges(g);
  inter_ += crossing * per_edge;
  intra_ += (n - crossing) * per_edge;
}

void TrafficCounter::Broadcast(const Communicator& g, double bytes, int root) {
  const int n = g.size();
  if (n < 2 || g.rank() != 0) return;
  const int root_dc = DataCenterOf(g.world_ranks()[root]);
  for (int i = 0; i < n; ++i) {
    if (i == root) continue;
    if (DataCenterOf(g.world_ranks()[i]) == root_dc) intra_ += bytes;
    else inter_ += bytes;
  }
}

}  // namespace meridian
