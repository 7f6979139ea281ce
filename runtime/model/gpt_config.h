// Model configuration: the architecture (GPT-2 or Llama), its shapes, and the
// named presets of the design contract.
#pragma once

#include <cstddef>
#include <string>

#include "common/closed_set.h"
#include "common/status.h"

namespace meridian {

// GPT-2: learned positions, LayerNorm with biases, GELU MLP, multi-head
// attention, head tied to the token embedding.
// Llama: rotary positions, RMSNorm, SwiGLU MLP, grouped-query attention, no
// biases, head tied or not.
enum class ModelArch { kGpt2, kLlama };
inline constexpr ClosedSet<ModelArch, 2> kModelArchs{"arch", {{{ModelArch::kGpt2, "gpt2"}, {ModelArch::kLlama, "llama"}}}};

// Hugging Face's `rope_scaling` of type "llama3" (Llama 3.1 and later):
// long wavelengths are slowed by `factor`, short ones kept, the band
// between blended. `factor` 0 means no scaling.
struct RopeScaling {
  double factor = 0.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_max_position_embeddings = 8192;
  bool enabled() const { return factor != 0.0; }
  auto operator<=>(const RopeScaling&) const = default;
};

struct GPTConfig {
  ModelArch arch = ModelArch::kGpt2;
  int max_seq_len = 1024;        // maxT: rows of the position embedding (GPT-2), longest sequence (Llama)
  int vocab_size = 50257;        // V: the real vocabulary
  int padded_vocab_size = 50304; // Vp >= V: rows of the token embedding
  int n_layer = 12;              // L
  int n_head = 12;               // NH: query heads
  int n_embd = 768;              // C

  // Llama only (GPT-2 keeps the defaults: kv heads = NH, MLP 4C, tied head).
  int n_kv_head = 0;             // KVH: key/value heads (grouped-query attention); 0 means NH
  int ffn_hidden = 0;            // F: the MLP's hidden width; 0 means 4C
  double rope_theta = 500000.0;  // rotary base
  RopeScaling rope_scaling;
  float norm_eps = 1e-5f;        // RMSNorm epsilon (GPT-2's LayerNorm is fixed at 1e-5)
  bool tie_embeddings = true;    // LM head shares the token embedding

  // Derived widths in 64 bits: a config read from a file is sized before it
  // is validated, and its products must not overflow on the way.
  bool llama() const { return arch == ModelArch::kLlama; }
  int head_size() const { return n_embd / n_head; }
  int kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  long long ffn_size() const { return ffn_hidden > 0 ? ffn_hidden : 4LL * n_embd; }
  // Width of the fused q/k/v projection's output.
  long long qkv_size() const { return (n_head + 2LL * kv_heads()) * head_size(); }
  // Rows of the first MLP matrix: fc (GPT-2), gate and up stacked (Llama).
  long long fc_rows() const { return llama() ? 2 * ffn_size() : ffn_size(); }
  auto operator<=>(const GPTConfig&) const = default;
};

// Token ids travel as int32 in the model and as uint16 or uint32 in shards.
inline constexpr int kMaxVocabSize = 1 << 24;

// Rounds the vocabulary up to a multiple of 64 (llm.c pads 50257 to 50304,
// a multiple of 128; 64 keeps small byte-level vocabularies unpadded).
int PadVocab(int vocab_size);

// Checks every field; the message names the first bad one.
Status ValidateConfig(const GPTConfig& config);

// GPT-2: "d4" (tiny, for tests and the CPU demo), "d12" (124M), "d24"
// (350M), "d36" (774M), "d48" (1.5B), all with the GPT-2 vocabulary and
// maxT 1024. Llama: "llama-tiny" (tests and the demo, GPT-2's vocabulary so
// it trains on the same shards), "llama3.2-1b" and "llama3-8b" (the
// published shapes, for planning and Hugging Face checkpoints). Callers
// override vocab and sequence length as needed.
Result<GPTConfig> PresetConfig(const std::string& name);

// What a command line or job file changes on top of a preset; zero / empty
// fields keep the preset's value.
struct ModelOverrides {
  std::string arch;           // "gpt2" or "llama": turns the preset's shapes into that architecture
  int n_layer = 0, n_head = 0, n_embd = 0;
  int n_kv_head = 0, ffn_hidden = 0;  // Llama
  double rope_theta = 0.0;            // Llama
  std::string tie_embeddings;         // "true" / "false" (Llama); empty keeps the preset's
};

// The preset with the overrides applied, validated. A GPT-2 preset turned
// into Llama keeps its layers, heads and width, and sizes its MLP as Llama
// does (2/3 of 4C, rounded up to a multiple of 256).
Result<GPTConfig> ApplyModelOverrides(GPTConfig preset, const ModelOverrides& o);

// Every preset name, for help texts and errors.
const char* PresetChoices();

std::string DescribeConfig(const GPTConfig& config);

// True when a and b describe the same model (architecture, every shape and
// hyperparameter), so weights of one load into the other.
bool SameModel(const GPTConfig& a, const GPTConfig& b);

}  // namespace meridian
