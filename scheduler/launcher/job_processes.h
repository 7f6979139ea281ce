// The local processes that stand for running jobs (an mpirun, or an
// `sbatch --wait` following a Slurm job): each in its own session and
// process group, output appended to the job's log, a thread per job that
// waits for it and reports its exit status.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian::scheduler {

class JobProcesses {
 public:
  using ExitCallback = std::function<void(const std::string& job_id, int exit_code)>;

  explicit JobProcesses(double kill_grace_s) : kill_grace_s_(kill_grace_s) {}
  void SetExitCallback(ExitCallback callback) { on_exit_ = std::move(callback); }

  // Starts argv (with `env` added to this process's environment: NAME=VALUE
  // entries) with stdout and stderr appended to `log_path`, after a line
  // showing the command. Returns the process group id.
  Result<int64_t> Start(const std::string& job_id, const std::vector<std::string>& argv, const std::string& log_path,
                        const std::vector<std::string>& env = {});
  // SIGTERM to the job's process group, SIGKILL after the grace period.
  // OK when the job has already exited.
  Status Stop(const std::string& job_id);
  // SIGKILL to a process group left by an earlier daemon.
  static void KillGroup(int64_t process_group);

 private:
  double kill_grace_s_;
  ExitCallback on_exit_;
  std::mutex mu_;
  std::map<std::string, int64_t> running_;  // job id -> process group
};

// Runs a short command to completion (scancel, ...) with output to
// `log_path`; returns its exit status, or -1 when it could not start or
// ran past `timeout_s` (then killed).
int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path,
                    const std::vector<std::string>& env, double timeout_s);

}  // namespace meridian::scheduler
