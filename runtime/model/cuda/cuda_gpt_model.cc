#include "runtime/model/cuda/cuda_gpt_model.h"

#include <type_traits>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/classifier.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/encoder.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/stream.h"
#include "kernels/cuda/swiglu.cuh"
#include "runtime/model/rope_frequencies.h"

namespace meridian {

namespace {

// Per-layer activations, in elements of the storage type and of float, in
// the order Acts() carves them.
struct LayerCounts {
  size_t ln1, qkv, atty, residual2, ln2, fch, fch_gelu, residual3;  // storage type
  size_t mean, rstd, lse;                                            // float; mean and rstd per norm
  size_t t_count() const { return ln1 + qkv + atty + residual2 + ln2 + fch + fch_gelu + residual3; }
  size_t f_count() const { return 2 * (mean + rstd) + lse; }
};
// GPT-2: qkv 3C, fch and fch_gelu 4C each. Llama: qkv (NH + 2 KVH) hs, fch
// the stacked gate and up (2F), fch_gelu F; RMSNorm keeps no mean.
LayerCounts CountsFor(const GPTConfig& c, int B, int T) {
  const size_t BT = (size_t)B * T, C = c.n_embd;
  return LayerCounts{.ln1 = BT * C,
                     .qkv = BT * c.qkv_size(),
                     .atty = BT * C,
                     .residual2 = BT * C,
                     .ln2 = BT * C,
                     .fch = BT * c.fc_rows(),
                     .fch_gelu = BT * c.ffn_size(),
                     .residual3 = BT * C,
                     .mean = c.llama() ? 0 : BT,
                     .rstd = BT,
                     .lse = (size_t)B * c.n_head * T};  // attention (B,NH,T)
}

}  // namespace

template <typename T>
Result<std::unique_ptr<CudaGPTModel<T>>> CudaGPTModel<T>::Create(const GPTConfig& config, const StageSpec& stage,
                                                                 int max_batch, int max_seq, int num_slots) {
  MERIDIAN_RETURN_IF_ERROR(ValidateConfig(config));
  if (!cuda::AttentionSupportsHeadSize(config.head_size()))
    return Status::InvalidArgument("head size " + std::to_string(config.head_size()) + " (n_embd " +
                                   std::to_string(config.n_embd) + " / n_head " + std::to_string(config.n_head) +
                                   ") is not supported by the CUDA attention kernel (32, 64 or 128)");
  if (max_batch < 1 || max_seq < 1 || max_seq > config.max_seq_len)
    return Status::InvalidArgument("CUDA model: batch " + std::to_string(max_batch) + " x seq " +
                                   std::to_string(max_seq) + " out of range (max_seq_len " +
                                   std::to_string(config.max_seq_len) + ")");
  // The residual + norm chain runs through at least one block.
  if (stage.layer_begin < 0 || stage.layer_end > config.n_layer || stage.num_layers() < 1)
    return Status::InvalidArgument("CUDA model: stage layers [" + std::to_string(stage.layer_begin) + "," +
                                   std::to_string(stage.layer_end) + ") of " + std::to_string(config.n_layer) +
                                   ": a stage holds at least one layer of the model");
  if (num_slots < 1) return Status::InvalidArgument("CUDA model: " + std::to_string(num_slots) + " slots");
  std::unique_ptr<CudaGPTModel> model(new CudaGPTModel(config, stage));
  MERIDIAN_RETURN_IF_ERROR(model->Allocate(max_batch, max_seq, num_slots));
  return model;
}

template <typename T>
Result<std::unique_ptr<CudaGPTModel<T>>> CudaGPTModel<T>::Create(const GPTConfig& config, int max_batch,
                                                                 int max_seq) {
  return Create(config, WholeModel(config), max_batch, max_seq, 1);
}

template <typename T>
Status CudaGPTModel<T>::Allocate(int max_batch, int max_seq, int num_slots) {
  max_batch_ = max_batch;
  max_seq_ = max_seq;
  const GPTConfig& c = config();
  const StageSpec& st = stage();
  const size_t BT = (size_t)max_batch * max_seq, C = c.n_embd, L = st.num_layers();
  MERIDIAN_ASSIGN_OR_RETURN(matmul_, cuda::MatmulContext::Create());
  MERIDIAN_RETURN_IF_ERROR(params_.Allocate(layout_.total()));
  MERIDIAN_RETURN_IF_ERROR(grads_.Allocate(layout_.total()));
  if constexpr (std::is_same_v<T, bf16>) MERIDIAN_RETURN_IF_ERROR(weights_bf16_.Allocate(layout_.total()));
  const LayerCounts counts = CountsFor(c, max_batch, max_seq);
  layer_t_stride_ = counts.t_count();
  layer_f_stride_ = counts.f_count();
  size_t bytes = 0;
  slots_.resize(num_slots);
  for (Slot& slot : slots_) {
    MERIDIAN_RETURN_IF_ERROR(slot.acts.Allocate(layer_t_stride_ * L));
    MERIDIAN_RETURN_IF_ERROR(slot.stats.Allocate(layer_f_stride_ * L));
    MERIDIAN_RETURN_IF_ERROR(slot.encoded.Allocate(BT * C));
    if (st.first) MERIDIAN_RETURN_IF_ERROR(slot.tokens.Allocate(BT));
    if (st.last) {
      MERIDIAN_RETURN_IF_ERROR(slot.lnf.Allocate(BT * C));
      MERIDIAN_RETURN_IF_ERROR(slot.logits.Allocate(BT * c.padded_vocab_size));
      for (cuda::DeviceBuffer<float>* b : {&slot.lnf_rstd, &slot.losses}) MERIDIAN_RETURN_IF_ERROR(b->Allocate(BT));
      if (!c.llama()) MERIDIAN_RETURN_IF_ERROR(slot.lnf_mean.Allocate(BT));
    } else if constexpr (std::is_same_v<T, bf16>) {
      MERIDIAN_RETURN_IF_ERROR(slot.output.Allocate(BT * C));
    }
    bytes += slot.acts.bytes() + slot.stats.bytes() + slot.encoded.bytes() + slot.tokens.bytes() +
             slot.lnf.bytes() + slot.logits.bytes() + slot.lnf_mean.bytes() + slot.lnf_rstd.bytes() +
             slot.losses.bytes() + slot.output.bytes();
  }
  for (cuda::DeviceBuffer<T>* b : {&scratch_, &dres_, &dbtc_}) MERIDIAN_RETURN_IF_ERROR(b->Allocate(BT * C));
  MERIDIAN_RETURN_IF_ERROR(dqkv_.Allocate(BT * c.qkv_size()));
  MERIDIAN_RETURN_IF_ERROR(dfch_.Allocate(BT * c.fc_rows()));
  if (c.llama()) MERIDIAN_RETURN_IF_ERROR(dswiglu_.Allocate(BT * c.ffn_size()));
  MERIDIAN_RETURN_IF_ERROR(delta_.Allocate((size_t)max_batch * c.n_head * max_seq));
  if (st.last) MERIDIAN_RETURN_IF_ERROR(targets_.Allocate(BT));
  MERIDIAN_RETURN_IF_ERROR(sum_.Allocate(1));
  MERIDIAN_RETURN_IF_ERROR(loss_sum_.Allocate(1));
  cudaStream_t s = cuda::ComputeStream();
  if (c.llama()) {
    // Positions < max_seq, as the CPU model's tables; a shorter micro-batch
    // reads their first rows.
    const RopeTables tables = MakeRopeTables(c, max_seq);
    MERIDIAN_RETURN_IF_ERROR(rope_cos_.Allocate(tables.cos.size()));
    MERIDIAN_RETURN_IF_ERROR(rope_sin_.Allocate(tables.sin.size()));
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(rope_cos_.data(), tables.cos.data(), rope_cos_.bytes(), cudaMemcpyHostToDevice, s));
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(rope_sin_.data(), tables.sin.data(), rope_sin_.bytes(), cudaMemcpyHostToDevice, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));  // the host tables go out of scope
  }
  activation_bytes_ = bytes + scratch_.bytes() * 3 + dqkv_.bytes() + dfch_.bytes() + dswiglu_.bytes() +
                      delta_.bytes() + targets_.bytes() + rope_cos_.bytes() + rope_sin_.bytes();
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(grads_.data(), 0, grads_.bytes(), s));
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(loss_sum_.data(), 0, sizeof(double), s));
  return Status::OK();
}

