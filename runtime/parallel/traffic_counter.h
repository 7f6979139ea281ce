// Bytes a job moves per step, split by whether they cross a data-center
// boundary: the number that decides geo-distributed training's speed.
//
// Collectives are modelled as rings over the group in rank order (Open MPI's
// large-message algorithms, NCCL's rings): every edge carries the same
// bytes, and an edge whose two ends sit in different data centers is WAN
// traffic. Only the group's rank 0 records, so a collective counts once;
// the trainer sums the counters over the world for its metrics line.
#pragma once

#include <vector>

#include "runtime/comm/communicator.h"

namespace meridian {

class TrafficCounter {
 public:
  TrafficCounter() = default;
  explicit TrafficCounter(std::vector<int> rank_to_dc) : rank_to_dc_(std::move(rank_to_dc)) {}

  // An all-reduce of `bytes` per rank over `group`.
  void AllReduce(const Communicator& group, double bytes);
  // An all-gather where each rank contributes `bytes_per_rank`.
  void AllGather(const Communicator& group, double bytes_per_rank);
  // A broadcast of `bytes` from the group's `root`.
  void Broadcast(const Communicator& group, double bytes, int root);

  // Bytes this rank sent to other worlds of the job (each data center its
  // own world): all of them cross the WAN.
  void SentToWorlds(double bytes) { inter_ += bytes; }
  double intra_dc() const { return intra_; }
  double inter_dc() const { return inter_; }
  void Reset() { intra_ = inter_ = 0.0; }

 private:
  // Edges of the ring over `group` that cross data centers.
  int CrossingEdges(const Communicator& group) const;
  int DataCenterOf(int world_rank) const;

  std::vector<int> rank_to_dc_;
  double intra_ = 0.0, inter_ = 0.0;
};

}  // namespace meridian
