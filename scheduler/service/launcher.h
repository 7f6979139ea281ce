// Starts and stops a placed job's processes. An interface so the core can
// be tested without mpirun; scheduler/launcher has the mpirun one.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

class Launcher {
 public:
  // Called (from any thread) when a launched job's processes have exited.
  using ExitCallback = std::function<void(const std::string& job_id, int exit_code)>;

  virtual ~Launcher() = default;
  virtual void SetExitCallback(ExitCallback callback) = 0;
  // Starts the job's ranks; returns the process group id.
  virtual Result<int64_t> Launch(const v1::Job& job) = 0;
  // Stops a job started by Launch (its exit is still reported).
  virtual Status Kill(const std::string& job_id) = 0;
  // Where the job's output goes (on the daemon's machine).
  virtual std::string LogPath(const std::string& job_id) const = 0;
  // Stops what an earlier daemon started for `job` (its launcher_pid and
  // placement as stored), if still alive.
  virtual void KillOrphan(const v1::Job& job) = 0;
};

}  // namespace meridian::scheduler
