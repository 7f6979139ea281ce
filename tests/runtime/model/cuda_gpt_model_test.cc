// One training step of the GPU model against the CPU model on the same
// weights and tokens: loss, every gradient, and the weights after AdamW, for
// GPT-2 and for Llama (grouped-query attention, head untied and tied).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/stream.h"
#include "runtime/model/cuda/cuda_gpt_model.h"
#include "runtime/model/gpt_model.h"

namespace meridian {
namespace {

// Worst |a - b| over the tensor, relative to the CPU tensor's largest
// magnitude (gradients of different tensors differ by orders of magnitude,
// so each is judged on its own scale).
double RelativeError(const float* gpu, const float* cpu, size_t n) {
  double worst = 0.0, scale = 1e-12;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, (double)std::fabs(cpu[i]));
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(gpu[i])) return INFINITY;
    worst = std::max(worst, std::fabs((double)gpu[i] - (double)cpu[i]) / scale);
  }
  return worst;
}

GPTConfig SmallConfig() {
  GPTConfig c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 128;  // head size 32
  c.vocab_size = 1000;
  c.padded_vocab_size = PadVocab(1000);  // 1024: padded columns must stay out of the loss
  c.max_seq_len = 64;
  return c;
}

// SmallConfig as Llama: 4 query heads over 2 key/value heads of size 32, a
// SwiGLU width that is no multiple of C, rotary base 10000 so positions
// within the sequence turn visibly.
GPTConfig SmallLlamaConfig(bool tied) {
  GPTConfig c = SmallConfig();
  c.arch = ModelArch::kLlama;
  c.n_kv_head = 2;
  c.ffn_hidden = 352;
  c.rope_theta = 10000.0;
  c.tie_embeddings = tied;
  return c;
}

template <typename T>
class CudaGPTModelTest : public ::testing::Test {};
using StorageTypes = ::testing::Types<float, cuda::bf16>;
TYPED_TEST_SUITE(CudaGPTModelTest, StorageTypes);

