// Placers to measure PlaceJob against: three naive ones (first fit,
// round-robin and random, the ways a scheduler blind to the network places) and the
// exhaustive optimum for tiny clusters. All follow PlaceJob's rules (gang,
// whole GPUs, no over-commit, no dead node or occupied GPU), validate the
// request the same way, try the same layouts and price with
// PredictStepSeconds' cost model, so their predicted step times compare.
#pragma once

#include <cstdint>

#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

// First fit, as a scheduler without a topology plugin places: rank r on
// the first free GPU in node-name order that holds its stage (Slurm's
// select/linear and a plain gang scheduler fill nodes this way).
Result<Placement> FirstFitPlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job);
// FirstFitPlacement on an indexed topology (IndexTopology): the same placement.
Result<Placement> FirstFitPlacementIndexed(const TopologyIndex& topology, const Occupancy& occupied,
                                           const JobRequest& job, const Occupancy* also = nullptr);
Result<Placement> FirstFitPlacementIndexed(const TakenGpus& held, const JobRequest& job, const Occupancy* also = nullptr);

// Rank r on the next node in name order (cycling), on its first free GPU
// that holds the rank's stage.
Result<Placement> RoundRobinPlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job);

// Ranks on free GPUs in a shuffled order (std::mt19937_64 seeded with
// `seed`), each on the first that holds its stage.
Result<Placement> RandomPlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                                  uint64_t seed);

// The cheapest placement of all, by enumerating every assignment of ranks
// to free GPUs up to swapping identical GPUs of one node. FailedPrecondition
// when more than `max_free_gpus` GPUs are free (the search is factorial).
Result<Placement> ExhaustivePlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                                      int max_free_gpus = 12);

}  // namespace meridian::scheduler
