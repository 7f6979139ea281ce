// `meridian-bench allreduce` (run under mpirun): the nccl-tests table for
// our communicator's all-reduce against plain MPI_Allreduce, same run,
// same buffers, results checked.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian::bench {

void AddAllReduceBenchmark(CLI::App& app, int* exit_code, int* argc, char*** argv);

}  // namespace meridian::bench