template <typename T>
Status CudaGPTModel<T>::CheckSlot(int slot) const {
  if (slot < 0 || slot >= num_slots())
    return Status::InvalidArgument("CUDA model: slot " + std::to_string(slot) + " of " +
                                   std::to_string(num_slots()));
  return Status::OK();
}

template <typename T>
bf16* CudaGPTModel<T>::compute_weights_bf16() {
  if constexpr (std::is_same_v<T, bf16>) return weights_bf16_.data();
  return nullptr;
}

template <typename T>
const T* CudaGPTModel<T>::W(int index, int layer) const {
  if (layout_.tensor(index).count == 0) return nullptr;
  const size_t offset = layout_.LayerCount(index) ? layout_.LayerOffset(index, layer) : layout_.tensor(index).offset;
  if constexpr (std::is_same_v<T, bf16>) return weights_bf16_.data() + offset;
  else return params_.data() + offset;
}

template <typename T>
float* CudaGPTModel<T>::D(int index, int layer) {
  if (layout_.tensor(index).count == 0) return nullptr;
  const size_t offset = layout_.LayerCount(index) ? layout_.LayerOffset(index, layer) : layout_.tensor(index).offset;
  return grads_.data() + offset;
}

template <typename T>
typename CudaGPTModel<T>::LayerActs CudaGPTModel<T>::Acts(Slot& slot, int l) {
  // Carved with the maximal micro-batch's sizes, so a tensor's position does
  // not depend on the current B and T.
  const LayerCounts z = CountsFor(config(), max_batch_, max_seq_);
  T* p = slot.acts.data() + layer_t_stride_ * l;
  LayerActs a;
  a.ln1 = p; p += z.ln1;
  a.qkv = p; p += z.qkv;
  a.atty = p; p += z.atty;
  a.residual2 = p; p += z.residual2;
  a.ln2 = p; p += z.ln2;
  a.fch = p; p += z.fch;
  a.fch_gelu = p; p += z.fch_gelu;
  a.residual3 = p;
  float* f = slot.stats.data() + layer_f_stride_ * l;
  a.ln1_mean = z.mean ? f : nullptr; f += z.mean;
  a.ln1_rstd = f; f += z.rstd;
  a.ln2_mean = z.mean ? f : nullptr; f += z.mean;
  a.ln2_rstd = f; f += z.rstd;
  a.lse = f;
  return a;
}

