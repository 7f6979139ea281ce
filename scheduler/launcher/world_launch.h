// The launch of a job that runs as one world per data center
// (Placement.dc_worlds), as pure functions like launch_commands.h: each
// world is the job narrowed to one data center's ranks, started by that
// data center's own launcher (mpirun, over SSH, or Slurm) with
// --wan-world, and relaunched with --wan-join; meridian-worlds runs them.
#pragma once

#include <string>
#include <vector>

#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/launcher/launch_commands.h"
#include "scheduler/launcher/world_supervisor.h"

namespace meridian::scheduler {

// The job's data centers in the order their first ranks come: world k is
// the k-th (the ranks count worlds the same way: assignment_options).
std::vector<std::string> WorldDataCenters(const v1::Placement& placement);

// What one world's launcher is given: the job narrowed to the data
// center's ranks, with its own host file, batch script, metrics file,
// checkpoint and TensorBoard directories (worlds checkpoint on their own).
struct WorldFiles {
  v1::Job job;
  JobPaths paths;
  std::string hostfile_name, batch_name, rejoin_batch_name;  // in the launch directory
};
WorldFiles WorldOf(const v1::Job& job, const JobPaths& paths, int world);

// Files to write into the launch directory (name, text) and the plan for
// meridian-worlds; InvalidArgument for a data center the cluster lacks.
struct WorldsLaunch {
  std::vector<std::pair<std::string, std::string>> files;
  WorldsPlan plan;
};
Result<WorldsLaunch> PlanWorlds(const v1::Job& job, const JobPaths& paths, const Topology& cluster,
                                const LaunchSettings& settings, const std::string& this_host);

}  // namespace meridian::scheduler
