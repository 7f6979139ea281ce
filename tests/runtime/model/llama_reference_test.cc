// The Llama model against a double-precision forward written from Hugging
// Face's LlamaForCausalLM (modeling_llama.py): embed, then per layer
// RMSNorm -> q/k/v projections -> rotary embedding (rotate_half, llama3
// frequency scaling) -> repeat_kv -> causal softmax attention -> o_proj ->
// residual, RMSNorm -> down(silu(gate) * up) -> residual; final RMSNorm and
// the head. It reads the flat parameter buffer through the documented layout
// (q, k, v stacked in qkvw; gate, up stacked in fcw), so it also pins that
// layout down for the Hugging Face import.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "common/random.h"
#include "runtime/model/gpt_model.h"

namespace meridian {
namespace {

using Mat = std::vector<double>;  // row-major

// y (N,OUT) = x (N,IN) W^T with W (OUT,IN) read from float params.
Mat Linear(const Mat& x, const float* W, int N, int IN, int OUT) {
  Mat y((size_t)N * OUT, 0.0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OUT; ++o) {
      double acc = 0.0;
      for (int i = 0; i < IN; ++i) acc += x[(size_t)n * IN + i] * W[(size_t)o * IN + i];
      y[(size_t)n * OUT + o] = acc;
    }
  return y;
}

Mat RmsNorm(const Mat& x, const float* w, int N, int C, double eps) {
  Mat y(x.size());
  for (int n = 0; n < N; ++n) {
    double ms = 0.0;
    for (int c = 0; c < C; ++c) ms += x[(size_t)n * C + c] * x[(size_t)n * C + c];
    const double r = 1.0 / std::sqrt(ms / C + eps);
    for (int c = 0; c < C; ++c) y[(size_t)n * C + c] = w[c] * (x[(size_t)n * C + c] * r);
  }
  return y;
}

// _compute_llama3_parameters, written as Hugging Face writes it.
std::vector<double> InvFreq(const GPTConfig& c) {
  const int dim = c.head_size();
  std::vector<double> inv;
  for (int i = 0; i < dim; i += 2) inv.push_back(1.0 / std::pow(c.rope_theta, (double)i / dim));
  if (!c.rope_scaling.enabled()) return inv;
  const RopeScaling& r = c.rope_scaling;
  const double old_len = r.original_max_position_embeddings;
  const double low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2 * std::numbers::pi / f;
    const double llama = wavelen > low_wavelen ? f / r.factor : f;
    const double smooth = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    const double smoothed = (1 - smooth) * llama / r.factor + smooth * llama;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    f = medium ? smoothed : llama;
  }
  return inv;
}

// logits (B*T, V) of the whole model.
Mat ReferenceLogits(const GPTModel& m, const std::vector<int>& tokens, int B, int T) {
  const GPTConfig& c = m.config();
  const ParameterLayout& L = m.layout();
  const float* P = m.params();
  const int C = c.n_embd, NH = c.n_head, KVH = c.kv_heads(), hs = c.head_size(), F = c.ffn_size(), V = c.vocab_size;
  const int rep = NH / KVH, N = B * T;
  const std::vector<double> inv = InvFreq(c);
  Mat h((size_t)N * C);
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < C; ++i) h[(size_t)n * C + i] = P[L.tensor(kWte).offset + (size_t)tokens[n] * C + i];
  for (int l = 0; l < c.n_layer; ++l) {
    const float* qkvw = P + L.LayerOffset(kQkvw, l);
    const Mat x = RmsNorm(h, P + L.LayerOffset(kLn1w, l), N, C, c.norm_eps);
    Mat q = Linear(x, qkvw, N, C, NH * hs);                                      // q_proj
    Mat k = Linear(x, qkvw + (size_t)NH * hs * C, N, C, KVH * hs);                // k_proj
    const Mat v = Linear(x, qkvw + (size_t)(NH + KVH) * hs * C, N, C, KVH * hs);  // v_proj
    auto rope = [&](Mat& t, int heads) {
      for (int n = 0; n < N; ++n) {
        const int pos = n % T;
        for (int hh = 0; hh < heads; ++hh) {
          double* x0 = &t[((size_t)n * heads + hh) * hs];
          std::vector<double> out(hs);
          for (int i = 0; i < hs; ++i) {
            const double angle = pos * inv[i % (hs / 2)];
            const double rot = i < hs / 2 ? -x0[i + hs / 2] : x0[i - hs / 2];
            out[i] = x0[i] * std::cos(angle) + rot * std::sin(angle);
          }
          std::copy(out.begin(), out.end(), x0);
        }
      }
    };
    rope(q, NH);
    rope(k, KVH);
    Mat attn((size_t)N * C, 0.0);
    for (int b = 0; b < B; ++b)
      for (int hh = 0; hh < NH; ++hh) {
        const int g = hh / rep;
        for (int t = 0; t < T; ++t) {
          std::vector<double> score(t + 1);
          double maxv = -1e300, sum = 0.0;
          for (int j = 0; j <= t; ++j) {
            double dot = 0.0;
            for (int i = 0; i < hs; ++i)
              dot += q[((size_t)(b * T + t) * NH + hh) * hs + i] * k[((size_t)(b * T + j) * KVH + g) * hs + i];
            score[j] = dot / std::sqrt((double)hs);
            maxv = std::max(maxv, score[j]);
          }
          for (double& s : score) sum += (s = std::exp(s - maxv));
          for (int j = 0; j <= t; ++j)
            for (int i = 0; i < hs; ++i)
              attn[(size_t)(b * T + t) * C + hh * hs + i] +=
                  score[j] / sum * v[((size_t)(b * T + j) * KVH + g) * hs + i];
        }
      }
    const Mat o = Linear(attn, P + L.LayerOffset(kAttprojw, l), N, C, C);
    for (size_t i = 0; i < h.size(); ++i) h[i] += o[i];
    const Mat x2 = RmsNorm(h, P + L.LayerOffset(kLn2w, l), N, C, c.norm_eps);
    const float* fcw = P + L.LayerOffset(kFcw, l);
    const Mat gate = Linear(x2, fcw, N, C, F), up = Linear(x2, fcw + (size_t)F * C, N, C, F);
    Mat act((size_t)N * F);
    for (size_t i = 0; i < act.size(); ++i) act[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
    const Mat down = Linear(act, P + L.LayerOffset(kFcprojw, l), N, F, C);
    for (size_t i = 0; i < h.size(); ++i) h[i] += down[i];
  }
  const Mat hn = RmsNorm(h, P + L.tensor(kLnfw).offset, N, C, c.norm_eps);
  const int head = c.tie_embeddings ? kWte : kLmHead;
  return Linear(hn, P + L.tensor(head).offset, N, C, V);
}

class LlamaReference : public testing::TestWithParam<bool> {};

TEST_P(LlamaReference, LogitsAndLossMatchTheHuggingFaceDefinition) {
  GPTConfig c;
  c.arch = ModelArch::kLlama;
  c.vocab_size = 53;
  c.padded_vocab_size = 64;
  c.max_seq_len = 32;
  c.n_layer = 2;
  c.n_head = 6;
  c.n_kv_head = 2;
  c.n_embd = 24;
  c.ffn_hidden = 40;
  c.rope_theta = 50.0;  // fast-turning angles over a short sequence
  c.rope_scaling = RopeScaling{8.0, 1.0, 4.0, 16};
  c.norm_eps = 1e-6f;
  c.tie_embeddings = GetParam();
  ASSERT_TRUE(ValidateConfig(c).ok());
  const int B = 2, T = 11;
  GPTModel m(c, WholeModel(c), B, T);
  m.InitializeWeights(77);
  // Norm weights away from 1 and larger weights, so every term matters.
  Rng rng(5);
  for (size_t i = 0; i < m.num_params(); ++i) m.params()[i] += (float)(0.1 * rng.Normal());
  std::vector<int> tokens, targets;
  for (int i = 0; i < B * T; ++i) {
    tokens.push_back((int)(rng.NextU64() % c.vocab_size));
    targets.push_back((int)(rng.NextU64() % c.vocab_size));
  }
  const Mat want = ReferenceLogits(m, tokens, B, T);
  m.Forward(tokens.data(), nullptr, nullptr, B, T, false);
  double max_err = 0.0, max_want = 0.0, want_loss = 0.0;
  for (int n = 0; n < B * T; ++n) {
    double maxv = -1e300, sum = 0.0;
    for (int v = 0; v < c.vocab_size; ++v) {
      const double w = want[(size_t)n * c.vocab_size + v];
      max_err = std::max(max_err, std::fabs(m.logits()[(size_t)n * c.padded_vocab_size + v] - w));
      max_want = std::max(max_want, std::fabs(w));
      maxv = std::max(maxv, w);
    }
    for (int v = 0; v < c.vocab_size; ++v) sum += std::exp(want[(size_t)n * c.vocab_size + v] - maxv);
    want_loss += (std::log(sum) + maxv - want[(size_t)n * c.vocab_size + targets[n]]) / (B * T);
  }
  EXPECT_LT(max_err, 1e-5 * max_want) << "max |logit error| " << max_err << " of " << max_want;
  m.Forward(tokens.data(), nullptr, targets.data(), B, T, false);
  EXPECT_NEAR(m.mean_loss(), want_loss, 1e-5 * want_loss);
}

INSTANTIATE_TEST_SUITE_P(Head, LlamaReference, testing::Values(true, false),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "tied" : "untied"; });

TEST(RopeFrequencies, Llama3ScalingKeepsShortWavelengthsAndSlowsLongOnes) {
  GPTConfig c = *PresetConfig("llama3.2-1b");
  const std::vector<double> inv = RopeInverseFrequencies(c);
  ASSERT_EQ(inv.size(), 32u);
  auto plain = [&](int i) { return 1.0 / std::pow(500000.0, 2.0 * i / 64); };
  EXPECT_DOUBLE_EQ(inv[0], 1.0);                 // wavelength 2 pi: kept
  EXPECT_NEAR(inv[31], plain(31) / 32.0, 1e-18);  // wavelength ~2e6 > 8192: slowed by the factor
  // i = 16: wavelength ~5.2e3, between 8192/4 and 8192: blended.
  EXPECT_GT(inv[16], plain(16) / 32.0);
  EXPECT_LT(inv[16], plain(16));
  EXPECT_EQ(InvFreq(c), inv);
}

}  // namespace
}  // namespace meridian
