#include "runtime/model/cuda/cuda_gpt_model.h"

#include <type_traits>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/classifier.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/encoder.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/stream.h"

namespace meridian {

namespace {

// Per-layer activations, in elements of the storage type and of float.
struct LayerCounts {
  size_t t_count, f_count;
};
LayerCounts CountsFor(const GPTConfig& c, int B, int T) {
  const size_t BT = (size_t)B * T, C = c.n_embd;
  // ln1, qkv, atty, residual2, ln2, fch, fch_gelu, residual3
  const size_t t_count = BT * C * (1 + 3 + 1 + 1 + 1 + 4 + 4 + 1);
  // ln1 mean/rstd, ln2 mean/rstd, attention lse (B,NH,T)
  const size_t f_count = 4 * BT + (size_t)B * c.n_head * T;
  return {t_count, f_count};
}

}  // namespace

template <typename T>
Result<std::unique_ptr<CudaGPTModel<T>>> CudaGPTModel<T>::Create(const GPTConfig& config, int max_batch,
                                                                 int max_seq) {
  MERIDIAN_RETURN_IF_ERROR(ValidateConfig(config));
  if (!cuda::AttentionSupportsHeadSize(config.head_size()))
    return Status::InvalidArgument("head size " + std::to_string(config.head_size()) + " (n_embd " +
                                   std::to_string(config.n_embd) + " / n_head " + std::to_string(config.n_head) +
                                   ") is not supported by the CUDA attention kernel (32, 64 or 128)");
  if (max_batch < 1 || max_seq < 1 || max_seq > config.max_seq_len)
    return Status::InvalidArgument("CUDA model: batch " + std::to_string(max_batch) + " x seq " +
                                   std::to_string(max_seq) + " out of range (max_seq_len " +
                                   std::to_string(config.max_seq_len) + ")");
  std::unique_ptr<CudaGPTModel> model(new CudaGPTModel(config));
  MERIDIAN_RETURN_IF_ERROR(model->Allocate(max_batch, max_seq));
  return model;
}

template <typename T>
Status CudaGPTModel<T>::Allocate(int max_batch, int max_seq) {
  max_batch_ = max_batch;
  max_seq_ = max_seq;
  const GPTConfig& c = config();
  const size_t BT = (size_t)max_batch * max_seq, C = c.n_embd, L = c.n_layer;
  MERIDIAN_ASSIGN_OR_RETURN(matmul_, cuda::MatmulContext::Create());
  MERIDIAN_RETURN_IF_ERROR(params_.Allocate(layout_.total()));
  MERIDIAN_RETURN_IF_ERROR(grads_.Allocate(layout_.total()));
  if constexpr (std::is_same_v<T, bf16>) MERIDIAN_RETURN_IF_ERROR(weights_bf16_.Allocate(layout_.total()));
  const LayerCounts counts = CountsFor(c, max_batch, max_seq);
  layer_t_stride_ = counts.t_count;
  layer_f_stride_ = counts.f_count;
  MERIDIAN_RETURN_IF_ERROR(acts_.Allocate(layer_t_stride_ * L));
  MERIDIAN_RETURN_IF_ERROR(stats_.Allocate(layer_f_stride_ * L));
  for (cuda::DeviceBuffer<T>* b : {&encoded_, &lnf_, &scratch_, &dres_, &dbtc_})
    MERIDIAN_RETURN_IF_ERROR(b->Allocate(BT * C));
  MERIDIAN_RETURN_IF_ERROR(logits_.Allocate(BT * c.padded_vocab_size));
  MERIDIAN_RETURN_IF_ERROR(dqkv_.Allocate(BT * 3 * C));
  MERIDIAN_RETURN_IF_ERROR(dfch_.Allocate(BT * 4 * C));
  for (cuda::DeviceBuffer<float>* b : {&lnf_mean_, &lnf_rstd_, &losses_}) MERIDIAN_RETURN_IF_ERROR(b->Allocate(BT));
  MERIDIAN_RETURN_IF_ERROR(delta_.Allocate((size_t)max_batch * c.n_head * max_seq));
  MERIDIAN_RETURN_IF_ERROR(tokens_.Allocate(BT));
  MERIDIAN_RETURN_IF_ERROR(targets_.Allocate(BT));
  MERIDIAN_RETURN_IF_ERROR(sum_.Allocate(1));
  activation_bytes_ = acts_.bytes() + stats_.bytes() + encoded_.bytes() * 5 + logits_.bytes() + dqkv_.bytes() +
                      dfch_.bytes() + lnf_mean_.bytes() * 3 + delta_.bytes() + tokens_.bytes() * 2;
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(grads_.data(), 0, grads_.bytes(), cuda::ComputeStream()));
  return Status::OK();
}

