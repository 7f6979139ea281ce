#include "runtime/checkpoint/hf_llama.h"

#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/hf_config_fields.h"
#include "runtime/checkpoint/hf_llama_config.h"
#include "runtime/checkpoint/hf_weight_set.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;

constexpr char kEmbedding[] = "model.embed_tokens.weight";
constexpr char kHead[] = "lm_head.weight";

// One Hugging Face tensor and the contiguous range of the flat buffer it is.
struct LlamaTensor {
  std::string name;
  std::vector<uint64_t> shape;  // [out, in] or [n]
  size_t offset = 0;            // floats into the flat buffer
};

// Visits the model's tensors in LlamaForCausalLM's state_dict order, one at
// a time, stopping at the first error: a config read from a file may claim
// billions of layers, and the reader must fail at the first missing tensor
// without listing them all. REQUIRES: CheckedParameterCount(config).
Status ForEachLlamaTensor(const GPTConfig& c, const std::function<Status(const LlamaTensor&)>& visit) {
  const ParameterLayout layout(c, WholeModel(c));
  const uint64_t C = c.n_embd, V = c.vocab_size, F = c.ffn_size();
  const uint64_t Q = uint64_t(c.n_head) * c.head_size(), KV = uint64_t(c.kv_heads()) * c.head_size();
  MERIDIAN_RETURN_IF_ERROR(visit({kEmbedding, {V, C}, layout.tensor(kWte).offset}));
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const size_t qkv = layout.LayerOffset(kQkvw, l), fc = layout.LayerOffset(kFcw, l);
    MERIDIAN_RETURN_IF_ERROR(visit({p + "self_attn.q_proj.weight", {Q, C}, qkv}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "self_attn.k_proj.weight", {KV, C}, qkv + Q * C}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "self_attn.v_proj.weight", {KV, C}, qkv + (Q + KV) * C}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "self_attn.o_proj.weight", {C, Q}, layout.LayerOffset(kAttprojw, l)}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "mlp.gate_proj.weight", {F, C}, fc}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "mlp.up_proj.weight", {F, C}, fc + F * C}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "mlp.down_proj.weight", {C, F}, layout.LayerOffset(kFcprojw, l)}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "input_layernorm.weight", {C}, layout.LayerOffset(kLn1w, l)}));
    MERIDIAN_RETURN_IF_ERROR(visit({p + "post_attention_layernorm.weight", {C}, layout.LayerOffset(kLn2w, l)}));
  }
  MERIDIAN_RETURN_IF_ERROR(visit({"model.norm.weight", {C}, layout.tensor(kLnfw).offset}));
  if (c.tie_embeddings) return Status::OK();
  return visit({kHead, {V, C}, layout.tensor(kLmHead).offset});
}

// "model.layers.N.self_attn.rotary_emb.inv_freq": a buffer older
// transformers saved, derived from rope_theta.
bool IsRotaryBuffer(const std::string& name) {
  const std::string prefix = "model.layers.", suffix = ".self_attn.rotary_emb.inv_freq";
  if (name.rfind(prefix, 0) != 0 || name.size() <= prefix.size() + suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const std::string layer = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  return layer.find_first_not_of("0123456789") == std::string::npos;
}

// Every tensor the config needs is present, float, and of its shape, so
// that the allocation that follows is backed by bytes the files hold.
Status CheckTensors(const HfWeightSet& set, const GPTConfig& c, std::set<std::string>* expected) {
  return ForEachLlamaTensor(c, [&](const LlamaTensor& t) -> Status {
    const HfWeightEntry* found = set.Find(t.name);
    if (found == nullptr) {
      std::string why = "tensor '" + t.name + "' is missing (expected shape " + FormatShape(t.shape) + " for " +
                        DescribeConfig(c) + ")";
      if (t.name == kHead) why += "; config.json unties the head (tie_word_embeddings false)";
      return Status::Corruption(set.source() + ": " + why);
    }
    const SafetensorsTensorInfo& info = *found->info;
    if (info.shape != t.shape) {
      return Status::Corruption(found->file->path() + ": tensor '" + t.name + "' has shape " +
                                FormatShape(info.shape) + ", expected " + FormatShape(t.shape) + " for " +
                                DescribeConfig(c));
    }
    if (!IsFloatSafetensorsDtype(info.dtype)) {
      return Status::InvalidArgument(found->file->path() + ": tensor '" + t.name + "' has dtype " + info.dtype +
                                     "; weights must be F32, F16 or BF16");
    }
    expected->insert(t.name);
    return Status::OK();
  });
}

// Nothing beyond the model: a tensor of another layer count or another
// architecture means config.json does not describe these weights. A tied
// head may come along (checked against the embedding afterwards).
Status CheckNoStrayTensors(const HfWeightSet& set, const GPTConfig& c, const std::set<std::string>& expected) {
  for (const auto& [name, entry] : set.tensors()) {
    if (expected.count(name) != 0 || IsRotaryBuffer(name)) continue;
    if (name == kHead && c.tie_embeddings) {
      const std::vector<uint64_t> shape = {uint64_t(c.vocab_size), uint64_t(c.n_embd)};
      if (entry.info->shape == shape) continue;
      return Status::Corruption(entry.file->path() + ": tensor 'lm_head.weight' has shape " +
                                FormatShape(entry.info->shape) + ", expected " + FormatShape(shape) +
                                " (tied to " + kEmbedding + ")");
    }
    return Status::Corruption(entry.file->path() + ": tensor '" + name.substr(0, 120) + "' is not part of " +
                              DescribeConfig(c) + " as config.json describes it");
  }
  return Status::OK();
}

// A tied model's saved head must be the embedding itself.
Status CheckTiedHead(const HfWeightSet& set, const GPTConfig& c, const float* wte) {
  const HfWeightEntry* head = set.Find(kHead);
  if (!c.tie_embeddings || head == nullptr) return Status::OK();
  if (!IsFloatSafetensorsDtype(head->info->dtype)) {
    return Status::InvalidArgument(head->file->path() + ": tensor 'lm_head.weight' has dtype " + head->info->dtype +
                                   "; weights must be F32, F16 or BF16");
  }
  std::vector<float> values(static_cast<size_t>(head->info->num_elements));
  MERIDIAN_RETURN_IF_ERROR(head->file->ReadFloat32(*head->info, values.data()));
  if (std::memcmp(values.data(), wte, values.size() * sizeof(float)) != 0) {
    return Status::InvalidArgument(head->file->path() + ": 'lm_head.weight' differs from '" + kEmbedding +
                                   "', but config.json ties them (tie_word_embeddings true)");
  }
  return Status::OK();
}

}  // namespace

