// GPT-2 forward and backward of the whole model on one GPU: the same
// computation as runtime/model/gpt_model.h, through kernels/cuda. Master
// weights and gradients are float in device memory, laid out exactly like
// the CPU model's flat buffers (ParameterLayout), so checkpoints, the
// optimizer and the gradient all-reduce address them the same way. With
// storage type bf16, a bf16 copy of the weights and all activations are
// bf16; LayerNorm statistics, losses and every accumulation stay float.
//
// Kernels run on cuda::ComputeStream(). Errors are returned as Status.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/status.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/dtype.cuh"
#include "kernels/cuda/matmul.cuh"
#include "runtime/model/gpt_config.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

using cuda::bf16;

template <typename T>
class CudaGPTModel {
 public:
  // Allocates weights, gradients and activations for micro-batches of up to
  // max_batch x max_seq tokens. Fails on an unsupported head size or when
  // the device is out of memory (naming the allocation size).
  static Result<std::unique_ptr<CudaGPTModel>> Create(const GPTConfig& config, int max_batch, int max_seq);

  const GPTConfig& config() const { return layout_.config(); }
  const ParameterLayout& layout() const { return layout_; }
  size_t num_params() const { return layout_.total(); }
  float* params() { return params_.data(); }  // device, float master weights
  float* grads() { return grads_.data(); }    // device, float
  // The compute copy AdamW refreshes in place (null when T is float: the
  // master weights are computed with directly).
  bf16* compute_weights_bf16();

  // Host <-> device copies of the master weights; Upload also refreshes the
  // compute copy.
  Status UploadParams(const float* host);
  Status DownloadParams(float* host);

  // tokens and targets (B,T) are host memory. With targets the loss is
  // computed; with compute_grad the backward can follow, starting from the
  // mean loss times loss_scale (1/micro-batches, say), as in GPTModel.
  Status Forward(const int* tokens, const int* targets, int B, int T_len, bool compute_grad);
  void set_loss_scale(float s) { loss_scale_ = s; }
  // Accumulates gradients of the latest compute_grad Forward. The hook runs
  // as in GPTModel::set_backward_hook, once the layer's gradient kernels are
  // queued on the compute stream.
  Status Backward();
  void set_backward_hook(std::function<void(int)> hook) { backward_hook_ = std::move(hook); }
  Status ZeroGrads();

  // Mean loss of the latest Forward with targets (waits for the device).
  Result<double> MeanLoss();
  // Sum of squares of grads[begin, end) (waits for the device).
  Result<double> GradSumOfSquares(size_t begin, size_t end);

  // Logits of the latest Forward (B,T,Vp), downloaded as float.
  Status DownloadLogits(std::vector<float>* host);

  size_t activation_bytes() const { return activation_bytes_; }
  size_t weight_bytes() const { return params_.bytes() + grads_.bytes() + weights_bf16_.bytes(); }
  bool gelu_fused() const { return matmul_->gelu_fused(); }

 private:
  struct LayerActs {
    T *ln1, *qkv, *atty, *residual2, *ln2, *fch, *fch_gelu, *residual3;
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lse;
  };
  explicit CudaGPTModel(const GPTConfig& config) : layout_(config, WholeModel(config)) {}
  Status Allocate(int max_batch, int max_seq);
  const T* W(int index, int layer = 0) const;  // compute weights
  float* D(int index, int layer = 0);          // gradients
  LayerActs Acts(int layer);

  ParameterLayout layout_;
  int max_batch_ = 0, max_seq_ = 0;
  int B_ = 0, T_ = 0;
  std::unique_ptr<cuda::MatmulContext> matmul_;
  cuda::DeviceBuffer<float> params_, grads_;
  cuda::DeviceBuffer<bf16> weights_bf16_;  // only when T is bf16
  cuda::DeviceBuffer<T> acts_;              // every T activation, carved by Acts()
  cuda::DeviceBuffer<float> stats_;         // LayerNorm mean/rstd and attention lse, carved
  size_t layer_t_stride_ = 0, layer_f_stride_ = 0;
  cuda::DeviceBuffer<T> encoded_, lnf_, logits_, scratch_, dres_, dbtc_, dqkv_, dfch_;
  cuda::DeviceBuffer<float> lnf_mean_, lnf_rstd_, losses_, delta_;
  cuda::DeviceBuffer<int> tokens_, targets_;
  cuda::DeviceBuffer<double> sum_;
  bool have_targets_ = false, have_dlogits_ = false;
  float loss_scale_ = 1.0f;
  size_t activation_bytes_ = 0;
  std::function<void(int)> backward_hook_;
};

extern template class CudaGPTModel<float>;
extern template class CudaGPTModel<bf16>;

}  // namespace meridian
