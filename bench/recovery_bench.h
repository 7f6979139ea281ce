// `meridian-bench recovery`: how fast a scheduled job trains again after
// a rank dies. Starts a daemon on this machine (built-in cluster), runs a
// DP2 x PP2 job once undisturbed and once with one rank killed (-9) every
// K seconds, and reports for each kill the seconds to the next trained
// step and the steps lost, and the goodput: the undisturbed run's wall
// time over the disturbed run's.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddRecoveryBenchmark(CLI::App& app, int* exit_code);

}  // namespace meridian::bench
