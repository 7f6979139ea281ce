#include "runtime/checkpoint/hf_llama_config.h"

#include <charconv>
#include <climits>
#include <cstdlib>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint/hf_config_fields.h"

namespace meridian {
namespace {

using json = nlohmann::json;
using hf_config::ConfigFields;

constexpr char kArchitecture[] = "LlamaForCausalLM";
constexpr int kLlama3Vocab = 128256;
constexpr int kLlama3Bos = 128000;  // <|begin_of_text|>
constexpr int kLlama3Eos = 128001;  // <|end_of_text|>
constexpr int kGpt2Vocab = 50257;
constexpr int kGpt2EndOfText = 50256;

// LlamaConfig's defaults for the fields a config.json may leave out.
constexpr int kDefaultMaxPositions = 2048;
constexpr double kDefaultRmsNormEps = 1e-6;
constexpr double kDefaultRopeTheta = 10000.0;

// Fields that do not change what the model computes.
const std::set<std::string>& BookkeepingFields() {
  static const std::set<std::string> fields = {
      "torch_dtype", "dtype", "bos_token_id", "eos_token_id", "pad_token_id", "transformers_version",
      "initializer_range", "use_cache", "_name_or_path"};
  return fields;
}

// PretrainedConfig switches an older save_pretrained may write out: accepted
// at their defaults only.
const std::map<std::string, json>& GenericDefaults() {
  static const std::map<std::string, json> fields = {
      {"output_attentions", false},     {"output_hidden_states", false}, {"return_dict", true},
      {"torchscript", false},           {"is_encoder_decoder", false},   {"is_decoder", false},
      {"add_cross_attention", false},   {"tie_encoder_decoder", false},  {"chunk_size_feed_forward", 0},
      {"pruned_heads", json::object()}, {"problem_type", nullptr}};
  return fields;
}

// Fields ParseHfLlamaConfig reads or checks itself.
const std::set<std::string>& ModelFields() {
  static const std::set<std::string> fields = {
      "architectures", "model_type", "hidden_size", "intermediate_size", "num_attention_heads",
      "num_key_value_heads", "num_hidden_layers", "vocab_size", "max_position_embeddings", "rms_norm_eps",
      "rope_theta", "rope_scaling", "tie_word_embeddings", "head_dim", "attention_bias", "mlp_bias",
      "hidden_act", "pretraining_tp", "attention_dropout"};
  return fields;
}

// Every field is one Meridian reads, bookkeeping, or a generic switch at its default.
Status CheckFieldsKnown(const json& root, const ConfigFields& f) {
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    if (ModelFields().count(name) != 0 || BookkeepingFields().count(name) != 0) continue;
    auto generic = GenericDefaults().find(name);
    if (generic != GenericDefaults().end()) {
      if (it.value() != generic->second) {
        return f.Unsupported(name, "is " + it.value().dump() + "; Meridian supports only its default " +
                                       generic->second.dump());
      }
      continue;
    }
    return f.Unsupported(name.substr(0, 120), "is not a LlamaConfig setting Meridian knows (value " +
                                                  it.value().dump().substr(0, 120) +
                                                  "); remove it if the model computes the same without it");
  }
  return Status::OK();
}

// rope_scaling: null, {"rope_type": "default"}, or Llama 3.1's
// {"rope_type": "llama3", "factor", "low_freq_factor", "high_freq_factor",
// "original_max_position_embeddings"} ("type" is the older spelling).
Result<RopeScaling> ParseRopeScaling(const json& root, const std::string& path) {
  auto it = root.find("rope_scaling");
  if (it == root.end() || it->is_null()) return RopeScaling{};
  const ConfigFields top(root, path);
  if (!it->is_object()) return top.Bad("rope_scaling", "must be null or an object, found " + it->dump());
  const ConfigFields f(*it, path, "rope_scaling");
  const json* rope_type = f.Find("rope_type");
  const json* type = f.Find("type");
  if (rope_type == nullptr && type == nullptr) return f.Bad("rope_type", "is missing");
  const char* type_field = rope_type != nullptr ? "rope_type" : "type";
  const json& kind = rope_type != nullptr ? *rope_type : *type;
  if (!kind.is_string()) return f.Bad(type_field, "must be a string, found " + kind.dump());
  if (rope_type != nullptr && type != nullptr && *rope_type != *type) {
    return f.Bad("type", "is " + type->dump() + " but rope_type is " + rope_type->dump());
  }
  if (kind == "default") return RopeScaling{};
  if (kind != "llama3") {
    return f.Unsupported(type_field, "is " + kind.dump() + "; Meridian computes rope scaling of type \"llama3\" only");
  }
  for (auto field = it->begin(); field != it->end(); ++field) {
    static const std::set<std::string> known = {"rope_type", "type", "factor", "low_freq_factor", "high_freq_factor",
                                                "original_max_position_embeddings"};
    if (known.count(field.key()) == 0) {
      return f.Unsupported(field.key().substr(0, 120), "is not part of llama3 rope scaling");
    }
  }
  RopeScaling r;
  for (const char* required : {"factor", "low_freq_factor", "high_freq_factor"}) {
    if (f.Find(required) == nullptr) return f.Bad(required, "is missing");
  }
  MERIDIAN_ASSIGN_OR_RETURN(r.factor, f.NumberOr("factor", 0.0));
  MERIDIAN_ASSIGN_OR_RETURN(r.low_freq_factor, f.NumberOr("low_freq_factor", 0.0));
  MERIDIAN_ASSIGN_OR_RETURN(r.high_freq_factor, f.NumberOr("high_freq_factor", 0.0));
  MERIDIAN_ASSIGN_OR_RETURN(r.original_max_position_embeddings, f.PositiveInt("original_max_position_embeddings"));
  if (!(r.factor >= 1.0)) return f.Unsupported("factor", "is " + f.Find("factor")->dump() + "; it must be >= 1");
  return r;
}

// The decimal that reads back as `value` in float32, as a double: 1e-5f is
// written "1e-05", not "9.999999747378752e-06".
double ShortestFloat(float value) {
  char text[32];
  const std::to_chars_result r = std::to_chars(text, text + sizeof(text) - 1, value);
  *r.ptr = '\0';
  return std::strtod(text, nullptr);
}

}  // namespace

