#include "runtime/model/parameter_layout.h"

namespace meridian {

StageSpec WholeModel(const GPTConfig& config) {
  return StageSpec{0, config.n_layer, true, true};
}

ParameterLayout::ParameterLayout(const GPTConfig& config, const StageSpec& stage)
    : config_(config), stage_(stage) {
  const size_t C = config.n_embd, Vp = config.padded_vocab_size, maxT = config.max_seq_len;
  const size_t L = stage.num_layers(), QKV = config.qkv_size(), F = config.ffn_size(), FR = config.fc_rows();
  const bool tied = config.tie_embeddings;
  const bool has_wte = stage.first || (stage.last && tied);
  // Llama has no learned positions and no biases.
  const size_t bias = config.llama() ? 0 : 1;
  const bool wpe = stage.first && !config.llama();
  struct Spec {
    const char* name;
    size_t per_layer;             // 0: not per-layer
    std::vector<size_t> shape;    // of the whole tensor
    size_t count;
    bool decay;
  };
  const std::array<Spec, kNumParamTensors> specs = {{
      {"wte", 0, {Vp, C}, has_wte ? Vp * C : 0, true},
      {"wpe", 0, {maxT, C}, wpe ? maxT * C : 0, true},
      {"ln1w", C, {L, C}, L * C, false},
      {"ln1b", C * bias, {L, C}, L * C * bias, false},
      {"qkvw", QKV * C, {L, QKV, C}, L * QKV * C, true},
      {"qkvb", QKV * bias, {L, QKV}, L * QKV * bias, false},
      {"attprojw", C * C, {L, C, C}, L * C * C, true},
      {"attprojb", C * bias, {L, C}, L * C * bias, false},
      {"ln2w", C, {L, C}, L * C, false},
      {"ln2b", C * bias, {L, C}, L * C * bias, false},
      {"fcw", FR * C, {L, FR, C}, L * FR * C, true},
      {"fcb", FR * bias, {L, FR}, L * FR * bias, false},
      {"fcprojw", F * C, {L, C, F}, L * F * C, true},
      {"fcprojb", C * bias, {L, C}, L * C * bias, false},
      {"lnfw", 0, {C}, stage.last ? C : 0, false},
      {"lnfb", 0, {C}, stage.last ? C * bias : 0, false},
      {"lm_head", 0, {Vp, C}, stage.last && !tied ? Vp * C : 0, true},
  }};
  size_t offset = 0;
  for (int i = 0; i < kNumParamTensors; ++i) {
    tensors_[i].name = specs[i].name;
    tensors_[i].offset = offset;
    tensors_[i].count = specs[i].count;
    tensors_[i].shape = specs[i].shape;
    tensors_[i].weight_decay = specs[i].decay;
    per_layer_[i] = specs[i].per_layer;
    offset += specs[i].count;
  }
  total_ = offset;
}

size_t ParameterLayout::LayerOffset(int index, int local_layer) const {
  return tensors_[index].offset + per_layer_[index] * static_cast<size_t>(local_layer);
}

size_t ParameterLayout::LayerCount(int index) const { return per_layer_[index]; }

size_t NumParameters(const GPTConfig& config) {
  return ParameterLayout(config, WholeModel(config)).total();
}

}  // namespace meridian
