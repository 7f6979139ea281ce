// config.json of a Hugging Face GPT-2 model (transformers' GPT2Config):
// read into a GPTConfig, and written so that GPT2LMHeadModel.from_pretrained
// loads it.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

// Reads n_layer, n_head, n_embd, vocab_size and n_positions (-> max_seq_len;
// padded_vocab_size = PadVocab(vocab_size)) and refuses, with an error
// naming `path` and the field, any setting that would make the model compute
// something other than Meridian's GPT-2: layer_norm_epsilon other than 1e-5,
// an activation other than GELU's tanh approximation, n_inner other than
// 4 * n_embd, untied embeddings, attention without 1/sqrt(head size) or with
// per-layer scaling, or a model_type other than gpt2. Absent optional fields
// take GPT2Config's defaults. Corruption for text that is not a JSON object,
// a missing or mistyped field; InvalidArgument for an unsupported setting.
Result<GPTConfig> ParseHfGpt2Config(const std::string& text, const std::string& path);

// The config.json text (pretty-printed, newline-terminated) for `config`.
// Dropout is 0.0, as Meridian trains; bos/eos are 50256 for the GPT-2
// vocabulary (50257) and null otherwise.
std::string FormatHfGpt2Config(const GPTConfig& config);

}  // namespace meridian
