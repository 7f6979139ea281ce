// `meridian-bench train --dp N --pp M --microbatches K` under mpirun: the
// real trainer on random tokens, run twice (gradient all-reduce overlapped
// with backward, then after it) to report the pipeline bubble against its
// ideal and the share of all-reduce time the overlap hides.
#pragma once

#include <string>

#include "runtime/parallel/pipeline_schedule.h"

namespace meridian::bench {

struct ParallelTrainBenchOptions {
  std::string model = "d4";
  int n_layer = 0, n_head = 0, n_embd = 0;
  int vocab = 50257;
  int batch = 4, seq = 64, threads = 1;
  int steps = 10, warmup_steps = 2;
  int dp = 1, pp = 1, microbatches = 1;
  PipelineScheduleKind pp_schedule = PipelineScheduleKind::k1F1B;
  int zero = 0;
  double bucket_mb = 25.0;
  std::string workdir = "/tmp/meridian-bench-train";
  bool json = false;
};

int RunParallelTrainBenchmark(const ParallelTrainBenchOptions& options, int* argc, char*** argv);

}  // namespace meridian::bench
