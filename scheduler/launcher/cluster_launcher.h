// The daemon's Launcher: starts each placed job with the engine its data
// centers run (cluster file `launcher:`), local mpirun, mpirun over SSH, or
// the data center's Slurm, and follows it until it ends. See
// launch_commands.h for the command lines and docs/deploy.md for set-up.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <string>

#include "scheduler/core/topology.h"
#include "scheduler/launcher/job_directories.h"
#include "scheduler/launcher/job_processes.h"
#include "scheduler/launcher/launch_commands.h"
#include "scheduler/launcher/serial_worker.h"
#include "scheduler/service/launcher.h"

namespace meridian::scheduler {

struct ClusterLauncherOptions {
  std::string state_dir;          // job directories go here unless the cluster file names a job_root
  LaunchSettings settings;
  double kill_grace_s = 5.0;      // SIGTERM, then SIGKILL after this
  double slurm_command_timeout_s = 30.0;
  // A root daemon's --run-as: jobs run as this user, who owns their
  // directories.
  std::optional<RunAs> run_as;
  // The daemon's --data-root, handed to the ranks to check again.
  std::vector<std::string> data_roots;
  // One world per data center: how long a world that keeps failing waits
  // for the daemon to place it anew (its node timeout and then some)
  // before meridian-worlds stops the job.
  double world_replace_wait_s = 0.0;
  // The daemon serves TLS: a job that runs as one world per data center
  // gets a certificate of its own for the exchange between its worlds.
  bool exchange_tls = false;
};

class ClusterLauncher : public Launcher {
 public:
  // `topology` supplies the data centers' launchers and the launch options.
  ClusterLauncher(const Topology& topology, ClusterLauncherOptions options);

  // What ranks dial back to; set once the daemon's port is known.
  void SetSchedulerAddress(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu_);
    options_.settings.scheduler_address = address;
  }
  // The token a job attempt's ranks present (MERIDIAN_JOB_TOKEN); none when unset.
  void SetJobTokens(std::function<std::string(const std::string& job_id, int attempt)> token_for) {
    std::lock_guard<std::mutex> lock(mu_);
    job_token_ = std::move(token_for);
  }

  void SetExitCallback(ExitCallback callback) override { processes_.SetExitCallback(std::move(callback)); }
  Result<int64_t> Launch(const v1::Job& job) override;
  Status Kill(const std::string& job_id) override;
  Orphan Reattach(const v1::Job& job) override;
  std::string LogPath(const std::string& job_id) const override;
  void RemoveJobFiles(const v1::Job& job) override;
  // Rewrites the job's worlds plan with `world`'s new host file and
  // commands and its generation raised: meridian-worlds, which reads the
  // plan again every half second, restarts that world there.
  Status RelaunchWorld(const v1::Job& job, int world) override;
  // Returns once every scancel Kill or Reattach posted so far has run.
  void DrainSlurmCancels() { cancels_.Drain(); }

 private:
  // What a job attempt's ranks are given: the daemon's settings plus the
  // job's token and data roots.
  LaunchSettings SettingsFor(const v1::Job& job);
  // A job that runs as one world per data center: meridian-worlds over
  // every world's own launcher.
  Result<int64_t> LaunchWorlds(const v1::Job& job, const JobPaths& paths, const LaunchSettings& settings,
                               const LaunchDirectory& launch_dir, const AttemptFiles& attempt, const RunAs* as);
  // Makes a job's exchange certificate and key in its launch directory
  // (exchange_tls, one world per data center); ExchangeTlsEnvFor names
  // them to its ranks (nothing otherwise).
  Status WriteExchangeCertificate(const v1::Job& job, const LaunchDirectory& launch_dir) const;
  std::vector<std::string> ExchangeTlsEnvFor(const v1::Job& job) const;
  // Runs scancel for an attempt's Slurm job (its name) in `dc`.
  void CancelSlurmJob(const std::string& job_id, const std::string& slurm_name, const DataCenter& dc);
  // The same, on cancels_: Kill and Reattach are called under the
  // scheduler core's lock and must not wait for Slurm's controller.
  void CancelSlurmJobLater(const std::string& job_id, const std::string& slurm_name, const DataCenter& dc);
  std::string JobRoot() const;
  // The placement's Slurm data centers, in rank order.
  std::vector<DataCenter> SlurmDataCentersOf(const v1::Job& job) const;

  Topology cluster_;  // the cluster's data centers and launch options; no nodes (agents change those)
  ClusterLauncherOptions options_;
  JobProcesses processes_;
  std::mutex mu_;
  // Running job id -> its attempt's Slurm job name and the Slurm data
  // centers it runs in (one; or, for one world per data center, each Slurm
  // world's own).
  struct SlurmJob {
    std::string name;
    std::vector<DataCenter> data_centers;
  };
  std::map<std::string, SlurmJob> slurm_jobs_;
  std::function<std::string(const std::string&, int)> job_token_;
  SerialWorker cancels_;  // last: destroyed first, running the scancels still queued
};

}  // namespace meridian::scheduler
