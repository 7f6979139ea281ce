#include "runtime/model/activation_sizes.h"

namespace meridian {

namespace {

size_t AttentionFloats(const GPTConfig& c, int B, int T, bool keeps_scores) {
  return (size_t)B * c.n_head * T * (keeps_scores ? T : 1);
}

}  // namespace

LayerActivationSizes LayerActivationSizesFor(const GPTConfig& c, int B, int T, bool keeps_scores) {
  const size_t BT = (size_t)B * T, C = c.n_embd, mean = c.llama() ? 0 : BT;
  return LayerActivationSizes{BT * C, mean, BT,      BT * c.qkv_size(),  BT * C, AttentionFloats(c, B, T, keeps_scores),
                              BT * C, BT * C, mean, BT, BT * c.fc_rows(), BT * c.ffn_size(), BT * C};
}

size_t BackwardWorkspaceFloats(const GPTConfig& c, int B, int T, bool keeps_scores) {
  const size_t BT = (size_t)B * T;
  return BT * (3 * (size_t)c.n_embd + c.qkv_size() + c.fc_rows() + c.ffn_size()) + AttentionFloats(c, B, T, keeps_scores);
}

}  // namespace meridian
