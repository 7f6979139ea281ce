// A workload trace for meridian-sim: JSON lines, one job a line, in any
// order of submit time (docs/simulation.md has the format).
//
//   {"submit_s": 0, "name": "a", "tenant": "lab", "dp": 4, "pp": 1,
//    "model": "d12", "duration_s": 100, "priority": 0}
//
// Errors name the source, the line and the field:
//   trace.jsonl: line 3: dp = -1: must be >= 1
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace meridian::sim {

struct TraceJob {
  int line = 0;            // where it came from (1-based)
  double submit_s = 0;     // seconds after the simulation starts
  std::string name;
  std::string tenant;      // the submitting token's name (the job's owner)
  int dp = 0, pp = 0;      // a fixed layout, or
  int gpus = 0;            // auto layout over this many GPUs
  std::string model = "d12";  // a model preset
  // How long the job runs: a fixed duration, or a token budget whose time
  // comes from the placement's predicted step (tokens per step = dp x
  // microbatches x batch x seq). Exactly one is given.
  double duration_s = 0;
  double tokens = 0;
  int batch = 8, seq = 1024, microbatches = 4;
  int priority = 0;        // the job's priority in the core's queue (JobSpec.priority)
};

// Parses a whole trace. `source` names it in errors.
Result<std::vector<TraceJob>> ParseTrace(const std::string& text, const std::string& source);
Result<std::vector<TraceJob>> ReadTraceFile(const std::string& path);

// The job's GPU count (dp x pp, or gpus).
inline int TraceJobGpus(const TraceJob& job) { return job.gpus > 0 ? job.gpus : job.dp * job.pp; }

// Tokens a step of a job placed with `dp` replicas trains: what turns a
// token budget into steps, and steps into the placement's predicted time.
inline double TokensPerStep(int dp, int microbatches, int batch, int seq) {
  return (double)dp * (microbatches > 1 ? microbatches : 1) * (batch > 1 ? batch : 1) * (seq > 1 ? seq : 1);
}

}  // namespace meridian::sim
