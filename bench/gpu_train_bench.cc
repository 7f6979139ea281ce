#include "bench/gpu_train_bench.h"

#include <cstdio>

#ifdef MERIDIAN_BENCH_CUDA

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_config.h"
#include "bench/loss_check.h"
#include "bench/table.h"
#include "common/random.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/stream.h"
#include "runtime/model/flops.h"
#include "runtime/model/gpt_model.h"
#include "runtime/train/device_step.h"

namespace meridian::bench {

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median TFLOP/s of a storage-type GEMM C(M,N) = A(M,K) B(N,K)^T.
template <typename T>
Result<double> MeasureGemm(int M, int N, int K, int reps) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<cuda::MatmulContext> ctx, cuda::MatmulContext::Create());
  cuda::DeviceBuffer<T> a, b, c;
  MERIDIAN_RETURN_IF_ERROR(a.Allocate((size_t)M * K));
  MERIDIAN_RETURN_IF_ERROR(b.Allocate((size_t)N * K));
  MERIDIAN_RETURN_IF_ERROR(c.Allocate((size_t)M * N));
  cudaStream_t s = cuda::ComputeStream();
  // Small values: the rate must not depend on overflowing inputs.
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(a.data(), 0x3C, a.bytes(), s));
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(b.data(), 0x3C, b.bytes(), s));
  std::vector<double> times;
  for (int r = 0; r < reps + 2; ++r) {
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) MERIDIAN_RETURN_IF_ERROR(cuda::Gemm<T>(ctx.get(), c.data(), a.data(), b.data(), M, N, K, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 10;
    if (r >= 2) times.push_back(sec);
  }
  return 2.0 * M * N * K / Median(times) / 1e12;
}

}  // namespace

