// What a simulated run comes to: the summary (jobs, makespan, utilisation,
// queueing delay overall and by job size, placement latency), as a table
// for people and as JSON for tools, and the utilisation over time as CSV.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/simulation.h"

namespace meridian::sim {

// p50 and p99 by nearest rank: the value at position ceil(p * n) of the
// sorted sample (so every percentile is one of the values); 0 for none.
double NearestRankPercentile(std::vector<double> values, double p);

struct DelayStats {
  std::string bucket;  // "all" or a GPU range ("1", "2-8", "9-64", "65-512", "513+")
  int jobs = 0;        // jobs that started
  double p50_s = 0, p99_s = 0, mean_s = 0, max_s = 0;
};

struct Summary {
  int submitted = 0, refused = 0, started = 0, succeeded = 0, failed = 0, unfinished = 0;
  int restarts = 0;
  int total_gpus = 0;
  double makespan_s = 0;        // from 0 to the last job's end
  double busy_gpu_s = 0;        // GPU-seconds held by running attempts over [0, makespan]
  double utilisation = 0;       // busy_gpu_s / (total_gpus * makespan_s)
  std::vector<DelayStats> delays;  // "all" first, then the buckets that have jobs
  int placements = 0;           // placement searches the core ran
  double placement_p50_ms = 0, placement_p99_ms = 0, placement_max_ms = 0;
  double wall_s = 0;
};

Summary Summarise(const SimulationResult& result);
std::string SummaryTable(const Summary& summary);
nlohmann::json SummaryJson(const Summary& summary);
// t_s,busy_gpus,total_gpus,utilisation,running_jobs: one row per change.
std::string TimelineCsv(const SimulationResult& result);

}  // namespace meridian::sim
