#include "runtime/model/gpt_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/random.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/classifier.h"
#include "kernels/cpu/encoder.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/residual.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"
#include "runtime/model/activation_sizes.h"
#include "runtime/model/rope_frequencies.h"

namespace meridian {

namespace {

// The architecture's norm: LayerNorm with bias (GPT-2) or RMSNorm (Llama).
void NormForward(const GPTConfig& c, float* out, float* mean, float* rstd, const float* inp, const float* weight,
                 const float* bias, int N) {
  if (c.llama())
    cpu::RmsNormForward(out, rstd, inp, weight, N, c.n_embd, c.norm_eps);
  else
    cpu::LayerNormForward(out, mean, rstd, inp, weight, bias, N, c.n_embd);
}

void NormBackward(const GPTConfig& c, float* dinp, float* dweight, float* dbias, const float* dout,
                  const float* inp, const float* weight, const float* mean, const float* rstd, int N) {
  if (c.llama())
    cpu::RmsNormBackward(dinp, dweight, dout, inp, weight, rstd, N, c.n_embd);
  else
    cpu::LayerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, c.n_embd);
}

}  // namespace

GPTModel::GPTModel(const GPTConfig& config, const StageSpec& stage, int max_batch, int max_seq, int num_slots)
    : layout_(config, stage), max_batch_(max_batch), max_seq_(max_seq) {
  const size_t BT = (size_t)max_batch * max_seq, C = config.n_embd;
  params_.assign(layout_.total(), 0.0f);
  grads_.assign(layout_.total(), 0.0f);
  layer_stride_ = LayerActivationSizesFor(config, max_batch, max_seq).total();
  slots_.resize(num_slots);
  for (Slot& slot : slots_) {
    slot.encoded.assign(BT * C, 0.0f);
    slot.layer_acts.assign(layer_stride_ * stage.num_layers(), 0.0f);
    if (stage.last) {
      slot.lnf.assign(BT * C, 0.0f);
      slot.lnf_mean.assign(config.llama() ? 0 : BT, 0.0f);
      slot.lnf_rstd.assign(BT, 0.0f);
      slot.logits.assign(BT * config.padded_vocab_size, 0.0f);
      slot.losses.assign(BT, 0.0f);
    }
    if (stage.first) slot.tokens.assign(BT, 0);
  }
  scratch_btc_.assign(BT * C, 0.0f);
  dresidual_.assign(BT * C, 0.0f);
  dbtc_.assign(BT * C, 0.0f);
  dqkv_.assign(BT * config.qkv_size(), 0.0f);
  dfch_.assign(BT * config.fc_rows(), 0.0f);
  dfch_gelu_.assign(BT * config.ffn_size(), 0.0f);
  if (config.llama()) rope_ = MakeRopeTables(config, max_seq);
  datt_scratch_.assign((size_t)max_batch * config.n_head * max_seq * max_seq, 0.0f);
}

void GPTModel::InitializeWeights(unsigned long long seed) {
  const GPTConfig& c = config();
  const StageSpec& s = layout_.stage();
  const float std_base = 0.02f;
  const float std_resid = 0.02f / std::sqrt(2.0f * c.n_layer);
  // Each tensor draws from its own stream, keyed by tensor and global layer,
  // so a stage gets the same weights as the same layers of the whole model.
  auto normal_fill = [&](int index, float std_dev) {
    const ParamTensorInfo& t = layout_.tensor(index);
    if (t.count == 0) return;
    const size_t per_layer = layout_.LayerCount(index);
    const int chunks = per_layer ? s.num_layers() : 1;
    const size_t chunk_len = per_layer ? per_layer : t.count;
    for (int k = 0; k < chunks; ++k) {
      const int global_layer = per_layer ? s.layer_begin + k : 0;
      Rng stream(seed * 0x100000001B3ULL + (uint64_t)index * 1000003ULL + (uint64_t)global_layer);
      float* p = params_.data() + t.offset + k * chunk_len;
      for (size_t i = 0; i < chunk_len; ++i) p[i] = (float)(std_dev * stream.Normal());
    }
  };
  std::fill(params_.begin(), params_.end(), 0.0f);
  normal_fill(kWte, std_base);
  normal_fill(kWpe, std_base);
  normal_fill(kQkvw, std_base);
  normal_fill(kAttprojw, std_resid);
  normal_fill(kFcw, std_base);
  normal_fill(kFcprojw, std_resid);
  normal_fill(kLmHead, std_base);
  for (int index : {kLn1w, kLn2w, kLnfw}) {
    const ParamTensorInfo& t = layout_.tensor(index);
    std::fill_n(params_.data() + t.offset, t.count, 1.0f);
  }
  // Padded vocabulary rows never produce a logit that matters; keep them 0.
  for (int index : {kWte, kLmHead}) {
    const ParamTensorInfo& t = layout_.tensor(index);
    if (t.count == 0) continue;
    std::fill(params_.data() + t.offset + (size_t)c.vocab_size * c.n_embd, params_.data() + t.offset + t.count, 0.0f);
  }
}

