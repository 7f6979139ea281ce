// A job that runs as one world per data center is one supervisor process
// (meridian-worlds) to the daemon: it starts every world's launcher (an
// mpirun, or `sbatch --wait` for a Slurm data center), relaunches a world
// whose launcher fails (with its rejoin command: the ranks then take a live
// world's outer weights and step) while the other worlds train on, and ends
// when every world has: 0 when all finished, else the exit status of the
// world that failed once too often (the others are stopped first).
//
// The worlds stay in the supervisor's process group, so the daemon's stop
// of the job's group stops them too.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace meridian::scheduler {

struct WorldLaunch {
  std::string name;                          // the data center
  std::vector<std::string> command;          // the first launch
  std::vector<std::string> rejoin_command;   // a relaunch
};

struct WorldsPlan {
  std::string job_id;
  std::vector<WorldLaunch> worlds;
  int max_relaunches = 3;         // per world
  double relaunch_delay_s = 1.0;  // after a world's launcher ended, before its relaunch
};

// The plan as the daemon writes it for meridian-worlds (JSON), and back;
// InvalidArgument naming the field that is wrong.
std::string WorldsPlanToJson(const WorldsPlan& plan);
Result<WorldsPlan> WorldsPlanFromJson(const std::string& text, const std::string& where);

// Runs the plan to its end (blocks); returns the exit status for the
// supervisor. Its words go to stderr (the job's log).
int SuperviseWorlds(const WorldsPlan& plan);

}  // namespace meridian::scheduler
