// GPU pipeline stages on one device against the CPU pipeline of the same
// layout: the model split into pp 2 and pp 4 stages (CreateCudaStep with a
// stage and PipelineSlots slots, behind DeviceStageExecutor), run through
// the 1F1B and GPipe schedules with the boundary activations and gradients
// handed from stage to stage in device memory, must give the CPU stages'
// loss and every stage's gradients, for GPT-2 and for Llama (grouped-query
// attention; head untied, so lm_head lives on the last stage and wte on the
// first only, and tied). NCCL refuses two ranks on one GPU, so
// one thread plays every stage here, taking each stage's schedule in turn
// wherever its input is ready (a deadlock-free interleaving of the runner's
// order); the multi-GPU run over NCCL is gpu.training_matches_cpu.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"
#include "runtime/model/gpt_model.h"
#include "runtime/optim/adamw_optimizer.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "runtime/parallel/stage_executor.h"
#include "runtime/train/device_stage_executor.h"
#include "runtime/train/device_step.h"

namespace meridian {
namespace {

constexpr int kB = 2, kT = 37;  // BT not a multiple of any tile
constexpr int kMicrobatches = 4;

GPTConfig SmallConfig() {
  GPTConfig c;
  c.n_layer = 4;
  c.n_head = 4;
  c.n_embd = 128;  // head size 32
  c.vocab_size = 1000;
  c.padded_vocab_size = PadVocab(1000);
  c.max_seq_len = 64;
  return c;
}

// SmallConfig as Llama: 4 query heads over 2 key/value heads of size 32,
// rotary base 10000.
GPTConfig SmallLlamaConfig(bool tied) {
  GPTConfig c = SmallConfig();
  c.arch = ModelArch::kLlama;
  c.n_kv_head = 2;
  c.ffn_hidden = 352;
  c.rope_theta = 10000.0;
  c.tie_embeddings = tied;
  return c;
}

// Worst |a - b| relative to b's largest magnitude (each tensor on its own
// scale, as in model_cuda_test).
double RelativeError(const float* a, const float* b, size_t n) {
  double worst = 0.0, scale = 1e-12;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, (double)std::fabs(b[i]));
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    worst = std::max(worst, std::fabs((double)a[i] - (double)b[i]) / scale);
  }
  return worst;
}

void Fetch(int microbatch, std::vector<int>* inputs, std::vector<int>* targets) {
  inputs->resize(kB * kT);
  targets->resize(kB * kT);
  for (int j = 0; j < kB * kT; ++j) {
    (*inputs)[j] = (37 * microbatch + 11 * j) % 1000;
    (*targets)[j] = (53 * microbatch + 7 * j + 1) % 1000;
  }
}

// Moves `count` floats between boundary buffers of the executors' device.
using CopyFn = std::function<Status(float* dst, const float* src, size_t count)>;
// A message in flight between two stages, in the executors' memory.
using AllocFn = std::function<float*(size_t count)>;

