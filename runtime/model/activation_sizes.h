// Floats of activations and backward workspace a stage keeps, as GPTModel
// allocates them; the placement engine prices memory with the same numbers.
#pragma once

#include <cstddef>

#include "runtime/model/gpt_config.h"

namespace meridian {

// One layer's activations for a (B,T) micro-batch, in GPTModel's order.
// fch holds the first MLP matrix's output (GPT-2: fc; Llama: gate and up),
// fch_gelu the activation's (GELU or SwiGLU); RMSNorm keeps no mean.
struct LayerActivationSizes {
  size_t ln1, ln1_mean, ln1_rstd, qkv, atty, att, residual2, ln2, ln2_mean, ln2_rstd, fch, fch_gelu, residual3;
  size_t total() const {
    return ln1 + ln1_mean + ln1_rstd + qkv + atty + att + residual2 + ln2 + ln2_mean + ln2_rstd + fch + fch_gelu +
           residual3;
  }
};
// keeps_scores: the attention keeps its (B,NH,T,T) probabilities for the
// backward pass (the CPU model); false for a fused attention that keeps one
// log-sum-exp per row and head (the CUDA model).
LayerActivationSizes LayerActivationSizesFor(const GPTConfig& config, int B, int T, bool keeps_scores = true);

// The backward workspace, reused layer by layer: the (B,T,C) scratch,
// residual gradient and sub-block gradient, dqkv, the MLP's two gradients
// and the attention scores' gradient.
size_t BackwardWorkspaceFloats(const GPTConfig& config, int B, int T, bool keeps_scores = true);

}  // namespace meridian