template <typename T>
Status CudaGPTModel<T>::NormForward(T* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias,
                                    int N) {
  const GPTConfig& c = config();
  if (c.llama()) return cuda::RmsNormForward<T>(out, rstd, inp, weight, N, c.n_embd, c.norm_eps, cuda::ComputeStream());
  return cuda::LayerNormForward<T>(out, mean, rstd, inp, weight, bias, N, c.n_embd, cuda::ComputeStream());
}

template <typename T>
Status CudaGPTModel<T>::ResidualNormForward(T* residual, T* out, float* mean, float* rstd, const T* a, const T* b,
                                            const T* weight, const T* bias, int N) {
  const GPTConfig& c = config();
  cudaStream_t s = cuda::ComputeStream();
  if (!c.llama())
    return cuda::ResidualLayerNormForward<T>(residual, out, mean, rstd, a, b, weight, bias, N, c.n_embd, s);
  MERIDIAN_RETURN_IF_ERROR(cuda::ResidualForward<T>(residual, a, b, (size_t)N * c.n_embd, s));
  return cuda::RmsNormForward<T>(out, rstd, residual, weight, N, c.n_embd, c.norm_eps, s);
}

template <typename T>
Status CudaGPTModel<T>::NormBackward(T* dinp, float* dweight, float* dbias, const T* dout, const T* inp,
                                     const T* weight, const float* mean, const float* rstd, int N) {
  const GPTConfig& c = config();
  cudaStream_t s = cuda::ComputeStream();
  if (c.llama()) return cuda::RmsNormBackward<T>(dinp, dweight, dout, inp, weight, rstd, N, c.n_embd, s);
  return cuda::LayerNormBackward<T>(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, c.n_embd, s);
}

