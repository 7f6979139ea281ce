// The command lines that start a placed job, as pure functions of the job,
// the cluster's launch options and the daemon's settings, so tests can
// check them without starting anything.
//
// Every engine pins world rank r to the host the placement gave rank r:
//   local, ssh: mpirun with Open MPI's sequential mapper (`--mca rmaps seq`)
//               over a host file with one line per rank, in rank order;
//   slurm:      sbatch of a script that runs `srun --mpi=pmix
//               --distribution=arbitrary` with SLURM_HOSTFILE, one Slurm
//               node name per rank, in rank order.
#pragma once

#include <string>
#include <vector>

#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"

namespace meridian::scheduler {

struct LaunchSettings {
  std::string scheduler_address;          // what ranks dial back to (the daemon's --advertise)
  std::string train_binary;               // meridian-train, at the same path on every host
  std::string worlds_binary;              // meridian-worlds, on the daemon's host (one world per data center)
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args;   // the daemon's --mpirun-arg flags
  bool as_root = false;                   // adds --allow-run-as-root
  // Environment every rank gets, NAME=VALUE (the job token, the CA that
  // signed the daemon's certificate): set for the launcher, forwarded to
  // remote ranks by name (mpirun -x; Slurm exports the environment).
  std::vector<std::string> rank_env;
};

// Where a job's files live, in two directories under `root` (storage every
// host of the job sees):
//   root/jobs/ID    the job's: output.log, metrics, checkpoints, TensorBoard;
//                   owned by the job's user, who may write there at will;
//   root/launch/ID  the daemon's: host file, batch script, attempt locks and
//                   exit files; the job's user may read, never write, there.
// The daemon opens nothing by path inside root/jobs/ID (job_directories.h).
struct JobPaths {
  std::string dir, checkpoints, metrics, tensorboard, log;  // the job's
  std::string launch_dir, hostfile, batch_script;           // the daemon's
  // Attempt N's supervisor holds an flock on launch-N.lock (its process
  // group id inside) for as long as it lives, and writes the launcher's
  // exit status to launch-N.exit before it ends: how a restarted daemon
  // tells a running attempt from one that ended.
  std::string LaunchLock(int attempt) const { return launch_dir + "/launch-" + std::to_string(attempt) + ".lock"; }
  std::string LaunchExit(int attempt) const { return launch_dir + "/launch-" + std::to_string(attempt) + ".exit"; }
  // Output of the daemon's own commands for the job (scancel).
  std::string DaemonLog() const { return launch_dir + "/daemon-commands.log"; }
};
JobPaths PathsFor(const std::string& root, const std::string& job_id);

// The launcher kind shared by every data center of the placement;
// InvalidArgument naming them when they differ.
Result<LauncherKind> LauncherForPlacement(const Topology& topology, const v1::Placement& placement);

// One line per world rank: the rank's host (ssh), node name (slurm), or
// `this_host`, the daemon's hostname (local).
std::string HostFileFor(const v1::Placement& placement, LauncherKind kind, const std::string& this_host);

// meridian-train and its arguments, the same for every rank.
std::vector<std::string> TrainCommand(const v1::Job& job, const JobPaths& paths, const LaunchSettings& settings);

// mpirun for a local or ssh data center.
std::vector<std::string> MpirunCommand(const v1::Job& job, const JobPaths& paths, const LaunchOptions& launch,
                                       LauncherKind kind, const LaunchSettings& settings);

// The sbatch batch script (text) and the sbatch command that submits it
// and waits for the Slurm job to end (its exit status is the job's).
std::string SlurmBatchScript(const v1::Job& job, const JobPaths& paths, const LaunchOptions& launch,
                             const LaunchSettings& settings);
std::vector<std::string> SbatchCommand(const v1::Job& job, const JobPaths& paths, const DataCenter& dc);
// The Slurm job name an attempt of a Meridian job runs under (scancel
// --name finds it): one per attempt, so cancelling an attempt that has
// ended never reaches the next one's Slurm job.
std::string SlurmJobName(const std::string& job_id, int attempt);

}  // namespace meridian::scheduler
