#include "bench/checkpoint_bench.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "bench/table.h"
#include "common/random.h"
#include "runtime/comm/mpi_communicator.h"
#include "runtime/model/gpt_config.h"
#include "runtime/train/checkpointer.h"

namespace meridian::bench {

namespace {

struct CheckpointBenchOptions {
  std::vector<std::string> models = {"d4", "d12"};
  std::string dir = "/tmp/meridian-checkpoint-bench";
  int repeats = 3;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The slowest rank's time counts.
double Slowest(double s) {
  MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One data-parallel replica's training state: weights and AdamW moments
// of the whole model (dp = world size, pp 1, no ZeRO), the same on every
// rank as in training.
struct ReplicaState {
  std::vector<float> params, m, v;
};

ReplicaState MakeState(size_t n) {
  ReplicaState s;
  Rng rng(1234);
  s.params.resize(n);
  s.m.resize(n);
  s.v.resize(n);
  for (size_t i = 0; i < n; ++i) {
    s.params[i] = (float)rng.Uniform() - 0.5f;
    s.m[i] = 1e-3f * ((float)rng.Uniform() - 0.5f);
    s.v[i] = 1e-6f * (float)rng.Uniform();
  }
  return s;
}

struct Timing {
  double stall = 0, durable = 0, load = 0;
  bool exact = true;
};

Result<Timing> SaveAndLoad(const GPTConfig& config, const ReplicaState& state, bool sharded, const std::string& dir,
                           Communicator* world) {
  const ParameterLayout whole(config, WholeModel(config));
  const size_t n = whole.total();
  CheckpointerOptions o;
  o.dir = dir;
  o.sharded = sharded;
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Checkpointer> ckpt, Checkpointer::Create(o, whole, whole, world));
  CheckpointHeader h;
  h.config = config;
  h.step = 1;
  h.arrays = {"model", "adam_m", "adam_v"};
  const size_t b = n * world->rank() / world->size(), e = n * (world->rank() + 1) / world->size();
  const std::vector<HeldArray> held = {{"model", state.params.data(), 0, n, b, e},
                                       {"adam_m", state.m.data(), 0, n, b, e},
                                       {"adam_v", state.v.data(), 0, n, b, e}};
  // The whole path, as the trainer's at pp 1: rank 0 holds every tensor
  // and copies them out to write them.
  auto gather = [&](TrainingCheckpoint* out) -> Status {
    if (world->rank() == 0) {
      out->params = state.params;
      out->adam_m = state.m;
      out->adam_v = state.v;
    }
    return Status::OK();
  };
  Timing t;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = Now();
  MERIDIAN_RETURN_IF_ERROR(ckpt->Save(h, held, gather));
  t.stall = Slowest(Now() - t0);
  MERIDIAN_RETURN_IF_ERROR(ckpt->Wait());
  t.durable = Slowest(Now() - t0);

  ReplicaState loaded;
  loaded.params.resize(n);
  loaded.m.resize(n);
  loaded.v.resize(n);
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = Now();
  Result<std::string> from = ckpt->RestoreNewest([&](CheckpointReader& r) -> Status {
    MERIDIAN_RETURN_IF_ERROR(ckpt->ReadStageRange(r, "model", 0, n, loaded.params.data()));
    MERIDIAN_RETURN_IF_ERROR(ckpt->ReadStageRange(r, "adam_m", 0, n, loaded.m.data()));
    return ckpt->ReadStageRange(r, "adam_v", 0, n, loaded.v.data());
  });
  if (!from.ok()) return from.status();
  t.load = Slowest(Now() - t0);
  int wrong = std::memcmp(loaded.params.data(), state.params.data(), n * 4) != 0 ||
              std::memcmp(loaded.m.data(), state.m.data(), n * 4) != 0 ||
              std::memcmp(loaded.v.data(), state.v.data(), n * 4) != 0;
  MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  t.exact = wrong == 0;
  return t;
}

int RunCheckpointBench(const CheckpointBenchOptions& o, int* argc, char*** argv) {
  auto world_or = MpiCommunicator::InitWorld(argc, argv);
  if (!world_or.ok()) {
    std::fprintf(stderr, "error: %s\n", world_or.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Communicator> world = std::move(world_or).value();
  const int rank = world->rank(), ranks = world->size();
  Table table({"model", "params", "MB", "ranks", "format", "step-stall(s)", "durable(s)", "write(MB/s)", "load(s)",
               "exact"});
  bool all_exact = true;
  for (const std::string& name : o.models) {
    Result<GPTConfig> config = PresetConfig(name);
    if (!config.ok()) {
      if (rank == 0) std::fprintf(stderr, "error: %s\n", config.status().ToString().c_str());
      return 2;
    }
    const size_t n = NumParameters(*config);
    const ReplicaState state = MakeState(n);
    const double mb = 3.0 * n * sizeof(float) / 1e6;
    for (bool sharded : {false, true}) {
      std::vector<double> stall, durable, load;
      bool exact = true;
      for (int r = 0; r < o.repeats; ++r) {
        const std::string dir = o.dir + "/" + name + (sharded ? "-sharded-" : "-whole-") + std::to_string(r);
        if (rank == 0) std::filesystem::remove_all(dir);
        MPI_Barrier(MPI_COMM_WORLD);
        Result<Timing> t = SaveAndLoad(*config, state, sharded, dir, world.get());
        if (!t.ok()) {
          std::fprintf(stderr, "error: [rank %d] %s\n", rank, t.status().ToString().c_str());
          return 1;
        }
        stall.push_back(t->stall);
        durable.push_back(t->durable);
        load.push_back(t->load);
        exact &= t->exact;
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) std::filesystem::remove_all(dir);
      }
      all_exact &= exact;
      table.AddRow({name, std::to_string(n), Fixed(mb, 0), std::to_string(ranks),
                    sharded ? "sharded" : "whole", Fixed(Median(stall), 3), Fixed(Median(durable), 3),
                    Fixed(mb / Median(durable), 0), Fixed(Median(load), 3), exact ? "yes" : "NO"});
    }
  }
  if (rank == 0) {
    std::printf("# meridian-bench checkpoint: weights + AdamW moments (float32) of every replica of a dp %d x pp 1 "
                "job; median of %d; times are the slowest rank's\n", ranks, o.repeats);
    std::printf("# step-stall: until Save returns (training goes on); durable: until the checkpoint is published\n");
    std::printf("%s", table.ToString().c_str());
  }
  world.reset();
  return all_exact ? 0 : 1;
}

}  // namespace

void AddCheckpointBenchmark(CLI::App& app, int* exit_code, int* argc, char*** argv) {
  auto o = std::make_shared<CheckpointBenchOptions>();
  CLI::App* sub = app.add_subcommand("checkpoint", "Checkpoint save/load times, whole vs sharded (run under mpirun)");
  sub->add_option("--models", o->models, "Presets to save")->capture_default_str();
  sub->add_option("--dir", o->dir, "Where to write (the same path on every rank)")->capture_default_str();
  sub->add_option("--repeats", o->repeats)->check(CLI::Range(1, 100))->capture_default_str();
  sub->callback([o, exit_code, argc, argv]() { *exit_code = RunCheckpointBench(*o, argc, argv); });
}

}  // namespace meridian::bench
