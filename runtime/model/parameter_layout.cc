#include "runtime/model/parameter_layout.h"

namespace meridian {

StageSpec WholeModel(const GPTConfig& config) {
  return StageSpec{0, config.n_layer, true, true};
}

ParameterLayout::ParameterLayout(const GPTConfig& config, const StageSpec& stage)
    : config_(config), stage_(stage) {
  const size_t C = config.n_embd, Vp = config.padded_vocab_size, maxT = config.max_seq_len;
  const size_t L = stage.num_layers();
  const bool has_wte = stage.first || stage.last;
  struct Spec {
    const char* name;
    size_t per_layer;             // 0: not per-layer
    std::vector<size_t> shape;    // of the whole tensor
    size_t count;
    bool decay;
  };
  const std::array<Spec, kNumParamTensors> specs = {{
      {"wte", 0, {Vp, C}, has_wte ? Vp * C : 0, true},
      {"wpe", 0, {maxT, C}, stage.first ? maxT * C : 0, true},
      {"ln1w", C, {L, C}, L * C, false},
      {"ln1b", C, {L, C}, L * C, false},
      {"qkvw", 3 * C * C, {L, 3 * C, C}, L * 3 * C * C, true},
      {"qkvb", 3 * C, {L, 3 * C}, L * 3 * C, false},
      {"attprojw", C * C, {L, C, C}, L * C * C, true},
      {"attprojb", C, {L, C}, L * C, false},
      {"ln2w", C, {L, C}, L * C, false},
      {"ln2b", C, {L, C}, L * C, false},
      {"fcw", 4 * C * C, {L, 4 * C, C}, L * 4 * C * C, true},
      {"fcb", 4 * C, {L, 4 * C}, L * 4 * C, false},
      {"fcprojw", 4 * C * C, {L, C, 4 * C}, L * 4 * C * C, true},
      {"fcprojb", C, {L, C}, L * C, false},
      {"lnfw", 0, {C}, stage.last ? C : 0, false},
      {"lnfb", 0, {C}, stage.last ? C : 0, false},
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
