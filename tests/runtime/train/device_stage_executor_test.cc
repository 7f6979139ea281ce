// The GPU's stage step driven by the pipeline runner, checked without a
// GPU: a DeviceStep emulated on the host (a CPU GPTModel stage behind the
// DeviceStep interface, boundary buffers in host memory) through
// DeviceStageExecutor. With one stage it must give the losses and gradients
// the CPU executor gives; with pp 2 and 4 (threads as stages, 1F1B and
// GPipe) every stage's gradients and the loss must match the whole model
// run in one process. This checks the wiring the CUDA step runs in: slots,
// stage roles, the partition's parameter layout, zeroing, the loss scale,
// losses taken once per run, and the per-slot input-gradient buffers.
#include "runtime/train/device_stage_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "runtime/comm/self_communicator.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/pipeline_runner.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "tests/runtime/comm/in_process_communicator.h"
#include "tests/runtime/train/host_device_step.h"

namespace meridian {
namespace {

constexpr int kB = 2, kT = 8;

GPTConfig Tiny(int n_layer = 2) {
  GPTConfig c;
  c.max_seq_len = kT;
  c.vocab_size = 32;
  c.padded_vocab_size = 64;
  c.n_layer = n_layer;
  c.n_head = 2;
  c.n_embd = 16;
  return c;
}

// Micro-batch i: deterministic tokens, next-token targets.
Status Fetch(int i, int* inputs, int* targets) {
  for (int j = 0; j < kB * kT; ++j) {
    inputs[j] = (7 * i + 3 * j) % 32;
    targets[j] = (7 * i + 3 * j + 1) % 32;
  }
  return Status::OK();
}

TEST(DeviceStageExecutor, StepsAndEvaluationMatchTheCpuExecutor) {
  const int microbatches = 3;
  SelfCommunicator pp("pp");
  HostDeviceStep device(Tiny(), WholeModel(Tiny()), 1, kB, kT);
  std::unique_ptr<StageExecutor> gpu = DeviceStageExecutor(&device, kB, kT);
  GPTModel cpu_model(Tiny(), WholeModel(Tiny()), kB, kT, 1);
  cpu_model.InitializeWeights(7);
  std::unique_ptr<StageExecutor> cpu = CpuStageExecutor(&cpu_model, kB, kT);
  PipelineRunner gpu_runner(gpu.get(), &pp, PipelineScheduleKind::k1F1B, microbatches, kB, kT);
  PipelineRunner cpu_runner(cpu.get(), &pp, PipelineScheduleKind::k1F1B, microbatches, kB, kT);
  for (int step = 0; step < 2; ++step) {  // the second step must start from zeroed gradients
    double gpu_loss = 0, cpu_loss = 0;
    for (auto [executor, runner, loss] : {std::tuple{gpu.get(), &gpu_runner, &gpu_loss},
                                          std::tuple{cpu.get(), &cpu_runner, &cpu_loss}}) {
      ASSERT_TRUE(executor->ZeroGrads().ok());
      executor->set_loss_scale(1.0f / microbatches);
      Status s = runner->RunStep(Fetch, nullptr, loss);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    EXPECT_EQ(gpu_loss, cpu_loss) << "step " << step;
    EXPECT_GT(gpu_loss, 0.0);
    const size_t n = cpu_model.num_params();
    EXPECT_TRUE(std::equal(device.grads(), device.grads() + n, cpu_model.grads())) << "step " << step;
  }
  double gpu_eval = 0, cpu_eval = 0;
  ASSERT_TRUE(gpu_runner.RunForwardOnly(Fetch, 4, &gpu_eval).ok());
  ASSERT_TRUE(cpu_runner.RunForwardOnly(Fetch, 4, &cpu_eval).ok());
  EXPECT_EQ(gpu_eval, cpu_eval);
}

// Worst |a - b| relative to b's largest magnitude.
double RelativeError(const float* a, const float* b, size_t n) {
  double worst = 0.0, scale = 1e-12;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, (double)std::fabs(b[i]));
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs((double)a[i] - (double)b[i]) / scale);
  return worst;
}

struct PipelineCase {
  int pp;
  PipelineScheduleKind kind;
};

// Names the case in test listings (ctest shows the parameter).
void PrintTo(const PipelineCase& c, std::ostream* os) {
  *os << "pp" << c.pp << (c.kind == PipelineScheduleKind::k1F1B ? " 1f1b" : " gpipe");
}

class DeviceStagePipeline : public ::testing::TestWithParam<PipelineCase> {};

TEST_P(DeviceStagePipeline, StagesMatchTheWholeModel) {
  const auto [pp, kind] = GetParam();
  const int microbatches = 4, steps = 2;
  const GPTConfig config = Tiny(4);
  const std::vector<StageSpec> stages = PartitionLayers(config, pp, kT);
  ASSERT_EQ((int)stages.size(), pp);

  // The reference: the whole model, gradients accumulated over the same
  // micro-batches with the same loss scale.
  GPTModel whole(config, WholeModel(config), kB, kT, 1);
  whole.InitializeWeights(7);
  whole.ZeroGrads();
  whole.set_loss_scale(1.0f / microbatches);
  double whole_loss = 0.0;
  std::vector<int> inputs(kB * kT), targets(kB * kT);
  for (int i = 0; i < microbatches; ++i) {
    ASSERT_TRUE(Fetch(i, inputs.data(), targets.data()).ok());
    whole.Forward(inputs.data(), nullptr, targets.data(), kB, kT, true);
    whole_loss += whole.mean_loss();
    whole.Backward(nullptr);
  }

  std::mutex mu;
  std::vector<std::vector<float>> stage_grads(pp);
  std::vector<int> stage_slots(pp);
  double pipeline_loss = -1.0;
  InProcessWorld world(pp);
  Status s = RunRanks(world, [&](int rank, Communicator* comm) -> Status {
    const int slots = PipelineSlots(kind, rank, pp, microbatches);
    HostDeviceStep device(config, stages[rank], slots, kB, kT);
    std::unique_ptr<StageExecutor> executor = DeviceStageExecutor(&device, kB, kT);
    PipelineRunner runner(executor.get(), comm, kind, microbatches, kB, kT);
    double loss = 0.0;
    for (int step = 0; step < steps; ++step) {  // the second must start from zeroed gradients and loss
      MERIDIAN_RETURN_IF_ERROR(executor->ZeroGrads());
      executor->set_loss_scale(1.0f / microbatches);
      MERIDIAN_RETURN_IF_ERROR(runner.RunStep(Fetch, nullptr, &loss));
    }
    std::lock_guard<std::mutex> lock(mu);
    stage_grads[rank].assign(device.grads(), device.grads() + device.layout().total());
    stage_slots[rank] = executor->num_slots();
    if (stages[rank].last) pipeline_loss = loss;
    return Status::OK();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  // Floats summed in the same order on both sides.
  EXPECT_NEAR(pipeline_loss, whole_loss, 1e-6 * whole_loss);

  const ParameterLayout whole_layout(config, WholeModel(config));
  std::vector<float> tied(whole_layout.tensor(kWte).count, 0.0f);
  for (int rank = 0; rank < pp; ++rank) {
    SCOPED_TRACE("stage " + std::to_string(rank));
    EXPECT_EQ(stage_slots[rank], PipelineSlots(kind, rank, pp, microbatches));
    const ParameterLayout layout(config, stages[rank]);
    ASSERT_EQ(stage_grads[rank].size(), layout.total());
    for (int i = 0; i < kNumParamTensors; ++i) {
      const ParamTensorInfo& t = layout.tensor(i);
      if (t.count == 0) continue;
      const float* got = stage_grads[rank].data() + t.offset;
      if (i == kWte) {  // the tied embedding: the first and last stages' parts add up
        for (size_t j = 0; j < t.count; ++j) tied[j] += got[j];
        continue;
      }
      const size_t whole_offset =
          layout.LayerCount(i) ? whole_layout.LayerOffset(i, stages[rank].layer_begin) : whole_layout.tensor(i).offset;
      EXPECT_LE(RelativeError(got, whole.grads() + whole_offset, t.count), 1e-5) << "gradient of " << t.name;
    }
  }
  EXPECT_LE(RelativeError(tied.data(), whole.grads() + whole_layout.tensor(kWte).offset, tied.size()), 1e-5)
      << "gradient of wte";
}

INSTANTIATE_TEST_SUITE_P(Layouts, DeviceStagePipeline,
                         ::testing::Values(PipelineCase{2, PipelineScheduleKind::k1F1B},
                                           PipelineCase{2, PipelineScheduleKind::kGPipe},
                                           PipelineCase{4, PipelineScheduleKind::k1F1B},
                                           PipelineCase{4, PipelineScheduleKind::kGPipe}),
                         [](const ::testing::TestParamInfo<PipelineCase>& info) {
                           return std::string("pp") + std::to_string(info.param.pp) +
                                  (info.param.kind == PipelineScheduleKind::k1F1B ? "_1f1b" : "_gpipe");
                         });

TEST(DeviceStageExecutor, RefusesInputsTheStageDoesNotTakeAndSlotsItDoesNotHave) {
  const GPTConfig config = Tiny(4);
  const std::vector<StageSpec> stages = PartitionLayers(config, 2, kT);
  HostDeviceStep first_step(config, stages[0], 2, kB, kT), last_step(config, stages[1], 1, kB, kT);
  std::unique_ptr<StageExecutor> first = DeviceStageExecutor(&first_step, kB, kT);
  std::unique_ptr<StageExecutor> last = DeviceStageExecutor(&last_step, kB, kT);
  EXPECT_EQ(first->num_slots(), 2);
  EXPECT_EQ(first->boundary_count(), (size_t)kB * kT * config.n_embd);
  std::vector<int> tokens(kB * kT, 1);
  std::vector<float> acts(first->boundary_count(), 0.0f);
  EXPECT_FALSE(first->Forward(2, tokens.data(), nullptr, nullptr, true).ok());        // no such slot
  EXPECT_FALSE(first->Forward(0, nullptr, acts.data(), nullptr, true).ok());          // the first takes tokens
  EXPECT_FALSE(first->Forward(0, tokens.data(), nullptr, tokens.data(), true).ok());  // and has no loss
  EXPECT_FALSE(last->Forward(0, tokens.data(), nullptr, tokens.data(), true).ok());   // the last takes activations
  EXPECT_FALSE(first->Backward(0, nullptr).ok());                                     // needs its output gradient
  EXPECT_FALSE(last->Backward(0, acts.data()).ok());                                  // starts from its loss
  EXPECT_FALSE(first->input_grad(0).ok());                                            // has no input
}

}  // namespace
}  // namespace meridian
