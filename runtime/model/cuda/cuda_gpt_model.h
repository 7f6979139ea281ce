// Forward and backward of GPT-2 or Llama (by the config's arch) for one
// pipeline stage on one GPU (the whole model is the stage that is both first
// and last): the same computation as runtime/model/gpt_model.h, through
// kernels/cuda. Master weights and gradients are float in device memory,
// laid out exactly like the CPU stage's flat buffers (ParameterLayout of the
// same StageSpec), so checkpoints, the optimizer and the gradient all-reduce
// address them the same way. With storage type bf16, a bf16 copy of the
// weights and all activations are bf16; norm statistics, the rotary tables,
// losses, every accumulation and the activations that cross a stage boundary
// stay float.
//
// GPT-2 fuses each residual add with the LayerNorm that reads it. Llama runs
// the add and the RMSNorm as two kernels, turns q and k by the rotary tables
// (uploaded once at Create) between the qkv matmul and the grouped-query
// attention, applies SwiGLU to the fused gate/up output, has no biases and no
// position embedding, and reads its head from lm_head when it is untied.
//
// A stage keeps `num_slots` sets of activations, one per micro-batch in
// flight (PipelineSlots), as the CPU model does. Boundary buffers (the input
// taken from the previous stage, the output handed to the next, and the
// gradients of both) are float device memory of (B,T,C), so they go to a
// NCCL communicator as they are, whatever T is.
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
  // max_batch x max_seq tokens (and, for Llama, the rotary tables of max_seq
  // positions). Fails on an unsupported head size, on a stage without layers,
  // or when the device is out of memory (naming the allocation size).
  static Result<std::unique_ptr<CudaGPTModel>> Create(const GPTConfig& config, const StageSpec& stage,
                                                      int max_batch, int max_seq, int num_slots);
  // The whole model with one slot.
  static Result<std::unique_ptr<CudaGPTModel>> Create(const GPTConfig& config, int max_batch, int max_seq);

  const GPTConfig& config() const { return layout_.config(); }
  const ParameterLayout& layout() const { return layout_; }
  const StageSpec& stage() const { return layout_.stage(); }
  int num_slots() const { return (int)slots_.size(); }
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

  // Runs the stage on a (B,T) micro-batch, keeping what the backward needs
  // in `slot`. The first stage reads `tokens` (host, (B,T)); the others read
  // `input` (device, float (B,T,C)), copied into the slot on the compute
  // stream. The last stage computes the loss when `targets` (host, (B,T)) is
  // non-null; other stages ignore targets. With compute_grad the slot's
  // Backward can follow; the last stage then starts from the mean loss
  // times loss_scale (1/micro-batches, say), as in GPTModel.
  Status Forward(int slot, const int* tokens, const float* input, const int* targets, int B, int T_len,
                 bool compute_grad);
  // The whole model's forward into slot 0.
  Status Forward(const int* tokens, const int* targets, int B, int T_len, bool compute_grad) {
    return Forward(0, tokens, nullptr, targets, B, T_len, compute_grad);
  }
  // The slot's output activations (not the last stage): device, float
  // (B,T,C), valid until the slot's next Forward.
  const float* output(int slot);
  void set_loss_scale(float s) { loss_scale_ = s; }

  // Accumulates gradients of the slot's latest compute_grad Forward. The
  // last stage starts from its loss; the others from `doutput` (device, float
  // (B,T,C)), which is read on the compute stream. The hook runs as in
  // GPTModel::set_backward_hook (local layer index, last first, then -1),
  // once the layer's gradient kernels are queued on the compute stream.
  Status Backward(int slot, const float* doutput);
  Status Backward() { return Backward(0, nullptr); }
  // The gradient of the input of the latest Backward (not the first stage)
  // written as float into dst (device, (B,T,C)) on the compute stream.
  Status CopyInputGrad(float* dst);
  void set_backward_hook(std::function<void(int)> hook) { backward_hook_ = std::move(hook); }
  Status ZeroGrads();

  // Mean loss of the slot's latest Forward with targets (waits for the device).
  Result<double> MeanLoss(int slot = 0);
  // Adds the slot's mean loss to a sum held on the device, without waiting;
  // TakeLossSum reads that sum and restarts it from 0 (waits). A step's
  // losses so cost one host round trip, not one per micro-batch.
  Status AddLoss(int slot);
  Result<double> TakeLossSum();
  // Sum of squares of grads[begin, end) (waits for the device).
  Result<double> GradSumOfSquares(size_t begin, size_t end);

  // Logits of the slot's latest Forward (B,T,Vp), downloaded as float.
  Status DownloadLogits(std::vector<float>* host, int slot = 0);

  size_t activation_bytes() const { return activation_bytes_; }
  size_t weight_bytes() const { return params_.bytes() + grads_.bytes() + weights_bf16_.bytes(); }
  bool gelu_fused() const { return matmul_->gelu_fused(); }

 private:
  // fch holds the first MLP matrix's output (GPT-2: fc before GELU; Llama:
  // gate and up), fch_gelu the activation's (GELU or SwiGLU). The means are
  // null for Llama (RMSNorm keeps none).
  struct LayerActs {
    T *ln1, *qkv, *atty, *residual2, *ln2, *fch, *fch_gelu, *residual3;
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lse;
  };
  // Everything one micro-batch's backward needs from its forward.
  struct Slot {
    cuda::DeviceBuffer<T> acts;        // per local layer, carved by Acts()
    cuda::DeviceBuffer<float> stats;   // LayerNorm mean/rstd and attention lse, carved
    cuda::DeviceBuffer<T> encoded;     // (B,T,C) the embedding (first stage) or the received input
    cuda::DeviceBuffer<int> tokens;    // first stage: for the embedding backward
    cuda::DeviceBuffer<T> lnf, logits;                      // last stage; logits hold dlogits
    cuda::DeviceBuffer<float> lnf_mean, lnf_rstd, losses;  // last stage (lnf_mean: GPT-2 only)
    cuda::DeviceBuffer<float> output;  // other stages with T = bf16: the float boundary copy
    int batch = 0, seq = 0;  // of the slot's latest Forward
    bool have_targets = false, have_dlogits = false;
  };
  CudaGPTModel(const GPTConfig& config, const StageSpec& stage) : layout_(config, stage) {}
  Status Allocate(int max_batch, int max_seq, int num_slots);
  Status CheckSlot(int slot) const;
  // Compute weights and gradients of a tensor (layer local to the stage);
  // null where the stage or architecture lacks it (Llama's biases and wpe).
  const T* W(int index, int layer = 0) const;
  float* D(int index, int layer = 0);
  // The LM head: the token embedding when tied, lm_head otherwise.
  int HeadIndex() const { return config().tie_embeddings ? kWte : kLmHead; }
  LayerActs Acts(Slot& slot, int layer);
  // The architecture's norm over (N,C) rows: LayerNorm with bias (GPT-2) or
  // RMSNorm (Llama, which ignores mean and bias).
  Status NormForward(T* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias, int N);
  // residual = a + b, then out = Norm(residual): one fused kernel for GPT-2,
  // the add and the RMSNorm for Llama.
  Status ResidualNormForward(T* residual, T* out, float* mean, float* rstd, const T* a, const T* b,
                             const T* weight, const T* bias, int N);
  Status NormBackward(T* dinp, float* dweight, float* dbias, const T* dout, const T* inp, const T* weight,
                      const float* mean, const float* rstd, int N);

  ParameterLayout layout_;
  int max_batch_ = 0, max_seq_ = 0;
  size_t input_grad_count_ = 0;  // floats of the latest Backward's input gradient
  std::unique_ptr<cuda::MatmulContext> matmul_;
  cuda::DeviceBuffer<float> params_, grads_;
  cuda::DeviceBuffer<bf16> weights_bf16_;  // only when T is bf16
  std::vector<Slot> slots_;
  size_t layer_t_stride_ = 0, layer_f_stride_ = 0;
  // Workspace shared by the slots, reused layer by layer.
  cuda::DeviceBuffer<T> scratch_, dres_, dbtc_, dqkv_, dfch_;
  cuda::DeviceBuffer<T> dswiglu_;  // Llama: (B,T,F) gradient of the SwiGLU output (GPT-2's GELU runs in place in dfch_)
  cuda::DeviceBuffer<float> delta_;
  cuda::DeviceBuffer<float> rope_cos_, rope_sin_;  // Llama: (max_seq, hs/2) rotary tables
  cuda::DeviceBuffer<int> targets_;         // last stage: read by the forward only
  cuda::DeviceBuffer<double> sum_, loss_sum_;
  float loss_scale_ = 1.0f;
  size_t activation_bytes_ = 0;
  std::function<void(int)> backward_hook_;
};

extern template class CudaGPTModel<float>;
extern template class CudaGPTModel<bf16>;

}  // namespace meridian
