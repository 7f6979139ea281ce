// Starts a placed job as one mpirun in its own process group:
//   mpirun -np N -H host:k,... meridian-train --scheduler ADDR --job ID
//          --checkpoint-dir STATE/jobs/ID/checkpoints --resume
// with output in STATE/jobs/ID/output.log. Ranks map to hosts in rank
// order (by slot), which is the placement's order. A thread per job waits
// for mpirun and reports its exit status.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "scheduler/service/launcher.h"

namespace meridian::scheduler {

struct MpirunLauncherOptions {
  std::string state_dir;
  std::string scheduler_address;   // what ranks dial back to
  std::string train_binary;        // path to meridian-train
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args;  // extra mpirun flags
  double kill_grace_s = 5.0;       // SIGTERM, then SIGKILL after this
};

class MpirunLauncher : public Launcher {
 public:
  explicit MpirunLauncher(MpirunLauncherOptions options) : options_(std::move(options)) {}
  void SetExitCallback(ExitCallback callback) override { on_exit_ = std::move(callback); }
  Result<int64_t> Launch(const v1::Job& job) override;
  Status Kill(const std::string& job_id) override;
  void KillOrphan(int64_t process_group) override;
  std::string LogPath(const std::string& job_id) const override;

  // The mpirun command line for a job (for tests and `meridianctl get`).
  std::vector<std::string> CommandFor(const v1::Job& job) const;

 private:
  MpirunLauncherOptions options_;
  ExitCallback on_exit_;
  std::mutex mu_;
  std::map<std::string, int64_t> running_;  // job id -> process group
};

}  // namespace meridian::scheduler
