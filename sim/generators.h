// Made-up inputs for meridian-sim: a cluster from "key=value,..." words and
// a job stream. The job stream is a placeholder (sizes in powers of two,
// log-uniform durations, Poisson arrivals), not yet fitted to published
// cluster traces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/core/synthetic_cluster.h"
#include "sim/trace.h"

namespace meridian::sim {

// "dcs=50,gpus=20000[,gpus_per_node=8,region=10,model=H200,memory_gb=141,
// tflops=989,wan_gbps=10,wan_ms=60]": gpus is the total, split evenly
// (rounded down to whole nodes). Errors name the key.
Result<scheduler::SyntheticClusterSpec> ParseClusterWords(const std::string& words);

struct JobStreamSpec {
  int jobs = 1000;
  uint64_t seed = 1;
  double mean_interarrival_s = 60;
  int max_gpus = 256;            // sizes 1, 2, 4, ... up to this, smaller ones likelier
  double min_duration_s = 600, max_duration_s = 86400;
  std::vector<std::string> tenants = {"tenant-a", "tenant-b", "tenant-c"};
  // Each tenant's share of the jobs, in the order of `tenants` (empty:
  // equal). Dealt in a fixed order, not drawn, so the rest of the stream
  // stays the same for a given seed.
  std::vector<double> tenant_weights;
  std::string model = "d12";
  // This share of the jobs gets `high_priority` (the rest 0), so that
  // priorities and preemption have something to do.
  double high_priority_share = 0;
  int high_priority = 10;
};

// "a:3,b:1,c" (a weight of 1 when none is given) into spec->tenants and
// spec->tenant_weights. Errors name the item.
Status ParseTenantWeights(const std::string& words, JobStreamSpec* spec);

// Layouts: dp x pp with pp 1 below 8 GPUs, else pp 4 (d12 has 12 layers).
std::vector<TraceJob> GenerateJobs(const JobStreamSpec& spec);

}  // namespace meridian::sim