template <typename T>
Status CudaGPTModel<T>::UploadParams(const float* host) {
  cudaStream_t s = cuda::ComputeStream();
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(params_.data(), host, params_.bytes(), cudaMemcpyHostToDevice, s));
  if constexpr (std::is_same_v<T, bf16>)
    MERIDIAN_RETURN_IF_ERROR(cuda::ConvertFloatToBf16(weights_bf16_.data(), params_.data(), params_.size(), s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  return Status::OK();
}

template <typename T>
Status CudaGPTModel<T>::DownloadParams(float* host) {
  cudaStream_t s = cuda::ComputeStream();
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(host, params_.data(), params_.bytes(), cudaMemcpyDeviceToHost, s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  return Status::OK();
}

template <typename T>
Status CudaGPTModel<T>::ZeroGrads() {
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(grads_.data(), 0, grads_.bytes(), cuda::ComputeStream()));
  return Status::OK();
}

template <typename T>
Status CudaGPTModel<T>::Forward(int slot_index, const int* tokens, const float* input, const int* targets, int B,
                                int T_in, bool compute_grad) {
  const GPTConfig& c = config();
  const StageSpec& st = stage();
  MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot_index));
  if (B < 1 || T_in < 1 || B > max_batch_ || T_in > max_seq_)
    return Status::InvalidArgument("CUDA model: micro-batch " + std::to_string(B) + " x " + std::to_string(T_in) +
                                   " exceeds the allocated " + std::to_string(max_batch_) + " x " +
                                   std::to_string(max_seq_));
  if (st.first ? tokens == nullptr : input == nullptr)
    return Status::InvalidArgument(st.first ? "CUDA model: the first stage reads tokens"
                                            : "CUDA model: a stage after the first reads input activations");
  if (!st.last) targets = nullptr;  // only the last stage has a loss
  if (compute_grad && st.last && targets == nullptr)
    return Status::InvalidArgument("CUDA model: compute_grad on the last stage needs targets");
  cudaStream_t s = cuda::ComputeStream();
  const int C = c.n_embd, NH = c.n_head, KVH = c.kv_heads(), hs = c.head_size(), QKV = c.qkv_size(),
            F = c.ffn_size(), FR = c.fc_rows(), L = st.num_layers(), BT = B * T_in;
  const size_t BTC = (size_t)BT * C;
  Slot& slot = slots_[slot_index];
  slot.batch = B;
  slot.seq = T_in;
  slot.have_targets = targets != nullptr;
  slot.have_dlogits = false;

  if (st.first) {
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(slot.tokens.data(), tokens, (size_t)BT * sizeof(int), cudaMemcpyHostToDevice, s));
    MERIDIAN_RETURN_IF_ERROR(
        cuda::EncoderForward(slot.encoded.data(), slot.tokens.data(), W(kWte), W(kWpe), B, T_in, C, s));
  } else if constexpr (std::is_same_v<T, float>) {
    // The receive buffer is reused for the next message: keep a copy.
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(slot.encoded.data(), input, BTC * sizeof(float), cudaMemcpyDeviceToDevice, s));
  } else {
    MERIDIAN_RETURN_IF_ERROR(cuda::ConvertFloatToBf16(slot.encoded.data(), input, BTC, s));
  }
  if (slot.have_targets)
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(targets_.data(), targets, (size_t)BT * sizeof(int), cudaMemcpyHostToDevice, s));

  const LayerActs first = Acts(slot, 0);
  MERIDIAN_RETURN_IF_ERROR(NormForward(first.ln1, first.ln1_mean, first.ln1_rstd, slot.encoded.data(), W(kLn1w, 0),
                                       W(kLn1b, 0), BT));
  T* scratch = scratch_.data();
  for (int l = 0; l < L; ++l) {
    const LayerActs a = Acts(slot, l);
    const T* in = l == 0 ? slot.encoded.data() : Acts(slot, l - 1).residual3;
    // a.ln1 = Norm1(in) was produced by the previous step (for GPT-2 fused
    // with the residual add that made `in`).
    MERIDIAN_RETURN_IF_ERROR(
        cuda::MatmulForward<T>(matmul_.get(), a.qkv, nullptr, a.ln1, W(kQkvw, l), W(kQkvb, l), BT, C, QKV, s));
    // Rotary positions turn q and k in place; attention and its backward
    // then see the rotated heads, as on the CPU.
    if (c.llama())
      MERIDIAN_RETURN_IF_ERROR(
          cuda::RopeForward<T>(a.qkv, rope_cos_.data(), rope_sin_.data(), B, T_in, NH + KVH, hs, QKV, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::AttentionForward<T>(a.atty, a.lse, a.qkv, B, T_in, NH, KVH, hs, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), scratch, nullptr, a.atty, W(kAttprojw, l),
                                                    W(kAttprojb, l), BT, C, C, s));
    MERIDIAN_RETURN_IF_ERROR(ResidualNormForward(a.residual2, a.ln2, a.ln2_mean, a.ln2_rstd, in, scratch,
                                                 W(kLn2w, l), W(kLn2b, l), BT));
    if (c.llama()) {
      MERIDIAN_RETURN_IF_ERROR(
          cuda::MatmulForward<T>(matmul_.get(), a.fch, nullptr, a.ln2, W(kFcw, l), nullptr, BT, C, FR, s));
      MERIDIAN_RETURN_IF_ERROR(cuda::SwigluForward<T>(a.fch_gelu, a.fch, BT, F, s));
    } else {
      // GELU in the matmul's epilogue where cuBLASLt offers it.
      MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), a.fch_gelu, a.fch, a.ln2, W(kFcw, l),
                                                      W(kFcb, l), BT, C, FR, s));
    }
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), scratch, nullptr, a.fch_gelu, W(kFcprojw, l),
                                                    W(kFcprojb, l), BT, F, C, s));
    // The block's second residual add, with whichever norm reads it next
    // on this stage: the next layer's first, or the final one. The stage's
    // last block hands its residual on unnormalised.
    if (l + 1 < L) {
      const LayerActs next = Acts(slot, l + 1);
      MERIDIAN_RETURN_IF_ERROR(ResidualNormForward(a.residual3, next.ln1, next.ln1_mean, next.ln1_rstd,
                                                   a.residual2, scratch, W(kLn1w, l + 1), W(kLn1b, l + 1), BT));
    } else if (st.last) {
      MERIDIAN_RETURN_IF_ERROR(ResidualNormForward(a.residual3, slot.lnf.data(), slot.lnf_mean.data(),
                                                   slot.lnf_rstd.data(), a.residual2, scratch, W(kLnfw), W(kLnfb),
                                                   BT));
    } else {
      MERIDIAN_RETURN_IF_ERROR(cuda::ResidualForward<T>(a.residual3, a.residual2, scratch, BTC, s));
    }
  }
  if (!st.last) {
    if constexpr (std::is_same_v<T, bf16>)
      MERIDIAN_RETURN_IF_ERROR(cuda::ConvertBf16ToFloat(slot.output.data(), Acts(slot, L - 1).residual3, BTC, s));
    slot.have_dlogits = compute_grad;  // here: the slot may run Backward
    return Status::OK();
  }
  MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), slot.logits.data(), nullptr, slot.lnf.data(),
                                                  W(HeadIndex()), nullptr, BT, C, c.padded_vocab_size, s));
  slot.have_dlogits = compute_grad;
  if (!slot.have_targets) return Status::OK();
  // As on the CPU, dlogits arrive pre-scaled by the mean over the
  // micro-batch and the caller's loss scale.
  return cuda::SoftmaxCrossEntropy<T>(slot.logits.data(), slot.losses.data(), targets_.data(), BT, c.vocab_size,
                                      c.padded_vocab_size, loss_scale_ / BT, compute_grad, s);
}

