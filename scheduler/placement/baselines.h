// Placers to measure PlaceJob against: two naive ones (round-robin and
// random, the way a scheduler blind to the network would place) and the
// exhaustive optimum for tiny clusters. All follow PlaceJob's rules (gang,
// whole GPUs, no over-commit, no dead node or occupied GPU), validate the
// request the same way, try the same layouts and price with
// PredictStepSeconds' cost model, so their predicted step times compare.
#pragma once

#include <cstdint>

#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

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
