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
  ModelOverrides overrides;  // --arch, shapes, --tie-embeddings on top of the preset
  int vocab = 0;             // 0: the preset's
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

// Median milliseconds of one step and of its phases: forward with the loss,
// backward, optimizer (with zeroing the gradients).
struct StepTimes {
  double step = 0, forward = 0, backward = 0, optimizer = 0;
};

struct PeerResult {
  bool ok = false;
  StepTimes ms;
  size_t params = 0;
  std::string note;
};

// The peer's command line: the same model in plain PyTorch, GPT-2 or Llama.
std::string PeerCommand(const TrainBenchOptions& o, const GPTConfig& c) {
  auto arg = [](const char* name, auto value) { return std::string(" --") + name + " " + std::to_string(value); };
  std::string cmd = o.peer_python + " " MERIDIAN_SOURCE_DIR "/bench/peers/" +
                    (c.llama() ? "pytorch_llama_step.py" : "pytorch_gpt2_step.py") + arg("n-layer", c.n_layer) +
                    arg("n-head", c.n_head) + arg("n-embd", c.n_embd) + arg("vocab", c.vocab_size);
  if (c.llama()) {
    char theta[32], eps[32];
    std::snprintf(theta, sizeof theta, "%.17g", c.rope_theta);
    std::snprintf(eps, sizeof eps, "%.9g", (double)c.norm_eps);
    cmd += arg("n-kv-head", c.kv_heads()) + arg("ffn-hidden", c.ffn_size()) + " --rope-theta " + theta +
           " --norm-eps " + eps + " --tie-embeddings " + (c.tie_embeddings ? "true" : "false");
    if (c.rope_scaling.enabled()) {
      const RopeScaling& r = c.rope_scaling;
      char scaling[128];
      std::snprintf(scaling, sizeof scaling, "%.17g,%.17g,%.17g,%d", r.factor, r.low_freq_factor, r.high_freq_factor,
                    r.original_max_position_embeddings);
      cmd += std::string(" --rope-scaling ") + scaling;
    }
  }
  return cmd + arg("batch", o.batch) + arg("seq", o.seq) + arg("threads", o.threads) +
         arg("warmup-steps", o.warmup_steps) + arg("steps", o.steps) + " 2>&1";
}

PeerResult RunPyTorchPeer(const TrainBenchOptions& o, const GPTConfig& c) {
  PeerResult r;
  const std::string cmd = PeerCommand(o, c);
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
    r.ms.step = j.at("ms_per_step_median").get<double>();
    r.ms.forward = j.value("forward_ms_median", 0.0);
    r.ms.backward = j.value("backward_ms_median", 0.0);
    r.ms.optimizer = j.value("optimizer_ms_median", 0.0);
    r.params = j.value("params", size_t{0});
    r.note = "torch " + j.value("torch", std::string("?"));
    r.ok = true;
  } catch (const std::exception& e) {
    r.note = std::string("could not parse the peer's output: ") + e.what();
  }
  return r;
}

int RunTrainBenchmark(const TrainBenchOptions& o) {
  Result<GPTConfig> config = BenchModelConfig(o.model, o.overrides, o.vocab, o.seq);
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
  std::vector<double> times, forward_times, backward_times, optimizer_times, losses;
  ProgressBar bar("meridian " + DescribeConfig(c) + " steps", o.warmup_steps + o.steps, ProgressBar::Unit::kItems);
  using Clock = std::chrono::steady_clock;
  auto ms_between = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  for (int s = 0; s < o.warmup_steps + o.steps; ++s, bar.Advance(1)) {
    const auto t0 = Clock::now();
    model.ZeroGrads();
    model.Forward(inputs.data(), nullptr, targets.data(), o.batch, o.seq, true);
    const auto t1 = Clock::now();
    model.Backward(nullptr);
    const auto t2 = Clock::now();
    opt.Step(model.params(), model.grads(), 1e-3f, 1.0f);
    const auto t3 = Clock::now();
    losses.push_back(model.mean_loss());
    if (s >= o.warmup_steps) {
      times.push_back(ms_between(t0, t3));
      forward_times.push_back(ms_between(t0, t1));
      backward_times.push_back(ms_between(t1, t2));
      optimizer_times.push_back(ms_between(t2, t3));
    }
  }
  bar.Finish();
  const StepTimes mine{Median(times), Median(forward_times), Median(backward_times), Median(optimizer_times)};
  const double ms = mine.step;
  const double flops = TrainingFlopsPerToken(c, o.seq) * o.batch * o.seq;
  const double gflops = flops / (ms / 1e3) / 1e9;

  // Correctness in the same run (loss_check.h).
  const double expected0 = std::log((double)c.vocab_size);
  const bool loss_ok = FreshTrainingLossesLookRight(losses, c.vocab_size);

  PeerResult peer;
  if (o.peer == "pytorch") peer = RunPyTorchPeer(o, c);
  // The peer must have built the same model: the same parameter count.
  const bool peer_same_model = peer.ok && peer.params == model.num_params();

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
    const double pg = flops / (peer.ms.step / 1e3) / 1e9;
    table.AddRow({"pytorch", Fixed(peer.ms.step, 1), Fixed(o.batch * o.seq / (peer.ms.step / 1e3), 0), Fixed(pg, 1),
                  Percent(pg / ceiling.gflops), Fixed(ms / peer.ms.step, 2) + "x", "-",
                  peer_same_model ? peer.note : "WRONG: " + std::to_string(peer.params) + " parameters"});
  }
  std::printf("%s", table.ToString().c_str());
  if (peer.ok) {
    // Where the time goes: each phase's median, so it does not add up to the
    // step's median exactly.
    Table phases({"phase", "meridian-ms", "pytorch-ms", "pytorch/meridian"});
    auto add = [&](const char* name, double a, double b) {
      phases.AddRow({name, Fixed(a, 1), Fixed(b, 1), b > 0 ? Fixed(b / a, 2) + "x" : "-"});
    };
    add("forward", mine.forward, peer.ms.forward);
    add("backward", mine.backward, peer.ms.backward);
    add("optimizer", mine.optimizer, peer.ms.optimizer);
    std::printf("# phases (median of each; forward includes the loss, optimizer the gradient zeroing)\n%s",
                phases.ToString().c_str());
    if (peer.ms.step >= ms) {
      std::printf("# meridian is %.2fx faster than pytorch on this step\n", peer.ms.step / ms);
    } else {
      std::printf("# meridian is %.2fx slower than pytorch on this step\n", ms / peer.ms.step);
    }
  }
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
    j["phases_ms"] = {{"forward", mine.forward}, {"backward", mine.backward}, {"optimizer", mine.optimizer}};
    if (peer.ok) {
      j["pytorch_ms_per_step"] = peer.ms.step;
      j["pytorch_phases_ms"] = {
          {"forward", peer.ms.forward}, {"backward", peer.ms.backward}, {"optimizer", peer.ms.optimizer}};
      j["pytorch_same_model"] = peer_same_model;
    }
    std::printf("%s\n", j.dump().c_str());
  }
  if (peer.ok && !peer_same_model) {
    std::printf("# WRONG: the pytorch peer has %zu parameters, meridian %zu\n", peer.params, model.num_params());
  }
  return loss_ok && (!peer.ok || peer_same_model) ? 0 : 1;
}

}  // namespace