Result<GPTConfig> ParseHfLlamaConfig(const std::string& text, const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(const json root, hf_config::ParseConfigObject(text, path, "a LlamaConfig"));
  const ConfigFields f(root, path);

  const json* type = f.Find("model_type");
  if (type == nullptr) return f.Bad("model_type", "is missing (expected \"llama\")");
  if (*type != "llama") return f.Unsupported("model_type", "is " + type->dump() + ", expected \"llama\"");
  const json* archs = f.Find("architectures");
  if (archs == nullptr) return f.Bad("architectures", "is missing (expected [\"LlamaForCausalLM\"])");
  if (*archs != json::array({kArchitecture})) {
    return f.Unsupported("architectures", "is " + archs->dump().substr(0, 200) +
                                              "; Meridian reads [\"LlamaForCausalLM\"] (a model with its LM head)");
  }
  MERIDIAN_RETURN_IF_ERROR(CheckFieldsKnown(root, f));

  GPTConfig c;
  c.arch = ModelArch::kLlama;
  MERIDIAN_ASSIGN_OR_RETURN(c.n_embd, f.PositiveInt("hidden_size"));
  MERIDIAN_ASSIGN_OR_RETURN(c.ffn_hidden, f.PositiveInt("intermediate_size"));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_head, f.PositiveInt("num_attention_heads"));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_kv_head, f.PositiveIntOr("num_key_value_heads", c.n_head, true));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_layer, f.PositiveInt("num_hidden_layers"));
  MERIDIAN_ASSIGN_OR_RETURN(c.vocab_size, f.PositiveInt("vocab_size"));
  MERIDIAN_ASSIGN_OR_RETURN(c.max_seq_len, f.PositiveIntOr("max_position_embeddings", kDefaultMaxPositions));
  c.padded_vocab_size = PadVocab(c.vocab_size);
  // Keeps the fused widths ((NH + 2 KVH) hs <= 3C, 2F) within int.
  if (c.n_embd > INT_MAX / 3) return f.Unsupported("hidden_size", "is too large for Meridian");
  if (c.ffn_hidden > INT_MAX / 2) return f.Unsupported("intermediate_size", "is too large for Meridian");

  MERIDIAN_ASSIGN_OR_RETURN(const double eps, f.NumberOr("rms_norm_eps", kDefaultRmsNormEps));
  if (!(eps > 0.0) || eps > 1.0) return f.Unsupported("rms_norm_eps", "is " + f.Find("rms_norm_eps")->dump() +
                                                                          "; it must be in (0, 1]");
  c.norm_eps = static_cast<float>(eps);
  MERIDIAN_ASSIGN_OR_RETURN(c.rope_theta, f.NumberOr("rope_theta", kDefaultRopeTheta));
  if (!(c.rope_theta > 0.0)) return f.Unsupported("rope_theta", "is " + f.Find("rope_theta")->dump() + "; it must be > 0");
  MERIDIAN_ASSIGN_OR_RETURN(c.rope_scaling, ParseRopeScaling(root, path));
  MERIDIAN_ASSIGN_OR_RETURN(c.tie_embeddings, f.BoolOr("tie_word_embeddings", false));

  if (const json* head_dim = f.Find("head_dim"); head_dim != nullptr && !head_dim->is_null()) {
    if (!head_dim->is_number_unsigned()) return f.Bad("head_dim", "must be a positive integer, found " + head_dim->dump());
    if (c.n_embd % c.n_head != 0 || head_dim->get<uint64_t>() != static_cast<uint64_t>(c.n_embd / c.n_head)) {
      return f.Unsupported("head_dim", "is " + head_dim->dump() +
                                           "; Meridian's heads are hidden_size / num_attention_heads wide");
    }
  }
  MERIDIAN_RETURN_IF_ERROR(f.BoolIs("attention_bias", false, "Meridian's Llama attention has no biases"));
  MERIDIAN_RETURN_IF_ERROR(f.BoolIs("mlp_bias", false, "Meridian's Llama MLP has no biases"));
  MERIDIAN_RETURN_IF_ERROR(f.StringIs("hidden_act", "silu", "Meridian's Llama MLP is SwiGLU (silu)"));
  MERIDIAN_RETURN_IF_ERROR(f.NumberIs("pretraining_tp", 1, "Meridian computes the projections unsplit (1)"));
  MERIDIAN_RETURN_IF_ERROR(f.NumberIs("attention_dropout", 0, "Meridian trains without dropout"));

  Status valid = ValidateConfig(c);
  if (!valid.ok()) return Status::InvalidArgument(path + ": " + valid.message());
  return c;
}