// One step of every stage's schedule, played by one thread: a stage's next
// action runs once the message it needs has been "sent". Returns the last
// stage's loss sum.
Result<double> RunPipeline(const std::vector<StageExecutor*>& stages, PipelineScheduleKind kind, const CopyFn& copy,
                           const AllocFn& alloc) {
  const int pp = (int)stages.size();
  const size_t count = stages[0]->boundary_count();
  std::vector<std::vector<PipelineAction>> schedules(pp);
  std::vector<size_t> next(pp, 0);
  // acts[s][i]: stage s's output for micro-batch i; grads[s][i]: the
  // gradient of stage s's output (sent by stage s + 1).
  std::vector<std::vector<float*>> acts(pp, std::vector<float*>(kMicrobatches, nullptr));
  std::vector<std::vector<float*>> grads(pp, std::vector<float*>(kMicrobatches, nullptr));
  for (int s = 0; s < pp; ++s) {
    schedules[s] = BuildPipelineSchedule(kind, s, pp, kMicrobatches);
    MERIDIAN_RETURN_IF_ERROR(stages[s]->ZeroGrads());
    stages[s]->set_loss_scale(1.0f / kMicrobatches);
  }
  std::vector<int> inputs, targets;
  for (bool progress = true; progress;) {
    progress = false;
    for (int s = 0; s < pp; ++s) {
      if (next[s] == schedules[s].size()) continue;
      const PipelineAction a = schedules[s][next[s]];
      const int slot = a.microbatch % stages[s]->num_slots();
      const bool first = s == 0, last = s == pp - 1;
      if (a.forward) {
        if (!first && acts[s - 1][a.microbatch] == nullptr) continue;
        Fetch(a.microbatch, &inputs, &targets);
        float* input = nullptr;
        if (!first) {
          input = stages[s]->receive_buffer();
          MERIDIAN_RETURN_IF_ERROR(copy(input, acts[s - 1][a.microbatch], count));
        }
        MERIDIAN_RETURN_IF_ERROR(stages[s]->Forward(slot, first ? inputs.data() : nullptr, input,
                                                    last ? targets.data() : nullptr, true));
        if (last) {
          MERIDIAN_RETURN_IF_ERROR(stages[s]->AddLoss(slot));
        } else {
          acts[s][a.microbatch] = alloc(count);
          MERIDIAN_RETURN_IF_ERROR(copy(acts[s][a.microbatch], stages[s]->output(slot), count));
        }
      } else {
        if (!last && grads[s][a.microbatch] == nullptr) continue;
        float* output_grad = nullptr;
        if (!last) {
          output_grad = stages[s]->receive_buffer();
          MERIDIAN_RETURN_IF_ERROR(copy(output_grad, grads[s][a.microbatch], count));
        }
        MERIDIAN_RETURN_IF_ERROR(stages[s]->Backward(slot, output_grad));
        if (!first) {
          MERIDIAN_ASSIGN_OR_RETURN(const float* input_grad, stages[s]->input_grad(slot));
          grads[s - 1][a.microbatch] = alloc(count);
          MERIDIAN_RETURN_IF_ERROR(copy(grads[s - 1][a.microbatch], input_grad, count));
        }
      }
      ++next[s];
      progress = true;
    }
  }
  for (int s = 0; s < pp; ++s) {
    if (next[s] != schedules[s].size())
      return Status::Internal("the schedules deadlocked at stage " + std::to_string(s));
  }
  return stages[pp - 1]->TakeLossSum();
}

struct Case {
  std::string dtype;
  int pp;
  PipelineScheduleKind kind;
  std::string model = "gpt2";  // "gpt2", "llama" (untied head) or "llama_tied"
};

GPTConfig ConfigFor(const Case& c) {
  if (c.model == "gpt2") return SmallConfig();
  return SmallLlamaConfig(/*tied=*/c.model == "llama_tied");
}

std::string CaseName(const Case& c) {
  return (c.model == "gpt2" ? "" : c.model + "_") + c.dtype + "_pp" + std::to_string(c.pp) +
         (c.kind == PipelineScheduleKind::k1F1B ? "_1f1b" : "_gpipe");
}

// Names the case in test listings (ctest shows the parameter).
void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

class CudaStageStepTest : public ::testing::TestWithParam<Case> {};