// The step on both sides from the same weights and tokens. The GPU model is
// allocated for the whole max_seq_len, so the micro-batch is shorter than
// its buffers (and, for Llama, its rotary tables).
template <typename T>
void ExpectTrainingStepMatchesTheCpuModel(const GPTConfig& c) {
  ASSERT_TRUE(cuda::InitializeDevice(0).ok());
  constexpr bool kFp32 = std::is_same_v<T, float>;
  // The bounds: fp32 ~1e-5 (gradients through long sums 1e-4),
  // bf16 ~1e-2 (gradients, after bf16 activations end to end, a few e-2).
  const double loss_tol = kFp32 ? 1e-5 : 1e-2, grad_tol = kFp32 ? 1e-4 : 5e-2, param_tol = kFp32 ? 1e-5 : 1e-2;

  const int B = 3, T_len = 37;  // BT not a multiple of any tile
  GPTModel cpu(c, WholeModel(c), B, T_len);
  cpu.InitializeWeights(7);
  auto created = CudaGPTModel<T>::Create(c, B, c.max_seq_len);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  CudaGPTModel<T>& gpu = **created;
  ASSERT_TRUE(gpu.UploadParams(cpu.params()).ok());

  std::mt19937 rng(11);
  std::uniform_int_distribution<int> token(0, c.vocab_size - 1);
  std::vector<int> inputs(B * T_len), targets(B * T_len);
  for (int& t : inputs) t = token(rng);
  for (int& t : targets) t = token(rng);

  const float scale = 0.5f;  // as with two micro-batches
  cpu.set_loss_scale(scale);
  gpu.set_loss_scale(scale);
  cpu.ZeroGrads();
  ASSERT_TRUE(gpu.ZeroGrads().ok());
  cpu.Forward(inputs.data(), nullptr, targets.data(), B, T_len, true);
  ASSERT_TRUE(gpu.Forward(inputs.data(), targets.data(), B, T_len, true).ok());
  auto loss = gpu.MeanLoss();
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, cpu.mean_loss(), loss_tol * std::fabs(cpu.mean_loss())) << "loss";

  cpu.Backward(nullptr);
  ASSERT_TRUE(gpu.Backward().ok());
  std::vector<float> gpu_grads(gpu.num_params());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(gpu_grads.data(), gpu.grads(), gpu_grads.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  for (const ParamTensorInfo& t : cpu.layout().tensors()) {
    if (t.count == 0) continue;  // absent: Llama's biases and wpe, lm_head when tied
    EXPECT_LE(RelativeError(gpu_grads.data() + t.offset, cpu.grads() + t.offset, t.count), grad_tol)
        << "gradient of " << t.name;
  }

  // One AdamW step on each side from identical gradients (the CPU's), so
  // this checks the update and the bf16 compute copy, not the gradients again.
  cpu::AdamWParams hp;
  hp.lr = 1e-3f;
  hp.weight_decay = 0.1f;
  ASSERT_EQ(cudaMemcpy(gpu.grads(), cpu.grads(), gpu_grads.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  float *m = nullptr, *v = nullptr;
  ASSERT_EQ(cudaMalloc(&m, gpu_grads.size() * 4), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&v, gpu_grads.size() * 4), cudaSuccess);
  cudaMemset(m, 0, gpu_grads.size() * 4);
  cudaMemset(v, 0, gpu_grads.size() * 4);
  std::vector<float> cm(gpu_grads.size(), 0.0f), cv(gpu_grads.size(), 0.0f);
  ASSERT_TRUE(cuda::AdamWUpdate(gpu.params(), gpu.grads(), m, v, gpu_grads.size(), hp, cuda::ComputeStream(),
                                gpu.compute_weights_bf16())
                  .ok());
  cpu::AdamWUpdate(cpu.params(), cpu.grads(), cm.data(), cv.data(), gpu_grads.size(), hp);
  std::vector<float> after(gpu_grads.size());
  ASSERT_TRUE(gpu.DownloadParams(after.data()).ok());
  EXPECT_LE(RelativeError(after.data(), cpu.params(), after.size()), param_tol) << "weights after AdamW";
  cudaFree(m);
  cudaFree(v);

  // The next forward runs on the updated (for bf16: re-rounded) weights.
  cpu.Forward(inputs.data(), nullptr, targets.data(), B, T_len, false);
  ASSERT_TRUE(gpu.Forward(inputs.data(), targets.data(), B, T_len, false).ok());
  auto loss2 = gpu.MeanLoss();
  ASSERT_TRUE(loss2.ok());
  EXPECT_NEAR(*loss2, cpu.mean_loss(), loss_tol * std::fabs(cpu.mean_loss())) << "loss after the update";
}

TYPED_TEST(CudaGPTModelTest, TrainingStepMatchesTheCpuModel) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  ExpectTrainingStepMatchesTheCpuModel<TypeParam>(SmallConfig());
}

TYPED_TEST(CudaGPTModelTest, LlamaTrainingStepMatchesTheCpuModel) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const GPTConfig c = SmallLlamaConfig(/*tied=*/false);
  ASSERT_GT(ParameterLayout(c, WholeModel(c)).tensor(kLmHead).count, 0u);
  ExpectTrainingStepMatchesTheCpuModel<TypeParam>(c);
}

TYPED_TEST(CudaGPTModelTest, TiedLlamaTrainingStepMatchesTheCpuModel) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const GPTConfig c = SmallLlamaConfig(/*tied=*/true);
  ASSERT_EQ(ParameterLayout(c, WholeModel(c)).tensor(kLmHead).count, 0u);
  ExpectTrainingStepMatchesTheCpuModel<TypeParam>(c);
}

TYPED_TEST(CudaGPTModelTest, RefusesUnsupportedHeadSizeWithoutTouchingTheDevice) {
  using T = TypeParam;
  // Llama reaches the same check: the architecture itself is not refused.
  for (GPTConfig c : {SmallConfig(), SmallLlamaConfig(/*tied=*/false)}) {
    c.n_head = 2;
    c.n_kv_head = c.llama() ? 1 : 0;
    c.n_embd = 96;  // head size 48
    auto created = CudaGPTModel<T>::Create(c, 1, 8);
    ASSERT_FALSE(created.ok());
    EXPECT_NE(created.status().message().find("head size 48"), std::string::npos) << created.status().ToString();
  }
}

}  // namespace
}  // namespace meridian
