// `meridian-bench crossdc`: the same 4 ranks trained in the slow-link test
// bed (2 data centers x 2 ranks, shaped inter-DC link) under each gradient
// sync mode, against the same ranks with no WAN between them: tokens/s, WAN
// bytes per step and eval loss after the same number of tokens.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddCrossDcBenchmark(CLI::App& app, int* exit_code);

}  // namespace meridian::bench
