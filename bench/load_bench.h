// `meridian-bench load`: many concurrent clients against one daemon while
// a real training job runs on it: users submitting and cancelling, listing
// and reading jobs, dashboards watching the running job, agents
// heartbeating their nodes. Once with TLS and tokens, once plain, side by
// side: calls, p50 and p99 per RPC, every error, and at the end every job
// accounted for (none lost) and the training job still running.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddLoadBenchmark(CLI::App& app, int* exit_code);

}  // namespace meridian::bench
