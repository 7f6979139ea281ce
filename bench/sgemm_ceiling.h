// The machine's float32 GEMM rate, measured in the same run as whatever is
// compared against it: the "hardware limit" column of the CPU benchmarks.
#pragma once

namespace meridian::bench {

struct SgemmCeiling {
  int size = 0;           // M = N = K
  int threads = 0;
  double gflops = 0.0;    // median of the repetitions
};

// Times `reps` square sgemm calls of the given size with `threads` threads.
SgemmCeiling MeasureSgemmCeiling(int size, int threads, int reps);

}  // namespace meridian::bench
