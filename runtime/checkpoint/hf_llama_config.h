// config.json of a Hugging Face Llama model (transformers' LlamaConfig):
// read into a GPTConfig with arch llama, and written so that
// LlamaForCausalLM.from_pretrained loads it (docs/formats.md "Hugging Face
// Llama").
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

// Reads strictly, naming `path` and the field in every error:
//   architectures must be ["LlamaForCausalLM"] and model_type "llama";
//   hidden_size, intermediate_size, num_attention_heads, num_hidden_layers
//   and vocab_size are required; num_key_value_heads (default: the
//   attention heads), max_position_embeddings (2048), rms_norm_eps (1e-6),
//   rope_theta (10000), rope_scaling (null), tie_word_embeddings (false)
//   take LlamaConfig's defaults when absent; padded_vocab_size is
//   PadVocab(vocab_size).
// Refused as settings Meridian does not compute (InvalidArgument): a
// rope_scaling type other than "llama3" (or "default"), head_dim other than
// hidden_size / num_attention_heads, attention_bias or mlp_bias true,
// hidden_act other than "silu", pretraining_tp other than 1,
// attention_dropout other than 0, a generic PretrainedConfig switch away
// from its default, and any field Meridian does not know. Bookkeeping
// (torch_dtype, dtype, token ids, transformers_version, initializer_range,
// use_cache, _name_or_path) is accepted whatever its value. Corruption for
// text that is not a JSON object, a missing or mistyped field.
Result<GPTConfig> ParseHfLlamaConfig(const std::string& text, const std::string& path);

// The config.json text (pretty-printed, newline-terminated) for a Llama
// `config`: every field ParseHfLlamaConfig reads, written out (defaults
// included, so no reader depends on LlamaConfig's), torch_dtype "float32",
// bos/eos of the Llama 3 vocabulary (128000/128001) or of GPT-2's (50256),
// null for any other vocabulary.
// REQUIRES: config.llama().
std::string FormatHfLlamaConfig(const GPTConfig& config);

}  // namespace meridian
