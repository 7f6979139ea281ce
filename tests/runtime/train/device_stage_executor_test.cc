// The GPU's whole-model step driven by the pipeline runner, checked without
// a GPU: a DeviceStep emulated on the host (a CPU GPTModel behind the
// DeviceStep interface) through DeviceStageExecutor must give the losses
// and gradients the CPU executor gives on the same model, for training
// steps of several micro-batches and for evaluation. This checks the
// wiring (slots, zeroing, loss scale, loss sums) the CUDA step runs in.
#include "runtime/train/device_stage_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "runtime/comm/self_communicator.h"
#include "runtime/parallel/pipeline_runner.h"

namespace meridian {
namespace {

constexpr int kB = 2, kT = 8;

GPTConfig Tiny() {
  GPTConfig c;
  c.max_seq_len = kT;
  c.vocab_size = 32;
  c.padded_vocab_size = 64;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  return c;
}

// DeviceStep's contract, kept in host memory.
class HostDeviceStep : public DeviceStep {
 public:
  HostDeviceStep() : model_(Tiny(), WholeModel(Tiny()), kB, kT, 1) { model_.InitializeWeights(7); }
  Status Forward(const int* tokens, const int* targets, int B, int T, bool compute_grad) override {
    model_.Forward(tokens, nullptr, targets, B, T, compute_grad, 0);
    return Status::OK();
  }
  Status Backward() override {
    model_.Backward(nullptr, 0);
    return Status::OK();
  }
  void set_loss_scale(float scale) override { model_.set_loss_scale(scale); }
  void set_backward_hook(std::function<void(int)> hook) override { model_.set_backward_hook(std::move(hook)); }
  Status ZeroGrads() override {
    model_.ZeroGrads();
    return Status::OK();
  }
  Result<double> MeanLoss() override { return (double)model_.mean_loss(0); }
  Result<double> GradSumOfSquares() override { return cpu::SumOfSquares(model_.grads(), model_.num_params()); }
  float* grads() override { return model_.grads(); }
  Status OptimizerStep(float, float, long) override { return Status::OK(); }
  Status Download(float* params, float*, float*) override {
    if (params != nullptr) std::copy(model_.params(), model_.params() + model_.num_params(), params);
    return Status::OK();
  }
  Status Upload(const float* params, const float*, const float*) override {
    if (params != nullptr) std::copy(params, params + model_.num_params(), model_.params());
    return Status::OK();
  }
  size_t activation_bytes() const override { return model_.activation_bytes(); }
  size_t state_bytes() const override { return 0; }
  std::string Describe() const override { return "host emulation"; }

  GPTModel model_;
};

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
  HostDeviceStep device;
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

TEST(DeviceStageExecutor, RefusesPipelineStagesAndSlotsItDoesNotHave) {
  HostDeviceStep device;
  std::unique_ptr<StageExecutor> gpu = DeviceStageExecutor(&device, kB, kT);
  EXPECT_EQ(gpu->num_slots(), 1);
  std::vector<int> tokens(kB * kT, 1);
  std::vector<float> acts(kB * kT * 16, 0.0f);
  EXPECT_FALSE(gpu->Forward(1, tokens.data(), nullptr, tokens.data(), true).ok());
  EXPECT_FALSE(gpu->Forward(0, nullptr, acts.data(), tokens.data(), true).ok());
  EXPECT_FALSE(gpu->Backward(0, acts.data()).ok());
}

}  // namespace
}  // namespace meridian