TEST_P(CudaStageStepTest, PipelineOfGpuStagesMatchesTheCpuPipeline) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  ASSERT_TRUE(cuda::InitializeDevice(0).ok());
  const Case& p = GetParam();
  const bool fp32 = p.dtype == "fp32";
  // model_cuda_test's bounds: fp32 ~1e-5 (gradients through long sums
  // 1e-4), bf16 ~1e-2 (gradients a few e-2).
  const double loss_tol = fp32 ? 1e-5 : 1e-2, grad_tol = fp32 ? 1e-4 : 5e-2;
  const GPTConfig c = ConfigFor(p);
  const std::vector<StageSpec> layout = PartitionLayers(c, p.pp, kT);
  ASSERT_EQ((int)layout.size(), p.pp);

  std::vector<std::unique_ptr<GPTModel>> cpu_models;
  std::vector<std::unique_ptr<StageExecutor>> cpu_executors, gpu_executors;
  std::vector<std::unique_ptr<DeviceStep>> gpu_steps;
  std::vector<StageExecutor*> cpu_stages, gpu_stages;
  for (int s = 0; s < p.pp; ++s) {
    const int slots = PipelineSlots(p.kind, s, p.pp, kMicrobatches);
    cpu_models.push_back(std::make_unique<GPTModel>(c, layout[s], kB, kT, slots));
    cpu_models.back()->InitializeWeights(7);  // each stage draws its own layers' streams
    cpu_executors.push_back(CpuStageExecutor(cpu_models.back().get(), kB, kT));
    cpu_stages.push_back(cpu_executors.back().get());
    DeviceStepOptions o;
    o.dtype = *kDTypes.Parse(p.dtype);
    o.max_batch = kB;
    o.max_seq = kT;
    o.stage = layout[s];
    o.slots = slots;
    auto created = CreateCudaStep(c, o);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    gpu_steps.push_back(std::move(*created));
    ASSERT_EQ(gpu_steps.back()->layout().total(), cpu_models.back()->num_params()) << "stage " << s;
    ASSERT_TRUE(gpu_steps.back()->Upload(cpu_models.back()->params(), nullptr, nullptr).ok());
    gpu_executors.push_back(DeviceStageExecutor(gpu_steps.back().get(), kB, kT));
    gpu_stages.push_back(gpu_executors.back().get());
    EXPECT_EQ(gpu_stages.back()->num_slots(), slots);
  }

  std::vector<std::vector<float>> host_messages;
  auto host_alloc = [&](size_t n) {
    host_messages.emplace_back(n);
    return host_messages.back().data();
  };
  auto host_copy = [](float* dst, const float* src, size_t n) {
    std::copy(src, src + n, dst);
    return Status::OK();
  };
  std::vector<cuda::DeviceBuffer<float>> device_messages;
  auto device_alloc = [&](size_t n) {
    device_messages.emplace_back();
    EXPECT_TRUE(device_messages.back().Allocate(n).ok());
    return device_messages.back().data();
  };
  // On the compute stream, in order with the stages' kernels, as the NCCL
  // communicator orders its transfers.
  auto device_copy = [](float* dst, const float* src, size_t n) -> Status {
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, cuda::ComputeStream()));
    return Status::OK();
  };

  // Two steps: the second must start from zeroed gradients, a restarted
  // loss sum and reused slots.
  for (int step = 0; step < 2; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    host_messages.clear();
    device_messages.clear();
    auto cpu_loss = RunPipeline(cpu_stages, p.kind, host_copy, host_alloc);
    ASSERT_TRUE(cpu_loss.ok()) << cpu_loss.status().ToString();
    auto gpu_loss = RunPipeline(gpu_stages, p.kind, device_copy, device_alloc);
    ASSERT_TRUE(gpu_loss.ok()) << gpu_loss.status().ToString();
    EXPECT_NEAR(*gpu_loss, *cpu_loss, loss_tol * std::fabs(*cpu_loss)) << "loss sum";
    EXPECT_GT(*cpu_loss, 0.0);

    ASSERT_EQ(cudaStreamSynchronize(cuda::ComputeStream()), cudaSuccess);
    for (int s = 0; s < p.pp; ++s) {
      SCOPED_TRACE("stage " + std::to_string(s));
      const GPTModel& cpu = *cpu_models[s];
      std::vector<float> got(cpu.num_params());
      ASSERT_EQ(cudaMemcpy(got.data(), gpu_steps[s]->grads(), got.size() * sizeof(float), cudaMemcpyDeviceToHost),
                cudaSuccess);
      for (const ParamTensorInfo& t : cpu.layout().tensors()) {
        if (t.count == 0) continue;
        EXPECT_LE(RelativeError(got.data() + t.offset, cpu_models[s]->grads() + t.offset, t.count), grad_tol)
            << "gradient of " << t.name;
      }
      // The device's own sum of squares (the grad norm's input) agrees too.
      auto sum = gpu_steps[s]->GradSumOfSquares(0, got.size());
      ASSERT_TRUE(sum.ok()) << sum.status().ToString();
      double want = 0.0;
      for (size_t i = 0; i < got.size(); ++i) want += (double)got[i] * got[i];
      EXPECT_NEAR(*sum, want, 1e-9 * want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, CudaStageStepTest,
                         ::testing::Values(Case{"fp32", 2, PipelineScheduleKind::k1F1B},
                                           Case{"fp32", 2, PipelineScheduleKind::kGPipe},
                                           Case{"fp32", 4, PipelineScheduleKind::k1F1B},
                                           Case{"fp32", 4, PipelineScheduleKind::kGPipe},
                                           Case{"bf16", 2, PipelineScheduleKind::k1F1B},
                                           Case{"bf16", 4, PipelineScheduleKind::kGPipe},
                                           Case{"fp32", 4, PipelineScheduleKind::kGPipe, "llama"},
                                           Case{"fp32", 2, PipelineScheduleKind::k1F1B, "llama"},
                                           Case{"fp32", 2, PipelineScheduleKind::kGPipe, "llama_tied"},
                                           Case{"bf16", 2, PipelineScheduleKind::k1F1B, "llama"}),
                         [](const ::testing::TestParamInfo<Case>& info) { return CaseName(info.param); });

TEST(CudaStageStep, RefusesAStageWithoutLayers) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  ASSERT_TRUE(cuda::InitializeDevice(0).ok());
  DeviceStepOptions o;
  o.max_batch = kB;
  o.max_seq = kT;
  o.stage = StageSpec{2, 2, false, true};
  auto created = CreateCudaStep(SmallConfig(), o);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("at least one layer"), std::string::npos) << created.status().ToString();
}