void AddTrainBenchmark(CLI::App& app, int* exit_code, int* argc, char*** argv) {
  auto o = std::make_shared<TrainBenchOptions>();
  auto p = std::make_shared<ParallelTrainBenchOptions>();
  auto g = std::make_shared<GpuTrainBenchOptions>();
  auto device = std::make_shared<std::string>("cpu");
  CLI::App* sub = app.add_subcommand("train", "Time full training steps against the sgemm ceiling and PyTorch");
  sub->add_option("--model", o->model, std::string("Preset: ") + PresetChoices());
  sub->add_option("--arch", o->overrides.arch, "Architecture, gpt2 or llama (default: the preset's; cpu only)");
  sub->add_option("--n-layer", o->overrides.n_layer, "Override the preset's layers");
  sub->add_option("--n-head", o->overrides.n_head, "Override the preset's heads");
  sub->add_option("--n-embd", o->overrides.n_embd, "Override the preset's width");
  sub->add_option("--n-kv-head", o->overrides.n_kv_head, "Llama: key/value heads (cpu only)");
  sub->add_option("--ffn-hidden", o->overrides.ffn_hidden, "Llama: the MLP's hidden width (cpu only)");
  sub->add_option("--rope-theta", o->overrides.rope_theta, "Llama: the rotary base (cpu only)");
  sub->add_option("--tie-embeddings", o->overrides.tie_embeddings, "Llama: true or false (cpu only)");
  sub->add_option("--vocab", o->vocab, "Vocabulary size (default: the preset's)");
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
    const ModelOverrides& m = o->overrides;
    const bool cpu_step = *device != "cuda" && p->dp * p->pp * p->microbatches == 1;
    if (!cpu_step && (!m.arch.empty() || m.n_kv_head || m.ffn_hidden || m.rope_theta || !m.tie_embeddings.empty())) {
      std::fprintf(stderr, "error: --arch, --n-kv-head, --ffn-hidden, --rope-theta and --tie-embeddings apply to the "
                           "one-process CPU step only (use a preset such as --model llama-tiny)\n");
      *exit_code = 2;
      return;
    }
    if (*device == "cuda") {
      g->model = o->model;
      g->n_layer = m.n_layer;
      g->n_head = m.n_head;
      g->n_embd = m.n_embd;
      g->vocab = o->vocab;
      g->batch = o->batch;
      g->seq = o->seq;
      g->steps = o->steps;
      g->warmup_steps = o->warmup_steps;
      g->json = o->json;
      *exit_code = RunGpuTrainBenchmark(*g);
      return;
    }
    if (cpu_step) {
      *exit_code = RunTrainBenchmark(*o);
      return;
    }
    // The parallel mode runs the real trainer on every rank; it draws tokens
    // below the vocabulary, so it needs the preset's spelled out.
    Result<GPTConfig> preset = PresetConfig(o->model);
    if (!preset.ok()) {
      std::fprintf(stderr, "error: %s\n", preset.status().message().c_str());
      *exit_code = 2;
      return;
    }
    p->model = o->model;
    p->n_layer = m.n_layer;
    p->n_head = m.n_head;
    p->n_embd = m.n_embd;
    p->vocab = o->vocab > 0 ? o->vocab : preset->vocab_size;
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