template <typename T>
bf16* CudaGPTModel<T>::compute_weights_bf16() {
  if constexpr (std::is_same_v<T, bf16>) return weights_bf16_.data();
  return nullptr;
}

template <typename T>
const T* CudaGPTModel<T>::W(int index, int layer) const {
  const size_t offset = layout_.LayerCount(index) ? layout_.LayerOffset(index, layer) : layout_.tensor(index).offset;
  if constexpr (std::is_same_v<T, bf16>) return weights_bf16_.data() + offset;
  else return params_.data() + offset;
}

template <typename T>
float* CudaGPTModel<T>::D(int index, int layer) {
  const size_t offset = layout_.LayerCount(index) ? layout_.LayerOffset(index, layer) : layout_.tensor(index).offset;
  return grads_.data() + offset;
}

template <typename T>
typename CudaGPTModel<T>::LayerActs CudaGPTModel<T>::Acts(int l) {
  // Carved with the maximal micro-batch's sizes, so a slot's position does
  // not depend on the current B and T.
  const size_t BTC = (size_t)max_batch_ * max_seq_ * config().n_embd, BT = (size_t)max_batch_ * max_seq_;
  T* p = acts_.data() + layer_t_stride_ * l;
  LayerActs a;
  a.ln1 = p; p += BTC;
  a.qkv = p; p += 3 * BTC;
  a.atty = p; p += BTC;
  a.residual2 = p; p += BTC;
  a.ln2 = p; p += BTC;
  a.fch = p; p += 4 * BTC;
  a.fch_gelu = p; p += 4 * BTC;
  a.residual3 = p;
  float* f = stats_.data() + layer_f_stride_ * l;
  a.ln1_mean = f; f += BT;
  a.ln1_rstd = f; f += BT;
  a.ln2_mean = f; f += BT;
  a.ln2_rstd = f; f += BT;
  a.lse = f;
  return a;
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
Status CudaGPTModel<T>::Forward(const int* tokens, const int* targets, int B, int T_in, bool compute_grad) {
  const GPTConfig& c = config();
  if (B < 1 || T_in < 1 || B > max_batch_ || T_in > max_seq_)
    return Status::InvalidArgument("CUDA model: micro-batch " + std::to_string(B) + " x " + std::to_string(T_in) +
                                   " exceeds the allocated " + std::to_string(max_batch_) + " x " +
                                   std::to_string(max_seq_));
  if (compute_grad && targets == nullptr) return Status::InvalidArgument("CUDA model: compute_grad needs targets");
  cudaStream_t s = cuda::ComputeStream();
  const int C = c.n_embd, NH = c.n_head, L = c.n_layer, BT = B * T_in;
  B_ = B;
  T_ = T_in;
  have_targets_ = targets != nullptr;
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(tokens_.data(), tokens, (size_t)BT * sizeof(int), cudaMemcpyHostToDevice, s));
  if (have_targets_)
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(targets_.data(), targets, (size_t)BT * sizeof(int), cudaMemcpyHostToDevice, s));

  MERIDIAN_RETURN_IF_ERROR(cuda::EncoderForward(encoded_.data(), tokens_.data(), W(kWte), W(kWpe), B, T_in, C, s));
  MERIDIAN_RETURN_IF_ERROR(cuda::LayerNormForward(Acts(0).ln1, Acts(0).ln1_mean, Acts(0).ln1_rstd, encoded_.data(),
                                                  W(kLn1w, 0), W(kLn1b, 0), BT, C, s));
  T* scratch = scratch_.data();
  for (int l = 0; l < L; ++l) {
    const LayerActs a = Acts(l);
    const T* input = l == 0 ? encoded_.data() : Acts(l - 1).residual3;
    // a.ln1 = LayerNorm1(input) was produced by the previous step (fused
    // with the residual add that made `input`).
    MERIDIAN_RETURN_IF_ERROR(
        cuda::MatmulForward<T>(matmul_.get(), a.qkv, nullptr, a.ln1, W(kQkvw, l), W(kQkvb, l), BT, C, 3 * C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::AttentionForward<T>(a.atty, a.lse, a.qkv, B, T_in, C, NH, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), scratch, nullptr, a.atty, W(kAttprojw, l),
                                                    W(kAttprojb, l), BT, C, C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::ResidualLayerNormForward<T>(a.residual2, a.ln2, a.ln2_mean, a.ln2_rstd, input,
                                                               scratch, W(kLn2w, l), W(kLn2b, l), BT, C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), a.fch_gelu, a.fch, a.ln2, W(kFcw, l), W(kFcb, l),
                                                    BT, C, 4 * C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), scratch, nullptr, a.fch_gelu, W(kFcprojw, l),
                                                    W(kFcprojb, l), BT, 4 * C, C, s));
    // The block's second residual add, fused with whichever LayerNorm
    // reads it next: the next layer's first, or the final one.
    if (l + 1 < L) {
      const LayerActs next = Acts(l + 1);
      MERIDIAN_RETURN_IF_ERROR(cuda::ResidualLayerNormForward<T>(a.residual3, next.ln1, next.ln1_mean,
                                                                 next.ln1_rstd, a.residual2, scratch,
                                                                 W(kLn1w, l + 1), W(kLn1b, l + 1), BT, C, s));
    } else {
      MERIDIAN_RETURN_IF_ERROR(cuda::ResidualLayerNormForward<T>(a.residual3, lnf_.data(), lnf_mean_.data(),
                                                                 lnf_rstd_.data(), a.residual2, scratch, W(kLnfw),
                                                                 W(kLnfb), BT, C, s));
    }
  }
  MERIDIAN_RETURN_IF_ERROR(cuda::MatmulForward<T>(matmul_.get(), logits_.data(), nullptr, lnf_.data(), W(kWte),
                                                  nullptr, BT, C, c.padded_vocab_size, s));
  have_dlogits_ = compute_grad;
  if (!have_targets_) return Status::OK();
  // As on the CPU, dlogits arrive pre-scaled by the mean over the
  // micro-batch and the caller's loss scale.
  return cuda::SoftmaxCrossEntropy<T>(logits_.data(), losses_.data(), targets_.data(), BT, c.vocab_size,
                                      c.padded_vocab_size, loss_scale_ / BT, compute_grad, s);
}