// ZeRO-1 on the GPU: AdamW over a shard that starts and ends inside
// tensors, moments held for the shard only, gives the CPU optimizer's
// shard update and leaves the rest of the stage alone.
void ExpectShardedAdamWMatchesTheCpuOptimizersShard(const GPTConfig& c) {
  ASSERT_TRUE(cuda::InitializeDevice(0).ok());
  DeviceStepOptions o;
  o.max_batch = kB;
  o.max_seq = kT;
  o.adam.weight_decay = 0.1f;
  auto created = CreateCudaStep(c, o);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  DeviceStep& step = **created;
  GPTModel cpu(c, WholeModel(c), 1, 1, 1);
  cpu.InitializeWeights(7);
  const size_t n = cpu.num_params(), begin = n / 3 + 5, end = 2 * n / 3 + 11;
  std::vector<float> grads(n);
  for (size_t i = 0; i < n; ++i) grads[i] = (float)std::sin(0.001 * (double)i) * 0.01f;
  const std::vector<float> initial(cpu.params(), cpu.params() + n);
  ASSERT_TRUE(step.Upload(initial.data(), nullptr, nullptr).ok());
  ASSERT_TRUE(step.memory()->FromHost(step.grads(), grads.data(), n).ok());
  ASSERT_TRUE(step.SetOptimizerShard(begin, end).ok());
  EXPECT_FALSE(step.SetOptimizerShard(0, n + 1).ok());
  ASSERT_TRUE(step.SetOptimizerShard(begin, end).ok());
  AdamWOptimizer reference(cpu.layout(), o.adam, begin, end);
  for (long t = 1; t <= 2; ++t) {
    ASSERT_TRUE(step.OptimizerStep(1e-3f, 0.5f, t).ok());
    reference.Step(cpu.params(), grads.data(), 1e-3f, 0.5f);
  }
  std::vector<float> params(n), m(end - begin), v(end - begin);
  ASSERT_TRUE(step.Download(params.data(), m.data(), v.data()).ok());
  EXPECT_TRUE(std::equal(params.begin(), params.begin() + begin, initial.begin())) << "before the shard";
  EXPECT_TRUE(std::equal(params.begin() + end, params.end(), initial.begin() + end)) << "after the shard";
  // model_cuda_test's fp32 bound for AdamW.
  EXPECT_LE(RelativeError(params.data() + begin, cpu.params() + begin, end - begin), 1e-5);
  EXPECT_LE(RelativeError(m.data(), reference.m().data(), m.size()), 1e-5);
  EXPECT_LE(RelativeError(v.data(), reference.v().data(), v.size()), 1e-5);
}

