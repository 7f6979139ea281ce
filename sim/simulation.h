// One simulated run: the real SchedulerCore (placement, store, queue,
// liveness and restarts) driven in virtual time. The simulation replaces
// only time (EventQueue), processes (SimLauncher) and node agents (it
// heartbeats the nodes that fail, and stops when they fail).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/service/scheduler_core.h"
#include "sim/trace.h"

namespace meridian::sim {

// A node that stops heartbeating at at_s and comes back down_s later.
struct NodeFailure {
  double at_s = 0;
  std::string node;
  double down_s = 0;
};

struct SimulationOptions {
  scheduler::Topology cluster;
  std::vector<TraceJob> jobs;
  std::vector<NodeFailure> failures;
  // "sqlite": the daemon's store in a fresh temporary directory (removed
  // after); "memory": MemoryStateStore.
  std::string store = "sqlite";
  double checkpoint_interval_s = 0;  // work a killed attempt keeps: whole intervals (0: all)
  double node_timeout_s = 30;        // the core's options, as the daemon's flags set them
  double node_probation_s = 30;
  double start_unix_s = 1.7e9;       // virtual time 0 on the core's clock
  scheduler::SchedulerCoreOptions::Policy policy;  // the daemon's by default
  scheduler::Quotas quotas;                         // tenants' quotas (none: no limits)
};

// A job's life, in virtual seconds since the start.
struct JobOutcome {
  int trace_line = 0;
  std::string id;      // empty when the submit was refused
  std::string name;
  int gpus = 0;        // as asked (dp x pp or gpus)
  double submit_s = 0;
  double start_s = -1;  // first launch; -1: never started
  double end_s = -1;    // when it reached its final state; -1: did not
  std::string state;    // the core's final state (SUCCEEDED, ...), or REFUSED
  int restarts = 0;
  int preemptions = 0;  // times it was stopped for a job of higher priority
  int priority = 0;
  std::string tenant;
  // Its run time on the best placement of the empty cluster (PlaceJob):
  // the work it needs, whatever the policy (a token budget placed worse
  // runs longer than this).
  double ideal_run_s = 0;
  std::string error;    // why the submit was refused
};

// Busy GPUs from `t_s` until the next point.
struct UsagePoint {
  double t_s = 0;
  int busy_gpus = 0;
  int running_jobs = 0;
};

struct SimulationResult {
  std::vector<JobOutcome> jobs;       // in trace order
  std::vector<UsagePoint> timeline;   // from 0, one point per change
  int total_gpus = 0;                 // GPUs of the cluster's nodes
  double end_s = 0;                   // the last event's time
  std::vector<double> placement_wall_s;  // every placement search the core ran, in real seconds
  std::vector<double> lock_hold_s;       // every hold of the core's lock, in real seconds
  double wan_bytes = 0;                  // SimLauncher::wan_bytes
  double lost_gpu_s = 0;                 // SimLauncher::lost_gpu_s
  double wall_s = 0;                  // how long the run took, real seconds
};

// What a trace line submits: bf16 on CUDA (memory priced as GPUs hold
// it); the data glob is never read.
v1::JobSpec SpecFor(const TraceJob& job);

// Runs the whole trace to its end. Errors: a store that cannot open, a
// failure naming an unknown node.
Result<SimulationResult> RunSimulation(const SimulationOptions& options);

}  // namespace meridian::sim
