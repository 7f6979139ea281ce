// `meridian-bench crossdc`: the same ranks trained in the slow-link test
// bed (--dcs data centers x --ranks-per-dc ranks, 2 x 2 by default, a
// shaped inter-DC link with --rtt-ms of delay) under each gradient sync
// mode, against the same ranks with no WAN between them: tokens/s, WAN
// bytes per step and eval loss after the same number of tokens. With
// --kill-dc or --window, each data center its own world instead
// (bench/crossdc_worlds_bench.h).
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddCrossDcBenchmark(CLI::App& app, int* exit_code);

}  // namespace meridian::bench
