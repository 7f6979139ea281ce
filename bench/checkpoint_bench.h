// `meridian-bench checkpoint` (run under mpirun): how long saving and
// loading a training checkpoint takes, and how long a save stalls the
// step, for whole checkpoints (rank 0 gathers and writes everything)
// against sharded ones (every rank writes its part in the background), on
// the same state, with the loaded bits checked against the saved ones.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddCheckpointBenchmark(CLI::App& app, int* exit_code, int* argc, char*** argv);

}  // namespace meridian::bench