int RunGpuTrainBenchmark(const GpuTrainBenchOptions& o) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 1;
  };
  if (cuda::DeviceCount() == 0) return fail(Status::FailedPrecondition("--device cuda: no CUDA device on this machine"));
  Result<GPTConfig> config = BenchModelConfig(o.model, o.n_layer, o.n_head, o.n_embd, o.vocab, o.seq);
  if (!config.ok()) return fail(config.status());
  const GPTConfig c = *config;
  if (Status s = cuda::InitializeDevice(0); !s.ok()) return fail(s);
  cudaDeviceProp prop{};
  if (Status s = cuda::CudaStatus(cudaGetDeviceProperties(&prop, 0), __FILE__, __LINE__); !s.ok()) return fail(s);
  const double peak = o.peak_tflops > 0 ? o.peak_tflops : cuda::DenseBf16PeakTflops(prop.name);

  // The ceiling: the model's widest matmul (the MLP's C -> 4C over every
  // token of the batch), in the storage type the step computes in.
  const int BT = o.batch * o.seq;
  Result<double> gemm = o.dtype == DType::kBf16 ? MeasureGemm<cuda::bf16>(BT, 4 * c.n_embd, c.n_embd, 5)
                                          : MeasureGemm<float>(BT, 4 * c.n_embd, c.n_embd, 5);
  if (!gemm.ok()) return fail(gemm.status());

  DeviceStepOptions d;
  d.dtype = o.dtype;
  d.max_batch = o.batch;
  d.max_seq = o.seq;
  auto created = CreateCudaStep(c, d);
  if (!created.ok()) return fail(created.status());
  DeviceStep& step = **created;
  {
    GPTModel host(c, WholeModel(c), 0, 0, 0);  // weights only
    host.InitializeWeights(1337);
    if (Status s = step.Upload(host.params(), nullptr, nullptr); !s.ok()) return fail(s);
  }
  Rng rng(42);
  std::vector<int> inputs((size_t)BT), targets(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i] = (int)(rng.NextU64() % c.vocab_size);
    targets[i] = (int)(rng.NextU64() % c.vocab_size);
  }
  std::vector<double> times, losses;
  for (int s = 0; s < o.warmup_steps + o.steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = step.ZeroGrads();
    if (st.ok()) st = step.Forward(0, inputs.data(), nullptr, targets.data(), o.batch, o.seq, true);
    if (st.ok()) st = step.AddLoss(0);
    if (st.ok()) st = step.Backward(0, nullptr);
    Result<double> norm = st.ok() ? step.GradSumOfSquares(0, step.layout().total()) : Result<double>(st);
    if (!norm.ok()) return fail(norm.status());
    const double n = std::sqrt(*norm);
    st = step.OptimizerStep(1e-4f, n > 1.0 ? (float)(1.0 / n) : 1.0f, s + 1);
    Result<double> loss = st.ok() ? step.TakeLossSum() : Result<double>(st);  // waits for the step
    if (!loss.ok()) return fail(loss.status());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    losses.push_back(*loss);
    if (s >= o.warmup_steps) times.push_back(ms);
  }
  size_t free_bytes = 0, total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  const double used_gib = (double)(total_bytes - free_bytes) / 1073741824.0;

  const double ms = Median(times);
  const double flops = TrainingFlopsPerToken(c, o.seq) * BT;
  const double tflops = flops / (ms / 1e3) / 1e12;
  // Correctness in the same run (loss_check.h).
  const double expected0 = std::log((double)c.vocab_size);
  const bool loss_ok = FreshTrainingLossesLookRight(losses, c.vocab_size);

  std::printf("# meridian-bench train --device cuda: %s, %s, batch %d, seq %d, median of %d steps after %d warm-up\n",
              DescribeConfig(c).c_str(), kDTypes.Name(o.dtype), o.batch, o.seq, o.steps, o.warmup_steps);
  std::printf("# card: %s, %.0f GiB; dense bf16 peak %.1f TFLOP/s%s\n", prop.name, total_bytes / 1073741824.0, peak,
              o.peak_tflops > 0 ? " (given)" : peak > 0 ? " (data sheet)" : " (unknown: pass --peak-tflops)");
  std::printf("# cuBLASLt %s GEMM %d x %d x %d: %.1f TFLOP/s (median of 5 x 10)\n", kDTypes.Name(o.dtype), BT,
              4 * c.n_embd, c.n_embd, *gemm);
  std::printf("# FLOPs per step: %.4g (6*N*tokens + 12*L*C*T*tokens), N = %zu; %s\n", flops, NumParameters(c),
              step.Describe().c_str());
  Table table({"impl", "ms/step", "tokens/s", "TFLOP/s", "MFU", "of-GEMM", "GPU-mem-GiB", "check"});
  table.AddRow({"meridian", Fixed(ms, 2), Fixed(BT / (ms / 1e3), 0), Fixed(tflops, 1),
                peak > 0 ? Percent(tflops / peak) : "-", Percent(tflops / *gemm), Fixed(used_gib, 1),
                loss_ok ? "ok" : "WRONG"});
  std::printf("%s", table.ToString().c_str());
  if (!loss_ok) {
    std::printf("# WRONG: first loss %.4f (expected ln V = %.4f to ln V + 1), last %.4f\n", losses.front(), expected0,
                losses.back());
  }
  if (o.json) {
    nlohmann::json j = {{"bench", "train"},   {"device", prop.name}, {"config", DescribeConfig(c)},
                        {"dtype", kDTypes.Name(o.dtype)},   {"batch", o.batch},    {"seq", o.seq},
                        {"ms_per_step", ms},  {"tokens_per_s", BT / (ms / 1e3)}, {"tflops", tflops},
                        {"peak_tflops", peak}, {"gemm_tflops", *gemm}, {"gpu_mem_gib", used_gib},
                        {"loss_first", losses.front()}, {"loss_last", losses.back()}, {"loss_ok", loss_ok}};
    std::printf("%s\n", j.dump().c_str());
  }
  return loss_ok ? 0 : 1;
}

}  // namespace meridian::bench

#else  // no CUDA in this build

namespace meridian::bench {

int RunGpuTrainBenchmark(const GpuTrainBenchOptions&) {
  std::fprintf(stderr, "error: --device cuda: this meridian-bench was built without CUDA\n");
  return 1;
}

}  // namespace meridian::bench

#endif
