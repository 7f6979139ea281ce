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
//
// The daemon may place one world anew (its node was lost): it rewrites the
// plan file with that world's `generation` raised. The supervisor reads the
// file again every half second; a world whose generation rose is stopped
// where it runs (if it still does) and started with its new rejoin command,
// its relaunches counted from zero. A world that failed once too often
// waits `replace_wait_s` for such a new placement before the job stops (the
// daemon declares a silent node dead only after its node timeout).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace meridian::scheduler {

struct WorldLaunch {
  std::string name;                          // the data center
  std::vector<std::string> command;          // the first launch
  std::vector<std::string> rejoin_command;   // a relaunch
  int generation = 0;                        // raised by the daemon each time it places the world anew
};

struct WorldsPlan {
  std::string job_id;
  std::vector<WorldLaunch> worlds;
  int max_relaunches = 3;         // per world
  double relaunch_delay_s = 1.0;  // after a world's launcher ended, before its relaunch
  double replace_wait_s = 0.0;    // a world out of relaunches waits this long for a new placement
};

// The plan as the daemon writes it for meridian-worlds (JSON), and back;
// InvalidArgument naming the field that is wrong.
std::string WorldsPlanToJson(const WorldsPlan& plan);
Result<WorldsPlan> WorldsPlanFromJson(const std::string& text, const std::string& where);

// Runs the plan to its end (blocks); returns the exit status for the
// supervisor. Its words go to stderr (the job's log). `plan_file`: where
// the daemon rewrites the plan when it places a world anew ("": never).
int SuperviseWorlds(const WorldsPlan& plan, const std::string& plan_file = "");

}  // namespace meridian::scheduler
