#include "bench/allreduce_bench.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "bench/table.h"
#include "runtime/comm/mpi_communicator.h"

namespace meridian::bench {

namespace {

struct AllReduceOptions {
  size_t min_bytes = 8;
  size_t max_bytes = 256u << 20;
  int factor = 4;
  int iters = 20;
  int warmup = 3;
  double max_seconds_per_size = 2.0;
};

// Fills x with values whose sum over ranks is known exactly (small
// integers), so every element can be checked.
void Fill(std::vector<float>& x, int rank) {
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)((i + rank) % 7);
}

long CountWrong(const std::vector<float>& x, int size) {
  long wrong = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    float expect = 0;
    for (int r = 0; r < size; ++r) expect += (float)((i + r) % 7);
    wrong += x[i] != expect;
  }
  return wrong;
}

// Median seconds of one all-reduce of `x` (refilled before each call).
template <typename F>
double TimeIt(std::vector<float>& x, int rank, int iters, int warmup, double budget, F&& call) {
  std::vector<double> t;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < warmup + iters; ++i) {
    Fill(x, rank);
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    call();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double worst = s;
    MPI_Allreduce(&s, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);  // the slowest rank's time counts
    if (i >= warmup) t.push_back(worst);
    // Big sizes take few repetitions; decided collectively so ranks agree.
    int stop = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > budget &&
               (int)t.size() >= 3;
    MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (stop) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int RunAllReduce(const AllReduceOptions& o, int* argc, char*** argv) {
  auto world_or = MpiCommunicator::InitWorld(argc, argv);
  if (!world_or.ok()) {
    std::fprintf(stderr, "error: %s\n", world_or.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Communicator> world = std::move(world_or).value();
  const int rank = world->rank(), n = world->size();
  const double bus_factor = n > 1 ? 2.0 * (n - 1) / n : 0.0;
  Table table({"size(B)", "count", "type", "impl", "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong"});
  long total_wrong = 0;
  for (size_t bytes = o.min_bytes; bytes <= o.max_bytes; bytes *= o.factor) {
    const size_t count = std::max<size_t>(1, bytes / sizeof(float));
    std::vector<float> x(count);
    for (int impl = 0; impl < 2; ++impl) {
      Status status = Status::OK();
      const double s = TimeIt(x, rank, o.iters, o.warmup, o.max_seconds_per_size, [&] {
        if (impl == 0) {
          status = world->AllReduce(x.data(), count, ReduceOp::kSum);
        } else {
          MPI_Allreduce(MPI_IN_PLACE, x.data(), (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        }
      });
      long wrong = status.ok() ? CountWrong(x, n) : (long)count;
      MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
      total_wrong += wrong;
      const double algbw = count * sizeof(float) / s / 1e9;
      table.AddRow({std::to_string(count * sizeof(float)), std::to_string(count), "float",
                    impl == 0 ? "meridian" : "MPI_Allreduce", Fixed(s * 1e6, 1), Fixed(algbw, 3),
                    Fixed(algbw * bus_factor, 3), std::to_string(wrong)});
    }
  }
  if (rank == 0) {
    std::printf("# meridian-bench allreduce: %d ranks, sum, float32, median of up to %d iterations\n", n, o.iters);
    std::printf("# busbw = algbw * 2(n-1)/n; time is the slowest rank's\n");
    std::printf("%s", table.ToString().c_str());
    std::printf("# %s: %ld wrong elements in all\n", total_wrong == 0 ? "ok" : "WRONG", total_wrong);
  }
  world.reset();
  return total_wrong == 0 ? 0 : 1;
}

}  // namespace

void AddAllReduceBenchmark(CLI::App& app, int* exit_code, int* argc, char*** argv) {
  auto o = std::make_shared<AllReduceOptions>();
  CLI::App* sub = app.add_subcommand("allreduce", "All-reduce bandwidth table (run under mpirun)");
  sub->add_option("--min-bytes", o->min_bytes);
  sub->add_option("--max-bytes", o->max_bytes);
  sub->add_option("--factor", o->factor, "Size step factor");
  sub->add_option("--iters", o->iters);
  sub->add_option("--warmup", o->warmup);
  sub->add_option("--max-seconds-per-size", o->max_seconds_per_size);
  sub->callback([o, exit_code, argc, argv]() { *exit_code = RunAllReduce(*o, argc, argv); });
}

}  // namespace meridian::bench