GPTModel::LayerActs GPTModel::Acts(Slot& slot, int l) const {
  const LayerActivationSizes z = LayerActivationSizesFor(config(), max_batch_, max_seq_);
  float* p = slot.layer_acts.data() + layer_stride_ * l;
  LayerActs a;
  a.ln1 = p; p += z.ln1;
  a.ln1_mean = p; p += z.ln1_mean;
  a.ln1_rstd = p; p += z.ln1_rstd;
  a.qkv = p; p += z.qkv;
  a.atty = p; p += z.atty;
  a.att = p; p += z.att;
  a.residual2 = p; p += z.residual2;
  a.ln2 = p; p += z.ln2;
  a.ln2_mean = p; p += z.ln2_mean;
  a.ln2_rstd = p; p += z.ln2_rstd;
  a.fch = p; p += z.fch;
  a.fch_gelu = p; p += z.fch_gelu;
  a.residual3 = p;
  return a;
}

const float* GPTModel::LayerInput(const Slot& slot, int l) const {
  if (l == 0) return slot.encoded.data();
  return Acts(const_cast<Slot&>(slot), l - 1).residual3;
}

const float* GPTModel::output_acts(int slot) const { return LayerInput(slots_[slot], layout_.stage().num_layers()); }

const float* GPTModel::Tensor(int index, int local_layer) const {
  if (layout_.tensor(index).count == 0) return nullptr;  // absent: a bias or wpe of Llama
  const size_t offset = local_layer < 0 ? layout_.tensor(index).offset : layout_.LayerOffset(index, local_layer);
  return params_.data() + offset;
}

float* GPTModel::Grad(int index, int local_layer) {
  if (layout_.tensor(index).count == 0) return nullptr;
  const size_t offset = local_layer < 0 ? layout_.tensor(index).offset : layout_.LayerOffset(index, local_layer);
  return grads_.data() + offset;
}

void GPTModel::Forward(const int* tokens, const float* input_acts, const int* targets, int B, int T,
                       bool compute_grad, int slot_index) {
  const GPTConfig& c = config();
  const StageSpec& s = layout_.stage();
  const int C = c.n_embd, NH = c.n_head, KVH = c.kv_heads(), hs = c.head_size(), QKV = c.qkv_size(),
            F = c.ffn_size(), FR = c.fc_rows(), BT = B * T;
  Slot& slot = slots_[slot_index];
  slot.B = B;
  slot.T = T;
  auto W = [&](int index, int l) { return Tensor(index, l); };

  if (s.first) {
    std::copy(tokens, tokens + BT, slot.tokens.begin());
    cpu::EncoderForward(slot.encoded.data(), tokens, W(kWte, -1), W(kWpe, -1), B, T, C);
  } else {
    std::copy(input_acts, input_acts + (size_t)BT * C, slot.encoded.begin());
  }

  float* scratch = scratch_btc_.data();
  for (int l = 0; l < s.num_layers(); ++l) {
    LayerActs a = Acts(slot, l);
    const float* input = LayerInput(slot, l);
    NormForward(c, a.ln1, a.ln1_mean, a.ln1_rstd, input, W(kLn1w, l), W(kLn1b, l), BT);
    cpu::MatmulForward(a.qkv, a.ln1, W(kQkvw, l), W(kQkvb, l), BT, C, QKV);
    // Rotary positions turn q and k in place; attention and its backward
    // then see the rotated heads, as Hugging Face's Llama computes them.
    if (c.llama()) cpu::RopeForward(a.qkv, rope_.cos.data(), rope_.sin.data(), B, T, NH + KVH, hs, QKV);
    cpu::AttentionForward(a.atty, a.att, a.qkv, B, T, NH, KVH, hs);
    cpu::MatmulForward(scratch, a.atty, W(kAttprojw, l), W(kAttprojb, l), BT, C, C);
    cpu::ResidualForward(a.residual2, input, scratch, (size_t)BT * C);
    NormForward(c, a.ln2, a.ln2_mean, a.ln2_rstd, a.residual2, W(kLn2w, l), W(kLn2b, l), BT);
    cpu::MatmulForward(a.fch, a.ln2, W(kFcw, l), W(kFcb, l), BT, C, FR);
    if (c.llama())
      cpu::SwigluForward(a.fch_gelu, a.fch, BT, F);
    else
      cpu::GeluForward(a.fch_gelu, a.fch, (size_t)BT * F);
    cpu::MatmulForward(scratch, a.fch_gelu, W(kFcprojw, l), W(kFcprojb, l), BT, F, C);
    cpu::ResidualForward(a.residual3, a.residual2, scratch, (size_t)BT * C);
  }

  if (!s.last) return;
  const float* last = LayerInput(slot, s.num_layers());
  NormForward(c, slot.lnf.data(), slot.lnf_mean.data(), slot.lnf_rstd.data(), last, W(kLnfw, -1), W(kLnfb, -1), BT);
  cpu::MatmulForward(slot.logits.data(), slot.lnf.data(), HeadWeight(), nullptr, BT, C, c.padded_vocab_size);
  if (targets == nullptr) return;
  // Mean loss over the micro-batch; loss_scale_ folds in gradient
  // accumulation (and any other averaging) so dlogits arrive pre-scaled.
  const float dloss = loss_scale_ / BT;
  cpu::SoftmaxCrossEntropy(slot.logits.data(), slot.losses.data(), targets, BT, c.vocab_size, c.padded_vocab_size, dloss,
                           compute_grad);
  double sum = 0.0;
  for (int i = 0; i < BT; ++i) sum += slot.losses[i];
  slot.mean_loss = (float)(sum / BT);
}

