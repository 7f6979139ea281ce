// A job that runs as one world per data center (Placement.dc_worlds) lost
// a node: only the world on that node needs new GPUs. Its ranks are placed
// again, on the healthy nodes of its own data center when they hold it,
// else in another data center the job may use and no other world of it
// does; the other worlds' ranks stay where they are and train on. The
// moved ranks keep their numbers, stages and layer ranges (the other
// worlds' stages hold the same layers), so the world rejoins the rounds as
// the same world.
#pragma once

#include <string>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

struct WorldMove {
  v1::Placement placement;  // the job's placement with the world's ranks moved
  int world = 0;            // the world's index (WorldDataCenters order)
  std::string from_dc, to_dc;
  std::string nodes;  // where the world now runs, "a, b" (for the job's events)
};

// `healthy`: where ranks may start now (the lost node already dead or
// left out); `occupied`: every other job's GPUs (this job's are free to
// reuse); `request`: the job as placement reads it. Unavailable when no
// data center holds the world now (the job then restarts as a whole);
// FailedPrecondition when `lost_node` holds none of the job's ranks or the
// job is not one world per data center.
Result<WorldMove> ReplaceWorld(const Topology& healthy, const Occupancy& occupied, const v1::Job& job,
                               const JobRequest& request, const std::string& lost_node);

}  // namespace meridian::scheduler