TEST(CudaStageStep, ShardedAdamWMatchesTheCpuOptimizersShard) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  ExpectShardedAdamWMatchesTheCpuOptimizersShard(SmallConfig());
}

// Llama's stage buffer has absent tensors (biases, wpe) and an untied head
// after the final norm; the shard's walk over tensors must match the CPU's.
TEST(CudaStageStep, ShardedAdamWMatchesTheCpuOptimizersShardForLlama) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  ExpectShardedAdamWMatchesTheCpuOptimizersShard(SmallLlamaConfig(/*tied=*/false));
}

// The GPU's StageMemory: scale and copy as the CPU loops do, host round
// trips, and (bf16) a weights rewrite reaches the compute copy only through
// WeightsChanged.
TEST(CudaStageStep, MemoryOperationsAndTheComputeCopyRefresh) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  ASSERT_TRUE(cuda::InitializeDevice(0).ok());
  const GPTConfig c = SmallConfig();
  DeviceStepOptions o;
  o.dtype = DType::kBf16;
  o.max_batch = kB;
  o.max_seq = kT;
  auto created = CreateCudaStep(c, o);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  DeviceStep& step = **created;
  StageMemory& memory = *step.memory();
  const size_t k = 1000;
  std::vector<float> x(k), back(k);
  for (size_t i = 0; i < k; ++i) x[i] = (float)std::cos(0.1 * (double)i) * 3.0f;
  auto a = memory.Allocate(k), b = memory.Allocate(k);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(memory.FromHost(a->get(), x.data(), k).ok());
  ASSERT_TRUE(memory.Scale(a->get(), k, 1.0f / 3.0f).ok());
  ASSERT_TRUE(memory.Copy(b->get(), a->get(), k).ok());
  ASSERT_TRUE(memory.ToHost(back.data(), b->get(), k).ok());
  for (size_t i = 0; i < k; ++i) ASSERT_EQ(back[i], x[i] * (1.0f / 3.0f)) << i;

  GPTModel cpu(c, WholeModel(c), 1, 1, 1);
  cpu.InitializeWeights(7);
  const size_t n = cpu.num_params();
  const std::vector<float> before(cpu.params(), cpu.params() + n);
  std::vector<float> after(before);
  for (float& w : after) w *= 1.5f;
  std::vector<int> inputs, targets;
  Fetch(0, &inputs, &targets);
  auto loss = [&]() -> double {
    EXPECT_TRUE(step.Forward(0, inputs.data(), nullptr, targets.data(), kB, kT, false).ok());
    EXPECT_TRUE(step.AddLoss(0).ok());
    Result<double> sum = step.TakeLossSum();
    EXPECT_TRUE(sum.ok());
    return sum.ok() ? *sum : NAN;
  };
  ASSERT_TRUE(step.Upload(after.data(), nullptr, nullptr).ok());
  const double uploaded = loss();
  ASSERT_TRUE(step.Upload(before.data(), nullptr, nullptr).ok());
  const double original = loss();
  // The master weights rewritten behind the compute copy (as an all-gather
  // or an outer step does): stale until WeightsChanged.
  ASSERT_TRUE(memory.FromHost(step.params(), after.data(), n).ok());
  EXPECT_EQ(loss(), original);
  ASSERT_TRUE(memory.WeightsChanged(step.params(), n).ok());
  EXPECT_EQ(loss(), uploaded);
  EXPECT_NE(uploaded, original);
  EXPECT_EQ(memory.WeightsChanged(step.grads(), n).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace meridian
