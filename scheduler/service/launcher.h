// Starts and stops a placed job's processes. An interface so the core can
// be tested without mpirun; scheduler/launcher has the mpirun one.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

// What a restarted daemon finds of a job an earlier daemon launched.
struct Orphan {
  enum class State {
    kRunning,  // its processes still run: adopted, their exit is reported through the callback
    kExited,   // it ended while no daemon watched: exit_code is how
    kGone,     // no trace of how it ended (the host rebooted, the launch never began): what is left was stopped
  };
  State state = State::kGone;
  int exit_code = 0;
  int64_t process_group = 0;  // kRunning
};

class Launcher {
 public:
  // Called (from any thread) when a launched or adopted job's processes
  // have exited.
  using ExitCallback = std::function<void(const std::string& job_id, int exit_code)>;

  virtual ~Launcher() = default;
  virtual void SetExitCallback(ExitCallback callback) = 0;
  // Starts attempt job.launches() of the job's ranks; returns the process
  // group id.
  virtual Result<int64_t> Launch(const v1::Job& job) = 0;
  // Stops a job started by Launch or adopted by Reattach (its exit is
  // still reported).
  virtual Status Kill(const std::string& job_id) = 0;
  // Where the job's output goes (on the daemon's machine).
  virtual std::string LogPath(const std::string& job_id) const = 0;
  // Finds attempt job.launches() of a job an earlier daemon launched (the
  // job as stored) and adopts it when it still runs. Never reports a job
  // as gone while any of its processes may still train.
  virtual Orphan Reattach(const v1::Job& job) = 0;
  // The daemon forgets a finished job (retention): its files go too, but
  // its checkpoints only when its spec asks (discard_checkpoints).
  virtual void RemoveJobFiles(const v1::Job& job) { (void)job; }
  // A job of one world per data center whose world `world` was placed
  // anew (job.placement holds where it now runs): that world alone is
  // started again there, with the rejoin command; the others run on.
  virtual Status RelaunchWorld(const v1::Job& job, int world) {
    (void)job;
    (void)world;
    return Status::FailedPrecondition("this launcher cannot relaunch one world");
  }
};

}  // namespace meridian::scheduler
