// Hugging Face GPT-2 interchange: import the weights of a transformers
// GPT2LMHeadModel (or GPT2Model) saved with save_pretrained as safetensors,
// and export ours so that GPT2LMHeadModel.from_pretrained loads them.
//
// A model directory holds model.safetensors and config.json (see
// hf_gpt2_config.h). The tensors map onto the flat llm.c layout
// (ParameterLayout; docs/formats.md "Hugging Face GPT-2"):
//   transformer.wte.weight [V,C]          -> wte [Vp,C], rows V..Vp-1 zero
//   transformer.wpe.weight [maxT,C]       -> wpe
//   transformer.h.N.ln_1.{weight,bias}    -> ln1w, ln1b
//   transformer.h.N.attn.c_attn.weight [C,3C]  -> qkvw [3C,C] (transposed:
//       HF's Conv1D stores [in, out], llm.c [out, in])
//   transformer.h.N.attn.c_attn.bias, attn.c_proj.{weight [C,C] transposed, bias}
//   transformer.h.N.ln_2.{weight,bias}
//   transformer.h.N.mlp.c_fc.weight [C,4C] -> fcw [4C,C] (transposed), c_fc.bias
//   transformer.h.N.mlp.c_proj.weight [4C,C] -> fcprojw [C,4C] (transposed), c_proj.bias
//   transformer.ln_f.{weight,bias}        -> lnfw, lnfb
// Names without "transformer." (as GPT2Model saves them) are accepted too.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/checkpoint/hf_weight_set.h"
#include "runtime/checkpoint/llmc_format.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

// `path` is a model directory, or a .safetensors file with config.json
// beside it. F32, F16 and BF16 weights load (converted to float32).
// lm_head.weight is accepted only when it equals wte (tied); the attention
// mask buffers attn.bias / attn.masked_bias of older checkpoints and tensors
// outside the model (e.g. a classification head) are ignored. Errors name
// the file:
//   NotFound         no model.safetensors / config.json (a sharded
//                    checkpoint or pytorch_model.bin is named as such);
//   Corruption       a malformed safetensors file or config.json, a missing
//                    tensor (named, with its expected shape), a tensor of
//                    the wrong shape (named, with both shapes), a tensor of
//                    the model that GPT-2 of this config does not have (e.g.
//                    a layer beyond n_layer);
//   InvalidArgument  a config Meridian cannot compute (see
//                    ParseHfGpt2Config), a non-float weight, an untied head.
Result<LlmcModel> ReadHfGpt2(const std::string& path);

// Writes `dir`/model.safetensors (float32, transformer.* names as
// GPT2LMHeadModel saves them, Conv1D weights transposed back, wte cut to its
// V real rows, no lm_head: it is tied) and `dir`/config.json, each
// atomically; creates `dir` if needed. The padded wte rows are not written:
// they never affect the loss, and a reader gets them back as zeros.
// REQUIRES: `params` points at NumParameters(config) floats.
// InvalidArgument (naming `dir`) for a Llama config (WriteHfLlama writes
// those), a config that fails ValidateConfig or a null `params`; IOError
// when creating or writing fails.
Status WriteHfGpt2(const std::string& dir, const GPTConfig& config, const float* params);

}  // namespace meridian
