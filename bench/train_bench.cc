#include "bench/train_bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <map>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_config.h"
#include "bench/gpu_train_bench.h"
#include "bench/parallel_train_bench.h"
#include "bench/sgemm_ceiling.h"
#include "bench/loss_check.h"
#include "bench/table.h"
#include "common/progress_bar.h"
#include "common/random.h"
#include "kernels/cpu/blas.h"
#include "runtime/model/flops.h"
#include "runtime/model/gpt_model.h"
#include "runtime/optim/adamw_optimizer.h"

#ifndef MERIDIAN_SOURCE_DIR
#define MERIDIAN_SOURCE_DIR "."
#endif

namespace meridian::bench {

namespace {

struct TrainBenchOptions {
  std::string model = "d4";
  int n_layer = 0, n_head = 0, n_embd = 0;
  int vocab = 50257;
  int batch = 4, seq = 64, threads = 2;
  int steps = 10, warmup_steps = 2;
  int sgemm_size = 2048;
  std::string peer = "pytorch";
  std::string peer_python = "/usr/bin/python3";
  bool json = false;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

long PeakRssMiB() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

struct PeerResult {
  bool ok = false;
  double ms = 0;
  std::string note;
};

PeerResult RunPyTorchPeer(const TrainBenchOptions& o, const GPTConfig& c) {
  PeerResult r;
  const std::string cmd = o.peer_python + " " MERIDIAN_SOURCE_DIR "/bench/peers/pytorch_gpt2_step.py" +
                          " --n-layer " + std::to_string(c.n_layer) + " --n-head " + std::to_string(c.n_head) +
                          " --n-embd " + std::to_string(c.n_embd) + " --vocab " + std::to_string(c.vocab_size) +
                          " --batch " + std::to_string(o.batch) + " --seq " + std::to_string(o.seq) +
                          " --threads " + std::to_string(o.threads) + " --warmup-steps " +
                          std::to_string(o.warmup_steps) + " --steps " + std::to_string(o.steps) + " 2>&1";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    r.note = "could not start " + o.peer_python;
    return r;
  }
  std::string out;
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  const int rc = pclose(pipe);
  const size_t brace = out.rfind("{\"impl\"");
  if (rc != 0 || brace == std::string::npos) {
    r.note = "peer failed (exit " + std::to_string(rc) + "): " + out.substr(0, 300);
    return r;
  }
  try {
    nlohmann::json j = nlohmann::json::parse(out.substr(brace, out.find('\n', brace) - brace));
    r.ms = j.at("ms_per_step_median").get<double>();
    r.note = "torch " + j.value("torch", std::string("?"));
    r.ok = true;
  } catch (const std::exception& e) {
    r.note = std::string("could not parse the peer's output: ") + e.what();
  }
  return r;
}

int RunTrainBenchmark(const TrainBenchOptions& o) {
  Result<GPTConfig> config = BenchModelConfig(o.model, o.n_layer, o.n_head, o.n_embd, o.vocab, o.seq);
  if (!config.ok()) {
    std::fprintf(stderr, "error: %s\n", config.status().message().c_str());
    return 2;
  }
  const GPTConfig c = *config;

  const SgemmCeiling ceiling = MeasureSgemmCeiling(o.sgemm_size, o.threads, 5);

  omp_set_num_threads(o.threads);
  cpu::SetBlasThreads(o.threads);
  GPTModel model(c, WholeModel(c), o.batch, o.seq);
  model.InitializeWeights(1337);
  AdamWOptimizer opt(model.layout(), AdamWConfig{});
  Rng rng(42);
  std::vector<int> inputs((size_t)o.batch * o.seq), targets(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i] = (int)(rng.NextU64() % c.vocab_size);
    targets[i] = (int)(rng.NextU64() % c.vocab_size);
  }
  std::vector<double> times, losses;
  ProgressBar bar("meridian " + DescribeConfig(c) + " steps", o.warmup_steps + o.steps, ProgressBar::Unit::kItems);
  for (int s = 0; s < o.warmup_steps + o.steps; ++s, bar.Advance(1)) {
    const auto t0 = std::chrono::steady_clock::now();
    model.ZeroGrads();
    model.Forward(inputs.data(), nullptr, targets.data(), o.batch, o.seq, true);
    model.Backward(nullptr);
    opt.Step(model.params(), model.grads(), 1e-3f, 1.0f);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    losses.push_back(model.mean_loss());
    if (s >= o.warmup_steps) times.push_back(ms);
  }
  bar.Finish();
  const double ms = Median(times);
  const double flops = TrainingFlopsPerToken(c, o.seq) * o.batch * o.seq;
  const double gflops = flops / (ms / 1e3) / 1e9;

  // Correctness in the same run (loss_check.h).
  const double expected0 = std::log((double)c.vocab_size);
  const bool loss_ok = FreshTrainingLossesLookRight(losses, c.vocab_size);

  PeerResult peer;
  if (o.peer == "pytorch") peer = RunPyTorchPeer(o, c);