template <typename T>
const float* CudaGPTModel<T>::output(int slot_index) {
  if (stage().last || !CheckSlot(slot_index).ok()) return nullptr;
  Slot& slot = slots_[slot_index];
  if constexpr (std::is_same_v<T, float>) return Acts(slot, stage().num_layers() - 1).residual3;
  else return slot.output.data();
}

template <typename T>
Status CudaGPTModel<T>::Backward(int slot_index, const float* doutput) {
  MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot_index));
  Slot& slot = slots_[slot_index];
  if (!slot.have_dlogits)
    return Status::FailedPrecondition("CUDA model: Backward of slot " + std::to_string(slot_index) +
                                      " without a compute_grad Forward");
  const StageSpec& st = stage();
  if (!st.last && doutput == nullptr)
    return Status::InvalidArgument("CUDA model: a stage before the last needs its output gradient");
  slot.have_dlogits = false;
  const GPTConfig& c = config();
  cudaStream_t s = cuda::ComputeStream();
  const int B = slot.batch, T_len = slot.seq, C = c.n_embd, NH = c.n_head, KVH = c.kv_heads(),
            hs = c.head_size(), QKV = c.qkv_size(), F = c.ffn_size(), FR = c.fc_rows(), L = st.num_layers(),
            BT = B * T_len;
  const size_t BTC = (size_t)BT * C;
  cuda::MatmulContext* mm = matmul_.get();
  T* dres = dres_.data();
  T* dbtc = dbtc_.data();
  T* dfch = dfch_.data();
  // The gradient of the MLP activation's output: GPT-2's GELU backward runs
  // in place in dfch; SwiGLU's output is narrower than its input.
  T* dact = c.llama() ? dswiglu_.data() : dfch;

  if (st.last) {
    // The logits buffer holds dlogits after a compute_grad Forward.
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dbtc, D(HeadIndex()), nullptr, slot.logits.data(),
                                                     slot.lnf.data(), W(HeadIndex()), BT, C, c.padded_vocab_size,
                                                     s));
    MERIDIAN_CUDA_CHECK(cudaMemsetAsync(dres, 0, BTC * sizeof(T), s));
    MERIDIAN_RETURN_IF_ERROR(NormBackward(dres, D(kLnfw), D(kLnfb), dbtc, Acts(slot, L - 1).residual3, W(kLnfw),
                                          slot.lnf_mean.data(), slot.lnf_rstd.data(), BT));
  } else if constexpr (std::is_same_v<T, float>) {
    MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(dres, doutput, BTC * sizeof(float), cudaMemcpyDeviceToDevice, s));
  } else {
    MERIDIAN_RETURN_IF_ERROR(cuda::ConvertFloatToBf16(dres, doutput, BTC, s));
  }
  // dres is the gradient of the running residual stream; each sub-block
  // adds its input gradient onto it.
  for (int l = L - 1; l >= 0; --l) {
    const LayerActs a = Acts(slot, l);
    const T* in = l == 0 ? slot.encoded.data() : Acts(slot, l - 1).residual3;
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dact, D(kFcprojw, l), D(kFcprojb, l), dres, a.fch_gelu,
                                                     W(kFcprojw, l), BT, F, C, s));
    if (c.llama())
      MERIDIAN_RETURN_IF_ERROR(cuda::SwigluBackward<T>(dfch, a.fch, dact, BT, F, s));
    else
      MERIDIAN_RETURN_IF_ERROR(cuda::GeluBackward<T>(dfch, a.fch, dact, (size_t)BT * F, s));
    MERIDIAN_RETURN_IF_ERROR(
        cuda::MatmulBackward<T>(mm, dbtc, D(kFcw, l), D(kFcb, l), dfch, a.ln2, W(kFcw, l), BT, C, FR, s));
    MERIDIAN_RETURN_IF_ERROR(NormBackward(dres, D(kLn2w, l), D(kLn2b, l), dbtc, a.residual2, W(kLn2w, l),
                                          a.ln2_mean, a.ln2_rstd, BT));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dbtc, D(kAttprojw, l), D(kAttprojb, l), dres, a.atty,
                                                     W(kAttprojw, l), BT, C, C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::AttentionBackward<T>(dqkv_.data(), delta_.data(), dbtc, a.atty, a.qkv, a.lse, B,
                                                        T_len, NH, KVH, hs, s));
    // Back through the rotation: the gradient of q and k before it.
    if (c.llama())
      MERIDIAN_RETURN_IF_ERROR(cuda::RopeBackward<T>(dqkv_.data(), rope_cos_.data(), rope_sin_.data(), B, T_len,
                                                     NH + KVH, hs, QKV, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dbtc, D(kQkvw, l), D(kQkvb, l), dqkv_.data(), a.ln1,
                                                     W(kQkvw, l), BT, C, QKV, s));
    MERIDIAN_RETURN_IF_ERROR(NormBackward(dres, D(kLn1w, l), D(kLn1b, l), dbtc, in, W(kLn1w, l), a.ln1_mean,
                                          a.ln1_rstd, BT));
    if (backward_hook_) backward_hook_(l);
  }
  if (st.first) {
    MERIDIAN_RETURN_IF_ERROR(
        cuda::EncoderBackward<T>(D(kWte), D(kWpe), dres, slot.tokens.data(), B, T_len, C, s));
  }
  input_grad_count_ = st.first ? 0 : BTC;
  if (backward_hook_) backward_hook_(-1);
  return Status::OK();
}

