// Where a job may go: the placement engine run over the data centers the
// job allows (JobSpec.data_centers), never mixing data centers whose
// launchers differ, because one mpirun world cannot span an SSH-launched
// and a Slurm-launched data center.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

// Places `job` on the nodes of `data_centers` (all when empty), inside one
// launcher kind at a time, and returns the placement with the lowest
// predicted step time. Status codes as PlaceJob: Unavailable when it would
// fit later, FailedPrecondition when it never fits (naming the launchers
// when only a mix of them would hold it).
Result<Placement> PlaceWithinLaunchers(const Topology& topology, const Occupancy& occupied, const JobRequest& job,
                                       const std::vector<std::string>& data_centers);

// The topology restricted to the named data centers and their nodes (all
// of it when none is named).
Topology RestrictToDataCenters(const Topology& topology, const std::vector<std::string>& data_centers);

}  // namespace meridian::scheduler
