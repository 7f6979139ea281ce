// `meridian-bench rpc`: calls per second and p50/p99 latency of Heartbeat
// and SubmitJob against a running daemon (one it starts with --dry-run on
// loopback, or --scheduler ADDR), with N concurrent clients.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddRpcBenchmark(CLI::App& app, int* exit_code);

}  // namespace meridian::bench