template <typename T>
Status CudaGPTModel<T>::CopyInputGrad(float* dst) {
  if (input_grad_count_ == 0)
    return Status::FailedPrecondition("CUDA model: no input gradient (the first stage, or no Backward yet)");
  cudaStream_t s = cuda::ComputeStream();
  if constexpr (std::is_same_v<T, float>) {
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(dst, dres_.data(), input_grad_count_ * sizeof(float), cudaMemcpyDeviceToDevice, s));
  } else {
    MERIDIAN_RETURN_IF_ERROR(cuda::ConvertBf16ToFloat(dst, dres_.data(), input_grad_count_, s));
  }
  return Status::OK();
}

template <typename T>
Result<double> CudaGPTModel<T>::MeanLoss(int slot_index) {
  MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot_index));
  const Slot& slot = slots_[slot_index];
  if (!stage().last || !slot.have_targets) return Status::FailedPrecondition("CUDA model: no loss without targets");
  const size_t BT = (size_t)slot.batch * slot.seq;
  std::vector<float> host(BT);
  cudaStream_t s = cuda::ComputeStream();
  MERIDIAN_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), slot.losses.data(), BT * sizeof(float), cudaMemcpyDeviceToHost, s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  double sum = 0.0;
  for (float x : host) sum += x;
  return sum / (double)BT;
}

