// meridian-bench: the benchmark suite. One subcommand per part; each prints
// a fixed-width table, checks correctness in the same run and exits
// non-zero when a result is wrong.
#include <CLI/CLI.hpp>

#include "bench/allreduce_bench.h"
#include "bench/checkpoint_bench.h"
#include "bench/crossdc_bench.h"
#include "bench/load_bench.h"
#include "bench/placement_bench.h"
#include "bench/recovery_bench.h"
#include "bench/rpc_bench.h"
#include "bench/train_bench.h"
#include "common/command_line.h"
#include "common/log.h"

int main(int argc, char** argv) {
  CLI::App app{"meridian-bench: how fast each part of Meridian is, measured against a peer or the hardware"};
  app.require_subcommand(1);
  int exit_code = 0;
  meridian::bench::AddTrainBenchmark(app, &exit_code, &argc, &argv);
  meridian::bench::AddPlacementBenchmark(app, &exit_code);
  meridian::bench::AddRpcBenchmark(app, &exit_code);
  meridian::bench::AddLoadBenchmark(app, &exit_code);
  meridian::bench::AddRecoveryBenchmark(app, &exit_code);
  meridian::bench::AddCrossDcBenchmark(app, &exit_code);
  meridian::bench::AddAllReduceBenchmark(app, &exit_code, &argc, &argv);
  meridian::bench::AddCheckpointBenchmark(app, &exit_code, &argc, &argv);
  std::string log_format, log_level;
  meridian::AddLogOptions(app, &log_format, &log_level);
  // Before or after the benchmark's name: every benchmark passes them up.
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) sub->fallthrough();
  // The benchmarks run in their subcommands' callbacks, after this one.
  app.parse_complete_callback([&] {
    if (meridian::Status s = meridian::InitLogging("meridian-bench", log_format, log_level); !s.ok())
      throw CLI::ValidationError("logging", s.message());
  });
  if (std::optional<int> exit_code = meridian::ParseCommandLine(app, argc, argv)) return *exit_code;
  return exit_code;
}
