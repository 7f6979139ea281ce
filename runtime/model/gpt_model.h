// Forward and backward of GPT-2 or Llama (by the config's arch) for one pipeline stage (the whole model is the
// stage that is both first and last). The model knows nothing about
// distribution: parallel modes drive it from outside through the stage's
// inputs, outputs and flat parameter/gradient buffers.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "runtime/model/gpt_config.h"
#include "runtime/model/parameter_layout.h"
#include "runtime/model/rope_frequencies.h"

namespace meridian {

class GPTModel {
 public:
  // Allocates parameters, gradients and `num_slots` sets of activations for
  // micro-batches of up to max_batch sequences of up to max_seq tokens. A
  // pipeline keeps one slot per micro-batch in flight; everything else uses 1.
  // REQUIRES: ValidateConfig(config).ok(), max_seq <= config.max_seq_len.
  GPTModel(const GPTConfig& config, const StageSpec& stage, int max_batch, int max_seq, int num_slots = 1);

  const GPTConfig& config() const { return layout_.config(); }
  const ParameterLayout& layout() const { return layout_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  size_t num_params() const { return params_.size(); }
  int max_batch() const { return max_batch_; }
  int max_seq() const { return max_seq_; }

  // GPT-2 initialisation (Llama too), deterministic for a seed: normal(0,
  // 0.02) weights, residual output projections scaled by 1/sqrt(2 n_layer),
  // zero biases, norm weights 1, padded vocabulary rows zero.
  void InitializeWeights(unsigned long long seed);

  // Runs the stage on a (B,T) micro-batch. The first stage reads `tokens`
  // (B,T); others read `input_acts` (B,T,C). The last stage computes the
  // loss when `targets` is non-null; mean_loss() then returns it.
  // compute_grad prepares the last stage's dlogits for Backward.
  void Forward(const int* tokens, const float* input_acts, const int* targets, int B, int T, bool compute_grad,
               int slot = 0);

  // Accumulates parameter gradients of the slot's last Forward (which must
  // have had compute_grad). The last stage starts from its loss, scaled by
  // loss_scale (1/micro-batches, say); other stages from `doutput` (B,T,C).
  // The backward hook, if set, runs after each layer's gradients are final
  // (local layer index, last layer first) and once more with -1 at the end.
  void Backward(const float* doutput, int slot = 0);
  void set_backward_hook(std::function<void(int)> hook) { backward_hook_ = std::move(hook); }

  void ZeroGrads();

  // Results of the slot's last Forward / Backward.
  float mean_loss(int slot = 0) const { return slots_[slot].mean_loss; }
  const float* losses(int slot = 0) const { return slots_[slot].losses.data(); }  // (B,T)
  const float* output_acts(int slot = 0) const;                                  // (B,T,C), non-last stages
  const float* logits(int slot = 0) const { return slots_[slot].logits.data(); } // (B,T,Vp), no-grad Forward
  const float* dinput() const { return dresidual_.data(); }  // (B,T,C), after the latest Backward
  int num_slots() const { return (int)slots_.size(); }

  void set_loss_scale(float s) { loss_scale_ = s; }

  // Bytes of activations and workspace held, for reports.
  size_t activation_bytes() const;

 private:
  struct LayerActs {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *residual2, *ln2, *ln2_mean, *ln2_rstd, *fch,
        *fch_gelu, *residual3;
  };
  // Everything one micro-batch's backward needs from its forward.
  struct Slot {
    std::vector<float> encoded;     // (B,T,C) the first stage's embedding, or a copy of input_acts
    std::vector<float> layer_acts;  // per layer, LayerActs slices of max_batch*max_seq rows
    std::vector<float> lnf, lnf_mean, lnf_rstd, logits, losses;
    std::vector<int> tokens;        // first stage: for the embedding backward
    int B = 0, T = 0;
    float mean_loss = 0.0f;
  };
  LayerActs Acts(Slot& slot, int local_layer) const;
  // A parameter tensor (local_layer -1: not per-layer) or its gradient; null
  // when the stage or architecture lacks it.
  const float* Tensor(int index, int local_layer) const;
  float* Grad(int index, int local_layer);
  // The LM head: the token embedding when tied, lm_head otherwise.
  int HeadIndex() const { return config().tie_embeddings ? kWte : kLmHead; }
  const float* HeadWeight() const { return Tensor(HeadIndex(), -1); }
  const float* LayerInput(const Slot& slot, int local_layer) const;

  ParameterLayout layout_;
  int max_batch_, max_seq_;
  std::vector<float> params_, grads_;

  std::vector<Slot> slots_;
  size_t layer_stride_ = 0;
  std::vector<float> scratch_btc_;  // (B,T,C) attproj / fcproj outputs
  // Backward workspace, reused layer by layer.
  std::vector<float> dresidual_, dbtc_, dqkv_, dfch_, dfch_gelu_, datt_scratch_;

  RopeTables rope_;  // Llama: cos/sin for positions < max_seq

  float loss_scale_ = 1.0f;
  std::function<void(int)> backward_hook_;
};

}  // namespace meridian
