// GPT-2 forward and backward for one pipeline stage (the whole model is the
// stage that is both first and last). The model knows nothing about
// distribution: parallel modes drive it from outside through the stage's
// inputs, outputs and flat parameter/gradient buffers.
#pragma once

#include <cstddef>
#include <vector>

#include "runtime/model/gpt_config.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

class GPTModel {
 public:
  // Allocates parameters, gradients and activations for micro-batches of up
  // to max_batch sequences of up to max_seq tokens.
  // REQUIRES: ValidateConfig(config).ok(), max_seq <= config.max_seq_len.
  GPTModel(const GPTConfig& config, const StageSpec& stage, int max_batch, int max_seq);

  const GPTConfig& config() const { return layout_.config(); }
  const ParameterLayout& layout() const { return layout_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  size_t num_params() const { return params_.size(); }
  int max_batch() const { return max_batch_; }
  int max_seq() const { return max_seq_; }

  // GPT-2 initialisation, deterministic for a seed: normal(0, 0.02) weights,
  // residual output projections scaled by 1/sqrt(2 n_layer), zero biases,
  // LayerNorm weight 1, padded vocabulary rows zero.
  void InitializeWeights(unsigned long long seed);

  // Runs the stage on a (B,T) micro-batch. The first stage reads `tokens`
  // (B,T); others read `input_acts` (B,T,C). The last stage computes the
  // loss when `targets` is non-null; mean_loss() then returns it.
  // compute_grad prepares the last stage's dlogits for Backward.
  void Forward(const int* tokens, const float* input_acts, const int* targets, int B, int T, bool compute_grad);

  // Accumulates parameter gradients of the last Forward (which must have had
  // compute_grad). The last stage starts from its loss, scaled by
  // loss_scale (1/grad_accum steps, say); other stages from `doutput`
  // (B,T,C).
  void Backward(const float* doutput);

  void ZeroGrads();

  // Last Forward's results.
  float mean_loss() const { return mean_loss_; }
  const float* losses() const { return losses_.data(); }  // (B,T)
  const float* output_acts() const;                       // (B,T,C), non-last stages
  const float* logits() const { return logits_.data(); }  // (B,T,Vp) after a no-grad Forward
  const float* dinput() const { return dresidual_.data(); }  // (B,T,C), after Backward

  void set_loss_scale(float s) { loss_scale_ = s; }

  // Bytes of activations and workspace held, for reports.
  size_t activation_bytes() const;

 private:
  struct LayerActs {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *residual2, *ln2, *ln2_mean, *ln2_rstd, *fch,
        *fch_gelu, *residual3;
  };
  LayerActs Acts(int local_layer);
  const float* LayerInput(int local_layer) const;

  ParameterLayout layout_;
  int max_batch_, max_seq_;
  std::vector<float> params_, grads_;

  // Activations, per layer slices of max_batch*max_seq rows.
  std::vector<float> encoded_;      // (B,T,C)  first stage's input, or a copy of input_acts
  std::vector<float> layer_acts_;   // all LayerActs slices
  size_t layer_stride_ = 0;
  std::vector<float> lnf_, lnf_mean_, lnf_rstd_, logits_, losses_;
  std::vector<float> scratch_btc_;  // (B,T,C) attproj / fcproj outputs
  // Backward workspace, reused layer by layer.
  std::vector<float> dresidual_, dbtc_, dqkv_, dfch_, dfch_gelu_, datt_scratch_;

  int B_ = 0, T_ = 0;
  float mean_loss_ = 0.0f;
  float loss_scale_ = 1.0f;
  std::vector<int> tokens_;  // first stage: the last Forward's tokens, for the embedding backward
};

}  // namespace meridian