Result<LlmcModel> ReadHfLlama(const std::string& path) {
  const std::string config_path = HfConfigPath(path);
  MERIDIAN_ASSIGN_OR_RETURN(const std::string text, hf_config::ReadConfigText(config_path));
  LlmcModel model;
  MERIDIAN_ASSIGN_OR_RETURN(model.config, ParseHfLlamaConfig(text, config_path));
  const GPTConfig& c = model.config;
  const std::optional<uint64_t> count = checkpoint_io::CheckedParameterCount(c);
  if (!count) {
    return Status::InvalidArgument(config_path + ": describes an impossibly large model (" + DescribeConfig(c) + ")");
  }
  MERIDIAN_ASSIGN_OR_RETURN(const HfWeightSet set, HfWeightSet::Open(path));
  std::set<std::string> expected;
  MERIDIAN_RETURN_IF_ERROR(CheckTensors(set, c, &expected));
  MERIDIAN_RETURN_IF_ERROR(CheckNoStrayTensors(set, c, expected));

  // Zero-filled, so the padded rows of wte and lm_head (absent from the
  // files) are zero.
  model.params.assign(static_cast<size_t>(*count), 0.0f);
  float* params = model.params.data();
  MERIDIAN_RETURN_IF_ERROR(ForEachLlamaTensor(c, [&](const LlamaTensor& t) -> Status {
    const HfWeightEntry& entry = *set.Find(t.name);
    return entry.file->ReadFloat32(*entry.info, params + t.offset);
  }));
  MERIDIAN_RETURN_IF_ERROR(CheckTiedHead(set, c, params + ParameterLayout(c, WholeModel(c)).tensor(kWte).offset));
  return model;
}

Status WriteHfLlama(const std::string& dir, const GPTConfig& config, const float* params, uint64_t max_shard_bytes) {
  if (!config.llama()) {
    return Status::InvalidArgument(dir + ": the model is " + kModelArchs.Name(config.arch) +
                                   ", not llama; write it with WriteHfGpt2");
  }
  MERIDIAN_RETURN_IF_ERROR(PrepareHfExport(dir, config, params));

  // Every Hugging Face tensor is a contiguous range of `params`: no copies.
  std::vector<SafetensorsTensorView> views;
  MERIDIAN_RETURN_IF_ERROR(ForEachLlamaTensor(config, [&](const LlamaTensor& t) -> Status {
    views.push_back({t.name, t.shape, params + t.offset});
    return Status::OK();
  }));
  MERIDIAN_RETURN_IF_ERROR(WriteHfWeights(dir, views, max_shard_bytes));
  // config.json last: a directory with it is complete.
  const std::string text = FormatHfLlamaConfig(config);
  return checkpoint_io::WriteFileAtomically((fs::path(dir) / kHfConfigFile).string(), {{text.data(), text.size()}});
}

}  // namespace meridian
