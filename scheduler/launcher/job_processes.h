// The local processes that stand for running jobs (an mpirun, or an
// `sbatch --wait` following a Slurm job). Each runs under a supervisor: a
// small child of the daemon, in its own session and process group, that
// holds an flock on the attempt's lock file while it lives and writes the
// launcher's exit status to the attempt's exit file before it ends. So a
// daemon killed with -9 leaves its jobs running, and the next daemon tells
// a running attempt (lock held: adopt it) from one that ended (exit file)
// without trusting process ids. The supervisor keeps the daemon's identity
// and its files are the daemon's; only the launcher it starts takes the
// job's user, and opens the job's log as that user.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/types.h>

#include "common/status.h"
#include "scheduler/service/launcher.h"

namespace meridian::scheduler {

// Where an attempt's supervisor keeps its lock and exit status.
struct AttemptFiles {
  std::string lock_path, exit_path;
};

// The unprivileged user a job runs as (a root daemon's --run-as).
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string name, home;
};
// Looks the user up; InvalidArgument naming it when unknown.
Result<RunAs> LookUpUser(const std::string& name);

class JobProcesses {
 public:
  using ExitCallback = std::function<void(const std::string& job_id, int exit_code)>;

  explicit JobProcesses(double kill_grace_s) : kill_grace_s_(kill_grace_s), shared_(std::make_shared<Shared>()) {}
  // Exits reported after this are dropped; the threads that follow jobs
  // keep what they use alive on their own.
  ~JobProcesses();
  void SetExitCallback(ExitCallback callback);

  // Starts argv under a supervisor, with the environment JobEnvironment
  // allows of this process's plus `env` (NAME=VALUE entries), stdout and
  // stderr appended to `log_path` after a line showing the command.
  // Returns the process group id. With `as`, the launcher (and all it
  // starts) takes that user's ids and HOME, USER and LOGNAME before it
  // opens the log or starts anything. REQUIRES: `files` are in a directory
  // only the daemon can write.
  Result<int64_t> Start(const std::string& job_id, const std::vector<std::string>& argv, const std::string& log_path,
                        const AttemptFiles& files, const std::vector<std::string>& env = {},
                        const RunAs* as = nullptr);
  // Finds an attempt started by an earlier daemon: kRunning (now followed
  // like a started one), kExited, or kGone. Stragglers of an attempt whose
  // supervisor is gone are killed before this returns.
  Orphan Adopt(const std::string& job_id, const AttemptFiles& files);
  // SIGTERM to the job's process group, SIGKILL after the grace period.
  // OK when the job has already exited.
  Status Stop(const std::string& job_id);

 private:
  // What the threads following jobs share with this object, which may go
  // first.
  struct Shared {
    std::mutex mu;
    std::map<std::string, int64_t> running;  // job id -> process group
    std::mutex callback_mu;                  // held while reporting, and to close
    ExitCallback on_exit;
    bool closed = false;
    void Report(const std::string& job_id, int exit_code);
  };
  static void Follow(std::shared_ptr<Shared> shared, const std::string& job_id, int lock_fd,
                     const std::string& exit_path);

  double kill_grace_s_;
  std::shared_ptr<Shared> shared_;
};

// Runs a short command to completion (scancel, ...) with output to
// `log_path`, a file of the daemon's own; returns its exit status, or -1 when it could not start or
// ran past `timeout_s` (then killed).
int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path,
                    const std::vector<std::string>& env, double timeout_s);

}  // namespace meridian::scheduler
