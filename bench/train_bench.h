// `meridian-bench train`: full training steps (forward, backward, AdamW) of
// a GPT-2 or Llama config, side by side with the sgemm ceiling and,
// optionally, the PyTorch peer of the same architecture, all measured in the
// same run.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

// Registers the subcommand; its callback runs the benchmark and sets
// *exit_code (non-zero when a correctness check fails).
void AddTrainBenchmark(CLI::App& app, int* exit_code, int* argc, char*** argv);

}  // namespace meridian::bench
