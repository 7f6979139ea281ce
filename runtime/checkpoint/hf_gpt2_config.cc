#include "runtime/checkpoint/hf_gpt2_config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint/hf_config_fields.h"

namespace meridian {
namespace {

using json = nlohmann::json;

constexpr double kLayerNormEpsilon = 1e-5;  // kernels/cpu/layernorm.h
constexpr int kGpt2Vocab = 50257;
constexpr int kGpt2EndOfText = 50256;

}  // namespace

Result<GPTConfig> ParseHfGpt2Config(const std::string& text, const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(const json root, hf_config::ParseConfigObject(text, path, "a GPT2Config"));
  const hf_config::ConfigFields f(root, path);

  if (const json* type = f.Find("model_type"); type != nullptr && *type != "gpt2") {
    return f.Unsupported("model_type", "is " + type->dump() + ", expected \"gpt2\"");
  }
  GPTConfig c;
  MERIDIAN_ASSIGN_OR_RETURN(c.n_layer, f.PositiveInt("n_layer"));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_head, f.PositiveInt("n_head"));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_embd, f.PositiveInt("n_embd"));
  MERIDIAN_ASSIGN_OR_RETURN(c.vocab_size, f.PositiveInt("vocab_size"));
  MERIDIAN_ASSIGN_OR_RETURN(c.max_seq_len, f.PositiveInt("n_positions"));
  c.padded_vocab_size = PadVocab(c.vocab_size);

  if (const json* eps = f.Find("layer_norm_epsilon"); eps != nullptr) {
    if (!eps->is_number()) return f.Bad("layer_norm_epsilon", "must be a number, found " + eps->dump());
    // Relative slack admits 1e-5 that went through float32 on its way here.
    if (std::fabs(eps->get<double>() - kLayerNormEpsilon) > 1e-6 * kLayerNormEpsilon) {
      return f.Unsupported("layer_norm_epsilon", "is " + eps->dump() +
                                                     "; Meridian's LayerNorm uses 1e-5 and cannot load this model");
    }
  }
  if (const json* act = f.Find("activation_function"); act != nullptr) {
    // All three names are GELU's tanh approximation, which Meridian computes.
    if (*act != "gelu_new" && *act != "gelu_pytorch_tanh" && *act != "gelu_fast") {
      return f.Unsupported("activation_function",
                           "is " + act->dump() + "; Meridian computes GELU's tanh approximation (gelu_new) only");
    }
  }
  if (const json* inner = f.Find("n_inner"); inner != nullptr && !inner->is_null()) {
    if (!inner->is_number_unsigned() || inner->get<uint64_t>() != 4 * static_cast<uint64_t>(c.n_embd)) {
      return f.Unsupported("n_inner", "is " + inner->dump() + "; Meridian's MLP is 4 * n_embd = " +
                                          std::to_string(4 * static_cast<uint64_t>(c.n_embd)) + " wide");
    }
  }
  MERIDIAN_RETURN_IF_ERROR(f.BoolIs("tie_word_embeddings", true, "Meridian ties the LM head to wte"));
  MERIDIAN_RETURN_IF_ERROR(f.BoolIs("scale_attn_weights", true, "Meridian scales attention by 1/sqrt(head size)"));
  MERIDIAN_RETURN_IF_ERROR(
      f.BoolIs("scale_attn_by_inverse_layer_idx", false, "Meridian does not scale attention per layer"));

  Status valid = ValidateConfig(c);
  if (!valid.ok()) return Status::InvalidArgument(path + ": " + valid.message());
  return c;
}

std::string FormatHfGpt2Config(const GPTConfig& c) {
  const bool gpt2_vocab = c.vocab_size == kGpt2Vocab;
  json j = {
      {"activation_function", "gelu_new"},
      {"architectures", {"GPT2LMHeadModel"}},
      {"attn_pdrop", 0.0},
      {"bos_token_id", gpt2_vocab ? json(kGpt2EndOfText) : json(nullptr)},
      {"embd_pdrop", 0.0},
      {"eos_token_id", gpt2_vocab ? json(kGpt2EndOfText) : json(nullptr)},
      {"initializer_range", 0.02},
      {"layer_norm_epsilon", kLayerNormEpsilon},
      {"model_type", "gpt2"},
      {"n_ctx", c.max_seq_len},
      {"n_embd", c.n_embd},
      {"n_head", c.n_head},
      {"n_inner", nullptr},
      {"n_layer", c.n_layer},
      {"n_positions", c.max_seq_len},
      {"reorder_and_upcast_attn", false},
      {"resid_pdrop", 0.0},
      {"scale_attn_by_inverse_layer_idx", false},
      {"scale_attn_weights", true},
      {"summary_activation", nullptr},
      {"summary_first_dropout", 0.0},
      {"summary_proj_to_labels", true},
      {"summary_type", "cls_index"},
      {"summary_use_proj", true},
      {"tie_word_embeddings", true},
      {"torch_dtype", "float32"},
      {"use_cache", true},
      {"vocab_size", c.vocab_size},
  };
  return j.dump(2) + "\n";
}

}  // namespace meridian
