#include "tests/kernels/llama_reference_kernels.h"

#include <cmath>

#include "tests/kernels/reference_kernels.h"

namespace meridian::ref {

void RmsNormForward(double* out, const double* inp, const double* weight, int N, int C, double eps) {
  for (int n = 0; n < N; ++n) {
    const double* x = inp + (size_t)n * C;
    double ms = 0.0;
    for (int c = 0; c < C; ++c) ms += x[c] * x[c];
    const double r = 1.0 / std::sqrt(ms / C + eps);
    for (int c = 0; c < C; ++c) out[(size_t)n * C + c] = x[c] * r * weight[c];
  }
}

// With r = (mean(x^2) + eps)^-1/2: dr/dx_j = -r^3 x_j / C, so
// dx_j = r w_j d_j - x_j r^3 / C * sum_c d_c w_c x_c.
void RmsNormBackward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                     int N, int C, double eps) {
  for (int n = 0; n < N; ++n) {
    const double* x = inp + (size_t)n * C;
    const double* d = dout + (size_t)n * C;
    double ms = 0.0;
    for (int c = 0; c < C; ++c) ms += x[c] * x[c];
    const double r = 1.0 / std::sqrt(ms / C + eps);
    double dot = 0.0;
    for (int c = 0; c < C; ++c) dot += d[c] * weight[c] * x[c];
    for (int c = 0; c < C; ++c) {
      dweight[c] += d[c] * x[c] * r;
      dinp[(size_t)n * C + c] += r * weight[c] * d[c] - x[c] * r * r * r / C * dot;
    }
  }
}

void RopeForward(double* x, const std::vector<double>& inv_freq, int B, int T, int heads, int hs, int row_stride) {
  const int half = hs / 2;
  std::vector<double> rotated(hs), cos_row(hs), sin_row(hs);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      for (int i = 0; i < hs; ++i) {  // emb = cat(freqs, freqs)
        const double angle = t * inv_freq[i % half];
        cos_row[i] = std::cos(angle);
        sin_row[i] = std::sin(angle);
      }
      for (int h = 0; h < heads; ++h) {
        double* v = x + ((size_t)b * T + t) * row_stride + (size_t)h * hs;
        for (int i = 0; i < hs; ++i) rotated[i] = i < half ? -v[i + half] : v[i - half];  // rotate_half
        for (int i = 0; i < hs; ++i) v[i] = v[i] * cos_row[i] + rotated[i] * sin_row[i];
      }
    }
}

namespace {

// qkv with NH heads each of q, k, v: key/value heads repeated.
std::vector<double> RepeatKv(const double* qkv, int B, int T, int NH, int KVH, int hs) {
  const int rep = NH / KVH, row = (NH + 2 * KVH) * hs, C = NH * hs;
  std::vector<double> out((size_t)B * T * 3 * C);
  for (size_t bt = 0; bt < (size_t)B * T; ++bt)
    for (int h = 0; h < NH; ++h)
      for (int i = 0; i < hs; ++i) {
        const double* src = qkv + bt * row;
        double* dst = out.data() + bt * 3 * C;
        dst[h * hs + i] = src[h * hs + i];
        dst[C + h * hs + i] = src[(NH + h / rep) * hs + i];
        dst[2 * C + h * hs + i] = src[(NH + KVH + h / rep) * hs + i];
      }
  return out;
}

}  // namespace

void GqaAttentionForward(double* out, const double* qkv, int B, int T, int NH, int KVH, int hs) {
  const std::vector<double> mha = RepeatKv(qkv, B, T, NH, KVH, hs);
  std::vector<double> att((size_t)B * NH * T * T);
  AttentionForward(out, att.data(), mha.data(), B, T, NH * hs, NH);
}

void GqaAttentionBackward(double* dqkv, const double* dout, const double* qkv, int B, int T, int NH, int KVH,
                          int hs) {
  const int rep = NH / KVH, row = (NH + 2 * KVH) * hs, C = NH * hs;
  const std::vector<double> mha = RepeatKv(qkv, B, T, NH, KVH, hs);
  std::vector<double> dmha(mha.size());
  AttentionBackward(dmha.data(), dout, mha.data(), B, T, C, NH);
  for (size_t i = 0; i < (size_t)B * T * row; ++i) dqkv[i] = 0.0;
  for (size_t bt = 0; bt < (size_t)B * T; ++bt)
    for (int h = 0; h < NH; ++h)
      for (int i = 0; i < hs; ++i) {
        const double* src = dmha.data() + bt * 3 * C;
        double* dst = dqkv + bt * row;
        dst[h * hs + i] = src[h * hs + i];
        dst[(NH + h / rep) * hs + i] += src[C + h * hs + i];
        dst[(NH + KVH + h / rep) * hs + i] += src[2 * C + h * hs + i];
      }
}

void SwigluForward(double* out, const double* gate_up, int N, int F) {
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < F; ++i) {
      const double g = gate_up[(size_t)n * 2 * F + i], u = gate_up[(size_t)n * 2 * F + F + i];
      out[(size_t)n * F + i] = g / (1.0 + std::exp(-g)) * u;
    }
}

void SwigluBackward(double* dgate_up, const double* gate_up, const double* dout, int N, int F) {
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < F; ++i) {
      const double g = gate_up[(size_t)n * 2 * F + i], u = gate_up[(size_t)n * 2 * F + F + i];
      const double d = dout[(size_t)n * F + i];
      const double sig = 1.0 / (1.0 + std::exp(-g));
      // d/dg [g sig(g)] = sig + g sig (1 - sig)
      dgate_up[(size_t)n * 2 * F + i] = d * u * (sig + g * sig * (1.0 - sig));
      dgate_up[(size_t)n * 2 * F + F + i] = d * g * sig;
    }
}

}  // namespace meridian::ref
