// What every placer shares: request validation, the free GPUs, the
// memory-only feasibility test, and the loop over candidate dp x pp layouts
// that sorts "never fits" (FailedPrecondition) from "not now" (Unavailable).
// Internal to scheduler/placement.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "scheduler/placement/cost_model.h"

namespace meridian::scheduler {

// GPUs a job may take, per node id: positions in Node::gpus in Gpu::index
// order. Dead nodes have none. One flat array rather than a vector per
// node: a search at 200,000 GPUs builds this for 25,000 nodes.
struct FreeGpus {
  std::span<const int> OnNode(int id) const {
    return {positions.data() + start[id], positions.data() + start[id + 1]};
  }
  std::vector<int> start;      // node id -> its first entry in `positions`; one more for the end
  std::vector<int> positions;  // node by node
  int total = 0;
  std::vector<std::pair<double, long long>> by_memory;  // (bytes, GPUs), largest first
};

// All GPUs of alive nodes.
FreeGpus AliveGpus(const ClusterIndex& index);
// The entries of `alive` (AliveGpus of `index`) that GPU `gpu_index` of
// node `node` is, as [first, last): none for a dead node or an index it
// lacks, several where a node repeats an index (taken together).
std::pair<int, int> AliveEntries(const ClusterIndex& index, const FreeGpus& alive, int node, int gpu_index);
// Flags the entries of `alive` that `held` takes in `taken` (one per
// entry), and counts each newly flagged GPU out of `by_memory`.
void MarkHeld(const ClusterIndex& index, const FreeGpus& alive, const Occupancy& held, std::vector<char>& taken,
              std::vector<std::pair<double, long long>>& by_memory);
// The entries of `alive` not flagged in `taken`; `by_memory` as counted.
FreeGpus Unflagged(const ClusterIndex& index, const FreeGpus& alive, const std::vector<char>& taken,
                   std::vector<std::pair<double, long long>> by_memory);
// The GPUs of `alive` (AliveGpus of the same index) not taken in
// `occupied`, nor in `also` when given.
FreeGpus FindFreeGpus(const ClusterIndex& index, const FreeGpus& alive, const Occupancy& occupied,
                      const Occupancy* also = nullptr);

// The (dp, pp) layouts a validated request allows: its own, or with
// auto_layout every dp * pp = gpus with pp <= n_layer, pp ascending.
std::vector<std::pair<int, int>> CandidateLayouts(const JobRequest& job);

// Whether dp replicas of `stages` fit `gpus` by memory alone, ignoring
// where the GPUs are (a rank takes a whole GPU whose memory covers its
// stage). Not OK with `code` and a message naming the shortfall; `pool`
// says which GPUs were counted ("alive", "free").
Status CheckMemoryFits(const FreeGpus& gpus, int dp, int pp,
                       const std::vector<StageCost>& stages, Status::Code code, const char* pool);

// What a placer sees for one layout.
struct LayoutContext {
  const ClusterIndex& index;
  const JobRequest& job;
  int dp, pp;
  const std::vector<StageCost>& stages;
  const FreeGpus& free;
};

// Returns slots in world rank order (dp * pp of them), or an error.
using LayoutPlacer = std::function<Result<std::vector<Slot>>(const LayoutContext&)>;

// Validates the request, runs `place` on every candidate layout that fits
// by memory and keeps the cheapest by PriceSlots (the first on a tie).
Result<Placement> PlaceOverLayouts(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                                   const LayoutPlacer& place);
// The same on a topology indexed once for many searches; GPUs in `also`
// are taken too.
Result<Placement> PlaceOverLayouts(const TopologyIndex& topology, const Occupancy& occupied, const Occupancy* also,
                                   const JobRequest& job, const LayoutPlacer& place);
// The same from held GPUs already marked on the index (TakenGpus::Free).
Result<Placement> PlaceOverLayouts(const TopologyIndex& topology, const FreeGpus& free, const JobRequest& job,
                                   const LayoutPlacer& place);

// What a search derives from the topology alone.
struct TopologyIndex {
  explicit TopologyIndex(std::shared_ptr<const Topology> t)
      : topology(std::move(t)), index(*topology), alive(AliveGpus(index)) {}
  std::shared_ptr<const Topology> topology;
  ClusterIndex index;  // points into *topology, which it keeps
  FreeGpus alive;      // the GPUs of alive nodes
};

}  // namespace meridian::scheduler