template <typename T>
Status CudaGPTModel<T>::Backward() {
  if (!have_dlogits_) return Status::FailedPrecondition("CUDA model: Backward without a compute_grad Forward");
  have_dlogits_ = false;
  const GPTConfig& c = config();
  cudaStream_t s = cuda::ComputeStream();
  const int B = B_, T_len = T_, C = c.n_embd, NH = c.n_head, L = c.n_layer, BT = B * T_len;
  cuda::MatmulContext* mm = matmul_.get();
  T* dres = dres_.data();
  T* dbtc = dbtc_.data();
  T* dfch = dfch_.data();

  // The logits buffer holds dlogits after a compute_grad Forward.
  MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dbtc, D(kWte), nullptr, logits_.data(), lnf_.data(), W(kWte),
                                                   BT, C, c.padded_vocab_size, s));
  MERIDIAN_CUDA_CHECK(cudaMemsetAsync(dres, 0, (size_t)BT * C * sizeof(T), s));
  MERIDIAN_RETURN_IF_ERROR(cuda::LayerNormBackward<T>(dres, D(kLnfw), D(kLnfb), dbtc, Acts(L - 1).residual3, W(kLnfw),
                                                      lnf_mean_.data(), lnf_rstd_.data(), BT, C, s));
  // dres is the gradient of the running residual stream; each sub-block
  // adds its input gradient onto it.
  for (int l = L - 1; l >= 0; --l) {
    const LayerActs a = Acts(l);
    const T* input = l == 0 ? encoded_.data() : Acts(l - 1).residual3;
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dfch, D(kFcprojw, l), D(kFcprojb, l), dres, a.fch_gelu,
                                                     W(kFcprojw, l), BT, 4 * C, C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::GeluBackward<T>(dfch, a.fch, dfch, (size_t)BT * 4 * C, s));
    MERIDIAN_RETURN_IF_ERROR(
        cuda::MatmulBackward<T>(mm, dbtc, D(kFcw, l), D(kFcb, l), dfch, a.ln2, W(kFcw, l), BT, C, 4 * C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::LayerNormBackward<T>(dres, D(kLn2w, l), D(kLn2b, l), dbtc, a.residual2,
                                                        W(kLn2w, l), a.ln2_mean, a.ln2_rstd, BT, C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dbtc, D(kAttprojw, l), D(kAttprojb, l), dres, a.atty,
                                                     W(kAttprojw, l), BT, C, C, s));
    MERIDIAN_RETURN_IF_ERROR(
        cuda::AttentionBackward<T>(dqkv_.data(), delta_.data(), dbtc, a.atty, a.qkv, a.lse, B, T_len, C, NH, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::MatmulBackward<T>(mm, dbtc, D(kQkvw, l), D(kQkvb, l), dqkv_.data(), a.ln1,
                                                     W(kQkvw, l), BT, C, 3 * C, s));
    MERIDIAN_RETURN_IF_ERROR(cuda::LayerNormBackward<T>(dres, D(kLn1w, l), D(kLn1b, l), dbtc, input, W(kLn1w, l),
                                                        a.ln1_mean, a.ln1_rstd, BT, C, s));
    if (backward_hook_) backward_hook_(l);
  }
  MERIDIAN_RETURN_IF_ERROR(cuda::EncoderBackward<T>(D(kWte), D(kWpe), dres, tokens_.data(), B, T_len, C, s));
  if (backward_hook_) backward_hook_(-1);
  return Status::OK();
}

template <typename T>
Result<double> CudaGPTModel<T>::MeanLoss() {
  if (!have_targets_) return Status::FailedPrecondition("CUDA model: no loss without targets");
  const size_t BT = (size_t)B_ * T_;
  std::vector<float> host(BT);
  cudaStream_t s = cuda::ComputeStream();
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(host.data(), losses_.data(), BT * sizeof(float), cudaMemcpyDeviceToHost, s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  double sum = 0.0;
  for (float x : host) sum += x;
  return sum / (double)BT;
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
Status CudaGPTModel<T>::DownloadLogits(std::vector<float>* host) {
  const size_t n = (size_t)B_ * T_ * config().padded_vocab_size;
  std::vector<T> staged(n);
  cudaStream_t s = cuda::ComputeStream();
  MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(staged.data(), logits_.data(), n * sizeof(T), cudaMemcpyDeviceToHost, s));
  MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
  host->resize(n);
  for (size_t i = 0; i < n; ++i) (*host)[i] = cuda::ToFloat(staged[i]);
  return Status::OK();
}

template class CudaGPTModel<float>;
template class CudaGPTModel<bf16>;

}  // namespace meridian
