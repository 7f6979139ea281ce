// `meridian-bench placement`: how fast and how good the placement engine is.
// Three tables: time to place a 4,096-GPU job on a 250-data-center cluster
// (target < 100 ms); predicted step time against round-robin and random
// placement on cross-data-center clusters; and the gap to the exhaustive
// optimum on small clusters (target within 5%). Every placement is checked
// with ValidatePlacement; the exit code is non-zero if any is invalid.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddPlacementBenchmark(CLI::App& app, int* exit_code);

}  // namespace meridian::bench
