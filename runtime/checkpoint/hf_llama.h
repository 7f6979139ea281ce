// Hugging Face Llama interchange: import the weights of a transformers
// LlamaForCausalLM saved with save_pretrained as safetensors (one file or
// shards), and export ours so that LlamaForCausalLM.from_pretrained loads
// them.
//
// A model directory holds config.json (see hf_llama_config.h) and
// model.safetensors or model.safetensors.index.json with its shards (see
// hf_weight_set.h). Every Hugging Face tensor is a Linear weight [out, in]
// like ours, so each maps onto one contiguous range of the flat layout
// (ParameterLayout; docs/formats.md "Hugging Face Llama"), N = 0 .. L-1:
//   model.embed_tokens.weight [V,C]                 -> wte [Vp,C], rows V..Vp-1 zero
//   model.layers.N.self_attn.q_proj.weight [NH hs,C]  -> qkvw [N] rows 0 .. NH hs
//   model.layers.N.self_attn.k_proj.weight [KVH hs,C] -> qkvw [N] the next KVH hs rows
//   model.layers.N.self_attn.v_proj.weight [KVH hs,C] -> qkvw [N] the last KVH hs rows
//   model.layers.N.self_attn.o_proj.weight [C,NH hs]  -> attprojw [N]
//   model.layers.N.mlp.gate_proj.weight [F,C]       -> fcw [N] rows 0 .. F
//   model.layers.N.mlp.up_proj.weight [F,C]         -> fcw [N] rows F .. 2F
//   model.layers.N.mlp.down_proj.weight [C,F]       -> fcprojw [N]
//   model.layers.N.input_layernorm.weight [C]       -> ln1w [N]
//   model.layers.N.post_attention_layernorm.weight [C] -> ln2w [N]
//   model.norm.weight [C]                           -> lnfw
//   lm_head.weight [V,C] (untied only)              -> lm_head [Vp,C], rows V..Vp-1 zero
// q_proj and k_proj are in Hugging Face's rotate-half order, which
// Meridian's rotary kernel uses too: no rows are permuted.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/checkpoint/hf_weight_set.h"
#include "runtime/checkpoint/llmc_format.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

// `path` is a model directory, or a .safetensors file with config.json
// beside it. The returned config has arch llama. F32, F16 and BF16 weights
// load (converted to float32). Errors name the file:
//   NotFound         no config.json or weights, a shard the index names is
//                    missing (see HfWeightSet::Open);
//   Corruption       a malformed config.json, index or safetensors file, a
//                    missing tensor (named, with its expected shape), one of
//                    the wrong shape (named, with both shapes), a tensor this
//                    Llama does not have (named; a layer beyond
//                    num_hidden_layers, lm_head.weight of another shape);
//   InvalidArgument  a config Meridian cannot compute (see
//                    ParseHfLlamaConfig), a non-float weight, an
//                    lm_head.weight that differs from the embedding while
//                    config.json ties them.
// Rotary inverse-frequency buffers (model.layers.N.self_attn.rotary_emb.
// inv_freq) that older exports saved are ignored: Meridian derives them
// from rope_theta.
Result<LlmcModel> ReadHfLlama(const std::string& path);

// Writes `dir`/config.json and the weights (float32, the names above, wte
// and lm_head cut to their V real rows, lm_head only when untied): one
// model.safetensors up to `max_shard_bytes`, shards and
// model.safetensors.index.json above it (WriteHfWeights). Creates `dir` if
// needed; every file is written atomically, config.json last.
// REQUIRES: `params` points at NumParameters(config) floats.
// InvalidArgument (naming `dir`) for a config that is not Llama or fails
// ValidateConfig, or a null `params`; IOError when creating or writing fails.
Status WriteHfLlama(const std::string& dir, const GPTConfig& config, const float* params,
                    uint64_t max_shard_bytes = kHfDefaultMaxShardBytes);

}  // namespace meridian
