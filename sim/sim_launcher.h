// The simulator's Launcher: no processes. Launch records the job and
// schedules its exit (code 0) at now + its run time; Kill schedules an exit
// with 143 (SIGTERM) at the current virtual time. Exits reach the core
// through the exit callback when the event queue runs them, never from
// inside Launch or Kill (the core holds its lock there).
//
// A job's run time: the trace's duration_s, or its tokens over the
// placement's throughput (dp x microbatches x batch x seq tokens per
// predicted_step_s). An attempt that is killed keeps the work up to its
// last checkpoint (every `checkpoint_interval_s` of run time; 0: all of it),
// and the next attempt runs what is left.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "scheduler/service/launcher.h"
#include "sim/event_queue.h"
#include "sim/trace.h"

namespace meridian::sim {

class SimLauncher : public scheduler::Launcher {
 public:
  // Told of every start and end of an attempt: the job, its GPU count and
  // whether it starts (true) or ends (false), at queue->now().
  using UsageListener = std::function<void(const std::string& job_id, int gpus, bool starts)>;

  SimLauncher(EventQueue* queue, double checkpoint_interval_s, UsageListener listener)
      : queue_(queue), checkpoint_interval_s_(checkpoint_interval_s), listener_(std::move(listener)) {}

  // The trace job behind a core job id, known once SubmitJob returned. A
  // launch that came first (the submit's own placement pass) starts its
  // clock now. `trace` must outlive the launcher.
  void Bind(const std::string& job_id, const TraceJob* trace);

  void SetExitCallback(ExitCallback callback) override { exit_ = std::move(callback); }
  Result<int64_t> Launch(const v1::Job& job) override;
  Status Kill(const std::string& job_id) override;
  std::string LogPath(const std::string& job_id) const override { return "(simulated) " + job_id; }
  scheduler::Orphan Reattach(const v1::Job& job) override;

  // When each job first started (virtual seconds), by job id.
  const std::map<std::string, double>& first_start() const { return first_start_; }
  // Bytes the attempts' DP exchanges sent between data centers, as their
  // placements price them (the chosen mode's wan_bytes_per_step, per
  // predicted step, for as long as each attempt ran).
  double wan_bytes() const { return wan_bytes_; }
  // GPU-seconds of work killed attempts lost: run since their last checkpoint.
  double lost_gpu_s() const { return lost_gpu_s_; }
  int running() const { return (int)running_.size(); }

 private:
  struct Attempt {
    int number = 0;
    int gpus = 0;
    double started = 0;
    double run_s = 0;          // the attempt's full run time (what is left of the job)
    double full_s = 0;         // the whole job's run time at this placement
    bool scheduled = false;    // its exit is in the queue
    double wan_bytes_per_s = 0;  // while it runs
  };
  // The attempt's run time from the job's placement and the trace.
  static double FullRunSeconds(const v1::Job& job, const TraceJob& trace);
  void ScheduleExit(const std::string& job_id, Attempt& attempt);
  void Exit(const std::string& job_id, int number, int code);

  EventQueue* queue_;
  double checkpoint_interval_s_;
  UsageListener listener_;
  ExitCallback exit_;
  std::map<std::string, const TraceJob*> traces_;
  std::map<std::string, Attempt> running_;
  std::map<std::string, v1::Job> unbound_;        // launched before Bind
  std::map<std::string, double> done_fraction_;   // work kept from earlier attempts
  std::map<std::string, double> first_start_;
  double wan_bytes_ = 0, lost_gpu_s_ = 0;
};

}  // namespace meridian::sim