std::string FormatHfLlamaConfig(const GPTConfig& c) {
  json bos = nullptr, eos = nullptr;
  if (c.vocab_size == kLlama3Vocab) {
    bos = kLlama3Bos;
    eos = kLlama3Eos;
  } else if (c.vocab_size == kGpt2Vocab) {
    bos = eos = kGpt2EndOfText;
  }
  json rope_scaling = nullptr;
  if (c.rope_scaling.enabled()) {
    const RopeScaling& r = c.rope_scaling;
    rope_scaling = {{"factor", r.factor},
                    {"high_freq_factor", r.high_freq_factor},
                    {"low_freq_factor", r.low_freq_factor},
                    {"original_max_position_embeddings", r.original_max_position_embeddings},
                    {"rope_type", "llama3"}};
  }
  const json j = {
      {"architectures", {kArchitecture}},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"bos_token_id", bos},
      {"eos_token_id", eos},
      {"head_dim", c.head_size()},
      {"hidden_act", "silu"},
      {"hidden_size", c.n_embd},
      {"initializer_range", 0.02},
      {"intermediate_size", c.ffn_size()},
      {"max_position_embeddings", c.max_seq_len},
      {"mlp_bias", false},
      {"model_type", "llama"},
      {"num_attention_heads", c.n_head},
      {"num_hidden_layers", c.n_layer},
      {"num_key_value_heads", c.kv_heads()},
      {"pretraining_tp", 1},
      {"rms_norm_eps", ShortestFloat(c.norm_eps)},
      {"rope_scaling", rope_scaling},
      {"rope_theta", c.rope_theta},
      {"tie_word_embeddings", c.tie_embeddings},
      {"torch_dtype", "float32"},
      {"use_cache", true},
      {"vocab_size", c.vocab_size},
  };
  return j.dump(2) + "\n";
}

}  // namespace meridian