template <typename T>
Status CudaGPTModel<T>::AddLoss(int slot_index) {
  MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot_index));
  const Slot& slot = slots_[slot_index];
  if (!stage().last || !slot.have_targets) return Status::FailedPrecondition("CUDA model: no loss without targets");
  const size_t BT = (size_t)slot.batch * slot.seq;
  return cuda::SumAccumulate(loss_sum_.data(), slot.losses.data(), BT, 1.0 / (double)BT, cuda::ComputeStream());
}

template <typename T>
Result<double> CudaGPTModel<T>::TakeLossSum() {
  cudaStream_t s = cuda::ComputeStream();
  double host = 0.0;
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(&host, loss_sum_.data(), sizeof(double), cudaMemcpyDeviceToHost, s));
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(loss_sum_.data(), 0, sizeof(double), s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  return host;
}

template <typename T>
Result<double> CudaGPTModel<T>::GradSumOfSquares(size_t begin, size_t end) {
  cudaStream_t s = cuda::ComputeStream();
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(sum_.data(), 0, sizeof(double), s));
  if (begin < end) MERIDIAN_RETURN_IF_ERROR(cuda::SumOfSquaresAccumulate(sum_.data(), grads_.data() + begin, end - begin, s));
  double host = 0.0;
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(&host, sum_.data(), sizeof(double), cudaMemcpyDeviceToHost, s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  return host;
}

template <typename T>
Status CudaGPTModel<T>::DownloadLogits(std::vector<float>* host, int slot_index) {
  MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot_index));
  if (!stage().last) return Status::FailedPrecondition("CUDA model: only the last stage has logits");
  const Slot& slot = slots_[slot_index];
  const size_t n = (size_t)slot.batch * slot.seq * config().padded_vocab_size;
  std::vector<T> staged(n);
  cudaStream_t s = cuda::ComputeStream();
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(staged.data(), slot.logits.data(), n * sizeof(T), cudaMemcpyDeviceToHost, s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  host->resize(n);
  for (size_t i = 0; i < n; ++i) (*host)[i] = cuda::ToFloat(staged[i]);
  return Status::OK();
}

template class CudaGPTModel<float>;
template class CudaGPTModel<bf16>;

}  // namespace meridian
