// Node failures for meridian-sim: JSON lines, one failure a line,
//   {"at_s": 3600, "node": "dc-003-n012", "down_s": 1800}
// The node stops heartbeating at at_s and comes back down_s later. Errors
// name the source, the line and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/core/topology.h"
#include "sim/simulation.h"

namespace meridian::sim {

// Node failures drawn from a rate: each node fails as a Poisson process
// at `per_gpu_hour` x its GPUs per hour over [0, horizon_s) and comes back
// `down_s` later; plus `dc_outages` whole data centers (every node at
// once) at uniform times, each down `dc_outage_s`. Deterministic per seed.
struct FailureStreamSpec {
  double per_gpu_hour = 0;
  double down_s = 3600;
  int dc_outages = 0;
  double dc_outage_s = 3600;
  double horizon_s = 0;
  uint64_t seed = 1;
};

// The Llama 3 report (Meta, 2024): 419 unexpected interruptions in 54 days
// of training on 16,384 H100s, 78% of them hardware.
constexpr double kLlama3FailuresPerGpuHour = 419.0 / (54.0 * 24.0 * 16384.0);

// In time order. A node is never failed again while it is down.
std::vector<NodeFailure> GenerateFailures(const scheduler::Topology& cluster, const FailureStreamSpec& spec);

Result<std::vector<NodeFailure>> ParseFailures(const std::string& text, const std::string& source);
Result<std::vector<NodeFailure>> ReadFailuresFile(const std::string& path);

}  // namespace meridian::sim