  std::printf("# meridian-bench train: %s, batch %d, seq %d, %d threads, median of %d steps after %d warm-up\n",
              DescribeConfig(c).c_str(), o.batch, o.seq, o.threads, o.steps, o.warmup_steps);
  std::printf("# sgemm ceiling: %.1f GFLOP/s (%d^3 float32, %d threads, median of 5)\n", ceiling.gflops,
              ceiling.size, ceiling.threads);
  std::printf("# FLOPs per step: %.3g (6*N*tokens + 12*L*C*T*tokens), N = %zu parameters\n", flops,
              model.num_params());
  Table table({"impl", "ms/step", "tokens/s", "GFLOP/s", "of-sgemm", "speedup", "peak-RSS-MiB", "check"});
  table.AddRow({"meridian", Fixed(ms, 1), Fixed(o.batch * o.seq / (ms / 1e3), 0), Fixed(gflops, 1),
                Percent(gflops / ceiling.gflops), "1.00x", std::to_string(PeakRssMiB()), loss_ok ? "ok" : "WRONG"});
  if (peer.ok) {
    const double pg = flops / (peer.ms / 1e3) / 1e9;
    table.AddRow({"pytorch", Fixed(peer.ms, 1), Fixed(o.batch * o.seq / (peer.ms / 1e3), 0), Fixed(pg, 1),
                  Percent(pg / ceiling.gflops), Fixed(ms / peer.ms, 2) + "x", "-", peer.note});
  }
  std::printf("%s", table.ToString().c_str());
  if (peer.ok) std::printf("# meridian is %.2fx faster than pytorch on this step\n", peer.ms / ms);
  if (!peer.ok && o.peer != "none") std::printf("# pytorch peer: %s\n", peer.note.c_str());
  if (!loss_ok) {
    std::printf("# WRONG: first loss %.4f (expected ln V = %.4f to ln V + 1), last %.4f\n", losses.front(), expected0,
                losses.back());
  }
  if (o.json) {
    nlohmann::json j = {{"bench", "train"},     {"config", DescribeConfig(c)}, {"batch", o.batch},
                        {"seq", o.seq},         {"threads", o.threads},        {"ms_per_step", ms},
                        {"gflops", gflops},     {"sgemm_gflops", ceiling.gflops},
                        {"peak_rss_mib", PeakRssMiB()}, {"loss_ok", loss_ok}};
    if (peer.ok) j["pytorch_ms_per_step"] = peer.ms;
    std::printf("%s\n", j.dump().c_str());
  }
  return loss_ok ? 0 : 1;
}

}  // namespace

void AddTrainBenchmark(CLI::App& app, int* exit_code, int* argc, char*** argv) {
  auto o = std::make_shared<TrainBenchOptions>();
  auto p = std::make_shared<ParallelTrainBenchOptions>();
  auto g = std::make_shared<GpuTrainBenchOptions>();
  auto device = std::make_shared<std::string>("cpu");
  CLI::App* sub = app.add_subcommand("train", "Time full training steps against the sgemm ceiling and PyTorch");
  sub->add_option("--model", o->model, "Preset (d4, d12, ...)");
  sub->add_option("--n-layer", o->n_layer);
  sub->add_option("--n-head", o->n_head);
  sub->add_option("--n-embd", o->n_embd);
  sub->add_option("--vocab", o->vocab);
  sub->add_option("--batch", o->batch);
  sub->add_option("--seq", o->seq);
  sub->add_option("--threads", o->threads);
  sub->add_option("--steps", o->steps, "Timed steps");
  sub->add_option("--warmup-steps", o->warmup_steps);
  sub->add_option("--sgemm-size", o->sgemm_size, "Size of the square sgemm that measures the ceiling");
  sub->add_option("--peer", o->peer, "pytorch or none");
  sub->add_option("--peer-python", o->peer_python, "Python with torch for the peer");
  sub->add_flag("--json", o->json, "Also print one JSON line");
  sub->add_option("--device", *device, "cpu, or cuda (one GPU; MFU against its bf16 peak and a cuBLASLt GEMM)");
  sub->add_option("--dtype", g->dtype, "fp32 or bf16 (cuda)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, DType>{{"fp32", DType::kFp32}, {"bf16", DType::kBf16}}));
  sub->add_option("--peak-tflops", g->peak_tflops, "The card's dense bf16 peak when its name is not known (cuda)");
  sub->add_option("--dp", p->dp, "Data-parallel replicas (under mpirun)");
  sub->add_option("--pp", p->pp, "Pipeline stages (under mpirun)");
  sub->add_option("--microbatches", p->microbatches, "Micro-batches per step (parallel mode)");
  sub->add_option("--pp-schedule", p->pp_schedule, "1f1b or gpipe (parallel mode)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, PipelineScheduleKind>{
          {"1f1b", PipelineScheduleKind::k1F1B}, {"gpipe", PipelineScheduleKind::kGPipe}}));
  sub->add_option("--zero", p->zero, "ZeRO stage 0 or 1 (parallel mode)");
  sub->add_option("--bucket-mb", p->bucket_mb, "Gradient bucket size (parallel mode)");
  sub->add_option("--workdir", p->workdir, "Scratch folder for the parallel mode's token shard");
  sub->callback([o, p, g, device, exit_code, argc, argv]() {
    if (*device == "cuda") {
      g->model = o->model;
      g->n_layer = o->n_layer;
      g->n_head = o->n_head;
      g->n_embd = o->n_embd;
      g->vocab = o->vocab;
      g->batch = o->batch;
      g->seq = o->seq;
      g->steps = o->steps;
      g->warmup_steps = o->warmup_steps;
      g->json = o->json;
      *exit_code = RunGpuTrainBenchmark(*g);
      return;
    }
    if (p->dp * p->pp * p->microbatches == 1) {
      *exit_code = RunTrainBenchmark(*o);
      return;
    }
    // The parallel mode runs the real trainer on every rank.
    p->model = o->model;
    p->n_layer = o->n_layer;
    p->n_head = o->n_head;
    p->n_embd = o->n_embd;
    p->vocab = o->vocab;
    p->batch = o->batch;
    p->seq = o->seq;
    p->threads = o->threads;
    p->steps = o->steps;
    p->warmup_steps = o->warmup_steps;
    p->json = o->json;
    *exit_code = RunParallelTrainBenchmark(*p, argc, argv);
  });
}

}  // namespace meridian::bench