void GPTModel::Backward(const float* doutput, int slot_index) {
  const GPTConfig& c = config();
  const StageSpec& s = layout_.stage();
  Slot& slot = slots_[slot_index];
  const int B = slot.B, T = slot.T, C = c.n_embd, NH = c.n_head, KVH = c.kv_heads(), hs = c.head_size(),
            QKV = c.qkv_size(), F = c.ffn_size(), FR = c.fc_rows(), BT = B * T;
  auto W = [&](int index, int l) { return Tensor(index, l); };
  auto D = [&](int index, int l) { return Grad(index, l); };
  float* dres = dresidual_.data();
  float* dbtc = dbtc_.data();

  if (s.last) {
    const float* last = LayerInput(slot, s.num_layers());
    // The slot's logits hold dlogits after a compute_grad Forward.
    cpu::MatmulBackward(dbtc, D(HeadIndex(), -1), nullptr, slot.logits.data(), slot.lnf.data(), HeadWeight(), BT, C,
                        c.padded_vocab_size, 0.0f);
    std::fill_n(dres, (size_t)BT * C, 0.0f);
    NormBackward(c, dres, D(kLnfw, -1), D(kLnfb, -1), dbtc, last, W(kLnfw, -1), slot.lnf_mean.data(),
                 slot.lnf_rstd.data(), BT);
  } else {
    std::copy(doutput, doutput + (size_t)BT * C, dres);
  }

  // dres is the gradient of the running residual stream; each sub-block adds
  // its input gradient onto it (the residual connections' backward).
  for (int l = s.num_layers() - 1; l >= 0; --l) {
    LayerActs a = Acts(slot, l);
    const float* input = LayerInput(slot, l);
    cpu::MatmulBackward(dfch_gelu_.data(), D(kFcprojw, l), D(kFcprojb, l), dres, a.fch_gelu, W(kFcprojw, l), BT, F,
                        C, 0.0f);
    if (c.llama())
      cpu::SwigluBackward(dfch_.data(), a.fch, dfch_gelu_.data(), BT, F);
    else
      cpu::GeluBackward(dfch_.data(), a.fch, dfch_gelu_.data(), (size_t)BT * F);
    cpu::MatmulBackward(dbtc, D(kFcw, l), D(kFcb, l), dfch_.data(), a.ln2, W(kFcw, l), BT, C, FR, 0.0f);
    NormBackward(c, dres, D(kLn2w, l), D(kLn2b, l), dbtc, a.residual2, W(kLn2w, l), a.ln2_mean, a.ln2_rstd, BT);
    cpu::MatmulBackward(dbtc, D(kAttprojw, l), D(kAttprojb, l), dres, a.atty, W(kAttprojw, l), BT, C, C, 0.0f);
    cpu::AttentionBackward(dqkv_.data(), datt_scratch_.data(), dbtc, a.qkv, a.att, B, T, NH, KVH, hs);
    // Back through the rotation: the gradient of q and k before it.
    if (c.llama()) cpu::RopeBackward(dqkv_.data(), rope_.cos.data(), rope_.sin.data(), B, T, NH + KVH, hs, QKV);
    cpu::MatmulBackward(dbtc, D(kQkvw, l), D(kQkvb, l), dqkv_.data(), a.ln1, W(kQkvw, l), BT, C, QKV, 0.0f);
    NormBackward(c, dres, D(kLn1w, l), D(kLn1b, l), dbtc, input, W(kLn1w, l), a.ln1_mean, a.ln1_rstd, BT);
    if (backward_hook_) backward_hook_(l);
  }

  if (s.first) cpu::EncoderBackward(D(kWte, -1), D(kWpe, -1), dres, slot.tokens.data(), B, T, C);
  if (backward_hook_) backward_hook_(-1);
}

void GPTModel::ZeroGrads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

size_t GPTModel::activation_bytes() const {
  size_t floats = scratch_btc_.size() + dresidual_.size() + dbtc_.size() + dqkv_.size() + dfch_.size() +
                  dfch_gelu_.size() + datt_scratch_.size() + rope_.cos.size() + rope_.sin.size();
  for (const Slot& slot : slots_) {
    floats += slot.encoded.size() + slot.layer_acts.size() + slot.lnf.size() + slot.lnf_mean.size() +
              slot.lnf_rstd.size() + slot.logits.size() + slot.losses.size();
  }
  return floats * sizeof(float);
}

}  // namespace meridian
