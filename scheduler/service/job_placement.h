// Where a job may go: the placement engine run over the data centers the
// job allows (JobSpec.data_centers), never mixing data centers whose
// launchers differ, because one mpirun world cannot span an SSH-launched
// and a Slurm-launched data center.
#pragma once

#include <functional>

#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/core/topology.h"
#include "meridian/v1/scheduler.pb.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

// What puts a job's ranks on GPUs: PlaceJob (topology-aware, the daemon's
// own) or a baseline such as FirstFitPlacement (the policies meridian-sim
// compares).
using JobPlacer = std::function<Result<Placement>(const Topology&, const Occupancy&, const JobRequest&)>;

// Places `job` with `place` on the nodes of `data_centers` (all when
// empty), inside one launcher kind at a time, and returns the placement
// with the lowest predicted step time. Status codes as PlaceJob: Unavailable when it would
// fit later, FailedPrecondition when it never fits (naming the launchers
// when only a mix of them would hold it).
Result<Placement> PlaceWithinLaunchers(const Topology& topology, const Occupancy& occupied, const JobRequest& job,
                                       const std::vector<std::string>& data_centers, JobPlacer place = PlaceJob);

// Each data center its own world (JobSpec.dc_worlds): placed over every
// allowed data center, launchers mixed, each replica inside one data
// center (a world is a data center's replicas). FailedPrecondition naming
// the replica that straddles two.
Result<Placement> PlaceAsWorlds(const Topology& topology, const Occupancy& occupied, const JobRequest& job,
                                const std::vector<std::string>& data_centers, JobPlacer place = PlaceJob);

// Marks a placement that spans several data centers as one world per data
// center and gives the job's leaders their ports: `base` plus a slot of 64
// the job id picks (world w's stage s serves on wan_port + w * pp + s).
void MarkWorlds(const std::string& job_id, int base_port, v1::Placement* placement);
// A placement of one world per data center (dc_worlds) gets the contact
// window of each link between two of its data centers that has one
// (Placement.link_windows, each pair once, in the order the data centers'
// first ranks come); any it had before are replaced, since a world that
// moved may have changed the pairs. Nothing for other placements.
void MarkLinkWindows(const Topology& topology, v1::Placement* placement);
constexpr int kWanPortBase = 29400;  // the slots reach 37399
constexpr int kWanPortsPerJob = 64;   // worlds x stages a job may have

// The topology restricted to the named data centers and their nodes (all
// of it when none is named).
Topology RestrictToDataCenters(const Topology& topology, const std::vector<std::string>& data_centers);

}  // namespace meridian::scheduler
