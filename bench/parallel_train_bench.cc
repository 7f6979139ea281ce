#include "bench/parallel_train_bench.h"

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/table.h"
#include "common/random.h"
#include "runtime/comm/mpi_communicator.h"
#include "runtime/data/token_shard.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "runtime/train/trainer.h"

namespace meridian::bench {

namespace {

struct RunSummary {
  double ms = 0, compute_ms = 0, exposed_ms = 0, tokens_per_s = 0, gflops = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Result<RunSummary> RunOnce(const ParallelTrainBenchOptions& o, Communicator* world, bool overlap,
                           const std::string& metrics) {
  TrainOptions t;
  t.model = o.model;
  t.n_layer = o.n_layer;
  t.n_head = o.n_head;
  t.n_embd = o.n_embd;
  t.vocab = o.vocab;
  t.max_seq = o.seq;
  t.batch = o.batch;
  t.seq = o.seq;
  t.steps = o.warmup_steps + o.steps;
  t.lr = 1e-4f;
  t.data = o.workdir + "/train_*.bin";
  t.threads = o.threads;
  t.dp = o.dp;
  t.pp = o.pp;
  t.microbatches = o.microbatches;
  t.pp_schedule = o.pp_schedule;
  t.zero = o.zero;
  t.bucket_mb = o.bucket_mb;
  t.no_overlap = !overlap;
  t.metrics_out = world->rank() == 0 ? metrics : "";
  t.log_every = 1000000;
  if (world->rank() == 0) std::filesystem::remove(metrics);
  MERIDIAN_RETURN_IF_ERROR(ValidateTrainOptions(t));
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer, Trainer::Create(t, world));
  MERIDIAN_RETURN_IF_ERROR(trainer->Run());
  RunSummary s;
  if (world->rank() != 0) return s;
  std::vector<double> ms, compute, exposed, tps, gf;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (!r.is_object() || !r.contains("loss") || r["step"].get<long>() <= o.warmup_steps) continue;
    ms.push_back(r["ms_per_step"]);
    compute.push_back(r.value("compute_ms", 0.0));
    exposed.push_back(r.value("exposed_allreduce_ms", 0.0));
    tps.push_back(r["tokens_per_s"]);
    gf.push_back(r["gflops"]);
  }
  s = RunSummary{Median(ms), Median(compute), Median(exposed), Median(tps), Median(gf)};
  return s;
}

}  // namespace

int RunParallelTrainBenchmark(const ParallelTrainBenchOptions& o, int* argc, char*** argv) {
  auto world_or = MpiCommunicator::InitWorld(argc, argv);
  if (!world_or.ok()) {
    std::fprintf(stderr, "error: %s\n", world_or.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Communicator> world = std::move(world_or).value();
  const bool root = world->rank() == 0;
  if (root) {
    // Random tokens: four global windows, enough for the loader to cycle.
    std::filesystem::create_directories(o.workdir);
    Rng rng(7);
    std::vector<uint16_t> tokens((size_t)4 * o.dp * o.batch * o.seq + 1);
    for (uint16_t& tok : tokens) tok = (uint16_t)(rng.NextU64() % o.vocab);
    Status s = WriteTokenShard(o.workdir + "/train_000.bin", tokens);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  if (!world->Barrier().ok()) return 1;
  auto overlapped = RunOnce(o, world.get(), true, o.workdir + "/overlap.jsonl");
  auto blocking = overlapped.ok() ? RunOnce(o, world.get(), false, o.workdir + "/blocking.jsonl") : overlapped;
  if (!overlapped.ok() || !blocking.ok()) {
    std::fprintf(stderr, "error [rank %d]: %s\n", world->rank(),
                 (!overlapped.ok() ? overlapped.status() : blocking.status()).ToString().c_str());
    return 1;
  }
  if (root) {
    const RunSummary& a = *overlapped;
    const RunSummary& b = *blocking;
    const double bubble = a.ms > 0 ? std::max(0.0, 1.0 - a.compute_ms / a.ms) : 0.0;
    const double ideal = IdealBubbleFraction(o.pp, o.microbatches);
    const double hidden = (o.dp > 1 && o.zero == 0 && b.exposed_ms > 0)
                              ? std::clamp(1.0 - a.exposed_ms / b.exposed_ms, 0.0, 1.0)
                              : 0.0;
    std::printf("# meridian-bench train: dp %d x pp %d, %d micro-batches of %d x %d, %s, ZeRO-%d, %d threads/rank\n",
                o.dp, o.pp, o.microbatches, o.batch, o.seq, kPipelineSchedules.Name(o.pp_schedule), o.zero, o.threads);
    std::printf("# bubble = 1 - (rank 0 compute / step time); ideal = (p-1)/(m+p-1)\n");
    std::printf("# all-reduce wait: time in the gradient sync after backward; hidden = 1 - overlapped/blocking\n");
    Table t({"grad-sync", "ms/step", "tokens/s", "GFLOP/s", "compute-ms", "bubble", "ideal-bubble",
             "allreduce-wait-ms", "hidden"});
    t.AddRow({"overlapped", Fixed(a.ms, 1), Fixed(a.tokens_per_s, 0), Fixed(a.gflops, 1), Fixed(a.compute_ms, 1),
              Percent(bubble), Percent(ideal), Fixed(a.exposed_ms, 2), Percent(hidden)});
    t.AddRow({"after-backward", Fixed(b.ms, 1), Fixed(b.tokens_per_s, 0), Fixed(b.gflops, 1),
              Fixed(b.compute_ms, 1), Percent(b.ms > 0 ? std::max(0.0, 1.0 - b.compute_ms / b.ms) : 0.0),
              Percent(ideal), Fixed(b.exposed_ms, 2), "-"});
    std::printf("%s", t.ToString().c_str());
    if (o.json) {
      nlohmann::json j = {{"bench", "train-parallel"}, {"dp", o.dp}, {"pp", o.pp}, {"microbatches", o.microbatches},
                          {"ms_per_step", a.ms}, {"bubble", bubble}, {"ideal_bubble", ideal},
                          {"allreduce_wait_ms", a.exposed_ms}, {"allreduce_blocking_ms", b.exposed_ms},
                          {"hidden_share", hidden}};
      std::printf("%s\n", j.dump().c_str());
    }
  }
  return 0;
}

}  // namespace meridian::bench
