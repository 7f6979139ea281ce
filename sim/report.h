// What a simulated run comes to: the summary (jobs, makespan, utilisation,
// queueing delay overall and by job size, placement latency), as a table
// for people and as JSON for tools, and the utilisation over time as CSV.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/simulation.h"

namespace meridian::sim {

// p50 and p99 by nearest rank: the value at position ceil(p * n) of the
// sorted sample (so every percentile is one of the values); 0 for none.
double NearestRankPercentile(std::vector<double> values, double p);

struct DelayStats {
  // "all", a GPU range ("1", "2-8", "9-64", "65-512", "513+"),
  // "priority>0" (the jobs of positive priority, of any size) or
  // "tenant:NAME" (with more than one tenant)
  std::string bucket;
  int jobs = 0;        // jobs that started
  double p50_s = 0, p99_s = 0, mean_s = 0, max_s = 0;
};

struct Summary {
  int submitted = 0, refused = 0, started = 0, succeeded = 0, failed = 0, unfinished = 0;
  int restarts = 0;
  int preemptions = 0;          // attempts stopped for a job of higher priority
  int total_gpus = 0;
  double makespan_s = 0;        // from 0 to the last job's end
  double busy_gpu_s = 0;        // GPU-seconds held by running attempts over [0, makespan]
  double utilisation = 0;       // busy_gpu_s / (total_gpus * makespan_s)
  // The work the jobs that succeeded needed (GPUs x ideal_run_s): held
  // GPU-seconds count work lost to kills and slow placements too.
  double useful_gpu_s = 0;
  double useful_utilisation = 0;  // useful_gpu_s / (total_gpus * makespan_s)
  std::vector<DelayStats> delays;  // "all" first, the sizes that have jobs, "priority>0", the tenants
  int placements = 0;           // placement searches the core ran
  double placement_p50_ms = 0, placement_p99_ms = 0, placement_max_ms = 0;
  double wan_bytes = 0;         // the DP exchanges' bytes between data centers (SimLauncher::wan_bytes)
  double lost_gpu_s = 0;        // work killed attempts lost since their checkpoints
  long long lock_holds = 0;     // times the core's lock was taken
  double lock_p99_ms = 0, lock_max_ms = 0;
  double wall_s = 0;
};

Summary Summarise(const SimulationResult& result);
std::string SummaryTable(const Summary& summary);
nlohmann::json SummaryJson(const Summary& summary);
// One row per policy, the same trace: what each policy comes to side by side.
std::string ComparisonTable(const std::vector<std::pair<std::string, Summary>>& runs);
nlohmann::json ComparisonJson(const std::vector<std::pair<std::string, Summary>>& runs);
// One row per trace job: line,name,gpus,priority,submit_s,start_s,end_s,
// ideal_run_s,state,restarts,preemptions (times -1 when it never came).
std::string JobsCsv(const SimulationResult& result);
// t_s,busy_gpus,total_gpus,utilisation,running_jobs: one row per change.
std::string TimelineCsv(const SimulationResult& result);

}  // namespace meridian::sim
